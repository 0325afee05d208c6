/**
 * Every committed wasm guest is what its source builds to with the one table in
 * scripts/build-guests.ts: the table accounts for every .wasm in the repository, and
 * when the local clang, wasi-libc and wabt are the ones recorded in
 * tests/fixtures/toolchain.txt, a rebuild into a temp dir matches byte for byte.
 * Another toolchain may emit different (equally valid) bytes, so then the rebuild is
 * skipped with one printed line; the table check always runs.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildGuests, committedToolchain, guestBuilds, localToolchain, TOOLCHAIN_FILE } from "../scripts/build-guests.ts";
import { ROOT, tempDir } from "./helpers/cli.ts";

const builds = guestBuilds();
const committed = ["src", "tests", "examples"].flatMap((d) => [...new Bun.Glob("**/*.wasm").scanSync({ cwd: join(ROOT, d) })].map((f) => `${d}/${f}`)).sort();

test("every committed .wasm is built by exactly one row of the table, and every output is committed", () => {
  const outs = builds.map((b) => b.out);
  expect(outs.filter((o, i) => outs.indexOf(o) !== i)).toEqual([]);
  expect(committed).toEqual([...outs].sort());
});

const local = localToolchain();
const recorded = committedToolchain();
const why = !local
  ? "clang or wat2wasm is not installed (scripts/setup.sh installs them)"
  : local !== recorded
    ? `the local toolchain differs from ${TOOLCHAIN_FILE}: ${local.replace(/\n/g, "; ")}`
    : null;

if (why) {
  console.log(`guests-fresh: skipping the rebuild: ${why}`);
  test.skip(`rebuilt guests match the committed .wasm (skipped: ${why})`, () => {});
} else {
  const out = tempDir("fledge-guests-");
  afterAll(() => out.cleanup());
  test("rebuilt guests match the committed .wasm byte for byte", async () => {
    expect(await buildGuests(out.path, builds)).toEqual([]);
    const stale = builds.filter((b) => !readFileSync(join(ROOT, b.out)).equals(readFileSync(join(out.path, b.out)))).map((b) => b.out);
    expect(stale, "run `bun run scripts/build-guests.ts` and commit the result").toEqual([]);
  }, 300_000);
}
