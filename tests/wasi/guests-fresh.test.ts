/**
 * The committed guest modules in tests/fixtures/wasi are exactly what their sources
 * build to: scripts/build-guests.sh rebuilds them into a temp dir and every .wasm
 * must match byte for byte. Without clang (wasm32-wasi + wasi-libc) or wat2wasm the
 * rebuild is skipped with a printed reason; the pairing check always runs.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { GUESTS } from "../fixtures/wasi/support.ts";

const SCRIPT = join(ROOT, "scripts", "build-guests.sh");
const sources = readdirSync(GUESTS).filter((f) => f.endsWith(".c") || f.endsWith(".wat"));
const modules = readdirSync(GUESTS).filter((f) => f.endsWith(".wasm"));
const stem = (f: string) => f.replace(/\.(c|wat|wasm)$/, "");

function toolchainMissing(): string | null {
  const clang = Bun.spawnSync(["sh", "-c", "printf 'int main(void){return 0;}' | clang --target=wasm32-wasi --sysroot=/usr -x c -o /dev/null -"], {
    stdout: "ignore",
    stderr: "ignore",
  });
  if (clang.exitCode !== 0) return "clang with the wasm32-wasi target and wasi-libc sysroot is not available";
  const wat = Bun.spawnSync(["sh", "-c", "command -v wat2wasm"], { stdout: "ignore", stderr: "ignore" });
  if (wat.exitCode !== 0) return "wat2wasm (wabt) is not installed";
  // Another compiler or libc version may emit different (equally valid) bytes.
  const local = Bun.spawnSync(["bash", SCRIPT, "--print-toolchain"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
  const committed = readFileSync(join(GUESTS, "toolchain.txt"), "utf8");
  if (local !== committed) return `the local toolchain differs from the one in tests/fixtures/wasi/toolchain.txt:\n${local}`;
  return null;
}

const missing = toolchainMissing();
const out = tempDir("fledge-guests-");
afterAll(() => out.cleanup());

test("every guest source has its built module committed beside it, and no module lacks a source", () => {
  expect(modules.map(stem).sort()).toEqual(sources.map(stem).sort());
});

if (missing) {
  console.log(`guests-fresh: skipping the rebuild check: ${missing}`);
  test.skip(`rebuilt guests match the committed .wasm (skipped: ${missing})`, () => {});
} else {
  test("rebuilt guests match the committed .wasm byte for byte", () => {
    const r = Bun.spawnSync(["bash", SCRIPT, out.path], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const stale: string[] = [];
    for (const m of modules) {
      const committed = readFileSync(join(GUESTS, m));
      const rebuilt = readFileSync(join(out.path, m));
      if (!committed.equals(rebuilt)) stale.push(m);
    }
    expect(stale, "run scripts/build-guests.sh and commit the result").toEqual([]);
  }, 120_000);
}
