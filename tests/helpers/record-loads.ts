/**
 * Preload (`bun --preload tests/helpers/record-loads.ts src/main.ts ...`): when the
 * process exits, writes every module it loaded (Bun lists ES modules in require.cache
 * too), one path a line, to the file named by FLEDGE_TEST_RECORD_LOADS. Tests use it
 * to check that a command loads only what it needs.
 */
import { writeFileSync } from "node:fs";

const out = process.env.FLEDGE_TEST_RECORD_LOADS;
if (out) process.on("exit", () => writeFileSync(out, `${Object.keys(require.cache).join("\n")}\n`));
