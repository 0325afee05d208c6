/**
 * Preloaded before every test file (bunfig.toml), whether run by `npm test`
 * (scripts/test.ts, shards side by side) or by `bun test <file>`: the default per-test
 * time limit is 60 s instead of Bun's 5 s. A test that spawns fledge, builds a guest or
 * waits on a deadline can take several seconds when other shards load the machine; a
 * test that sets its own limit keeps it.
 */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
