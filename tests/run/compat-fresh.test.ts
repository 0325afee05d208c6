/**
 * The committed compatibility guests in tests/fixtures/compat are exactly what their
 * C sources build to: scripts/build-compat.sh rebuilds them into a temp dir and every
 * .wasm must match byte for byte. Without clang (wasm32-wasi + wasi-libc) the rebuild
 * is skipped with a printed reason; the pairing check always runs.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { COMPAT } from "./helpers.ts";

const SCRIPT = join(ROOT, "scripts", "build-compat.sh");
const stem = (f: string): string => f.replace(/\.(c|wasm)$/, "");
const sources = readdirSync(COMPAT).filter((f) => f.endsWith(".c"));
const modules = readdirSync(COMPAT).filter((f) => f.endsWith(".wasm"));

function toolchainMissing(): string | null {
  const clang = Bun.spawnSync(["sh", "-c", "printf 'int main(void){return 0;}' | clang --target=wasm32-wasi --sysroot=/usr -x c -o /dev/null -"], {
    stdout: "ignore",
    stderr: "ignore",
  });
  return clang.exitCode === 0 ? null : "clang with the wasm32-wasi target and wasi-libc sysroot is not available";
}

const missing = toolchainMissing();
const out = tempDir("fledge-compat-");
afterAll(() => out.cleanup());

test("every compat guest source has its module committed beside it, and no module lacks a source", () => {
  expect(modules.map(stem).sort()).toEqual(sources.map(stem).sort());
});

test("the guests import the fledge module the way published plugins do", () => {
  for (const m of modules) {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(join(COMPAT, m))));
    const fledge = imports.filter((i) => i.module === "fledge").map((i) => i.name);
    expect(fledge, m).toEqual(expect.arrayContaining(["send", "recv", "exit"]));
  }
});

if (missing) {
  console.log(`compat-fresh: skipping the rebuild check: ${missing}`);
  test.skip(`rebuilt compat guests match the committed .wasm (skipped: ${missing})`, () => {});
} else {
  test("rebuilt compat guests match the committed .wasm byte for byte", () => {
    const r = Bun.spawnSync(["bash", SCRIPT, out.path], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const stale = modules.filter((m) => !readFileSync(join(COMPAT, m)).equals(readFileSync(join(out.path, m))));
    expect(stale, "run scripts/build-compat.sh and commit the result").toEqual([]);
  }, 120_000);
}
