/**
 * Preloaded by `bun test` (bunfig.toml): `bun test <file>` gives each test 60 s by
 * default instead of Bun's 5 s, as `npm test` does (scripts/test.ts passes --timeout,
 * because a preloaded default holds for the first file of a process only). A test that
 * spawns fledge, builds a guest or waits on a deadline can take several seconds when
 * the machine is loaded; a test that sets its own limit keeps it.
 */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
