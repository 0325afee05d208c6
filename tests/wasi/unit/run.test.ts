import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { wasiClangCommand } from "../../../src/core/guest-toolchain.ts";
import { EXIT, FledgeError } from "../../../src/ui/index.ts";
import { processExitCode, runCommand } from "../../../src/wasi/index.ts";
import { runFledge, tempDir } from "../../helpers/cli.ts";

const haveWat = Bun.which("wat2wasm") !== null;
const haveClang = Bun.which("clang") !== null;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir("fledge-wasi-run-");
});
afterAll(() => tmp.cleanup());

function wat(src: string): WebAssembly.Module {
  const w = join(tmp.path, `m${Math.random().toString(36).slice(2)}.wat`);
  writeFileSync(w, src);
  const out = `${w}.wasm`;
  const r = Bun.spawnSync(["wat2wasm", w, "-o", out]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return new WebAssembly.Module(readFileSync(out));
}

const EXIT_WAT = (body: string, extra = "") => `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  ${extra}
  (memory (export "memory") 1)
  (func (export "_start") ${body}))`;

async function outcome(p: Promise<{ exitCode: number }>): Promise<number | FledgeError> {
  try {
    return (await p).exitCode;
  } catch (e) {
    if (e instanceof FledgeError) return e;
    throw e;
  }
}

describe.skipIf(!haveWat)("runCommand", () => {
  const opts = { args: ["m"], env: [] as [string, string][], preopens: [] };
  test("proc_exit(n) gives n; returning from _start gives 0", async () => {
    expect(await outcome(runCommand(wat(EXIT_WAT("(call $exit (i32.const 42))")), opts))).toBe(42);
    expect(await outcome(runCommand(wat(EXIT_WAT("")), opts))).toBe(0);
  });
  test("proc_exit from deep in the call stack", async () => {
    const m = wat(`(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func $deep (param i32) (if (i32.eqz (local.get 0)) (then (call $exit (i32.const 5)))) (call $deep (i32.sub (local.get 0) (i32.const 1))))
      (func (export "_start") (call $deep (i32.const 1000))))`);
    expect(await outcome(runCommand(m, opts))).toBe(5);
  });
  test("a trap is a FledgeError with the trap exit code", async () => {
    const r = await outcome(runCommand(wat(EXIT_WAT("unreachable")), opts));
    expect(r).toBeInstanceOf(FledgeError);
    expect((r as FledgeError).exitCode).toBe(EXIT.trap);
    expect((r as FledgeError).message).toContain("trap");
  });
  test("stack overflow is a trap, not a crash", async () => {
    const m = wat(`(module (memory (export "memory") 1) (func $f (call $f)) (func (export "_start") (call $f)))`);
    const r = await outcome(runCommand(m, opts));
    expect((r as FledgeError).exitCode).toBe(EXIT.trap);
  });
  test("missing _start or memory export: a clear error", async () => {
    const noStart = await outcome(runCommand(wat(`(module (memory (export "memory") 1))`), opts));
    expect((noStart as FledgeError).message).toContain("_start");
    const noMem = await outcome(runCommand(wat(`(module (memory 1) (func (export "_start")))`), opts));
    expect((noMem as FledgeError).message).toContain("memory");
  });
  test("unknown imports fail to link with a clear error", async () => {
    const m = wat(`(module (import "wasi_snapshot_preview1" "no_such_fn" (func)) (memory (export "memory") 1) (func (export "_start")))`);
    const r = await outcome(runCommand(m, opts));
    expect((r as FledgeError).message).toContain("link");
  });
  test("extra import modules are linked (the metering hook)", async () => {
    let called = 0;
    const m = wat(EXIT_WAT("(call $hook)", `(import "fledge_meter" "hook" (func $hook))`));
    expect(await outcome(runCommand(m, opts, { fledge_meter: { hook: () => void called++ } }))).toBe(0);
    expect(called).toBe(1);
  });
  test("processExitCode truncates like POSIX but never turns failure into success", () => {
    expect([0, 1, 42, 255, 256, 257, -1].map(processExitCode)).toEqual([0, 1, 42, 255, 1, 1, 255]);
  });
});

describe.skipIf(!haveClang)("fledge wasm run (smoke)", () => {
  test("a C program doing file I/O in a --dir preopen, with args, env and exit code", () => {
    const src = join(tmp.path, "hello.c");
    writeFileSync(
      src,
      `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  printf("argv0=%s argc=%d last=%s env=%s\\n", argv[0], argc, argv[argc-1], getenv("GREETING"));
  FILE *f = fopen("/data/out.txt", "w"); if (!f) { perror("open"); return 3; }
  fputs("from guest", f); fclose(f);
  char buf[64] = {0}; f = fopen("/data/out.txt", "r"); fgets(buf, sizeof buf, f); fclose(f);
  printf("read=%s\\n", buf);
  printf("home=%s passwd=%s\\n", getenv("HOME") ? "LEAK" : "none", fopen("/etc/passwd", "r") ? "LEAK" : "blocked");
  FILE *ro = fopen("/ro/x", "w"); printf("ro=%s\\n", ro ? "WROTE" : "refused");
  return 9;
}`,
    );
    const wasm = join(tmp.path, "hello.wasm");
    const cc = Bun.spawnSync(wasiClangCommand(wasm, [src]));
    expect(cc.exitCode).toBe(0);
    const data = join(tmp.path, "data");
    const ro = join(tmp.path, "rodir");
    mkdirSync(data);
    mkdirSync(ro);
    const r = runFledge(["wasm", "run", "--dir", data, "--dir", `${ro}::/ro:ro`, "--env", "GREETING=hi", wasm, "--", "--flag", "two words"]);
    expect(r.stdout).toBe("argv0=hello.wasm argc=3 last=two words env=hi\nread=from guest\nhome=none passwd=blocked\nro=refused\n");
    expect(r.code).toBe(9);
    expect(readFileSync(join(data, "out.txt"), "utf8")).toBe("from guest");
  });
  test("clear errors: missing file, not wasm, bad --dir, bad --env", () => {
    expect(runFledge(["wasm", "run", join(tmp.path, "nope.wasm")]).code).toBe(1);
    writeFileSync(join(tmp.path, "x.wasm"), "not wasm");
    const notWasm = runFledge(["wasm", "run", join(tmp.path, "x.wasm")]);
    expect(notWasm.code).toBe(1);
    expect(notWasm.stderr).toContain("not a WebAssembly module");
    const badDir = runFledge(["wasm", "run", "--dir", join(tmp.path, "missing"), join(tmp.path, "x.wasm")]);
    expect(badDir.code).toBe(1);
    expect(badDir.stderr).toContain("bad --dir");
    const badEnv = runFledge(["wasm", "run", "--env", "NOEQUALS", join(tmp.path, "x.wasm")]);
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toContain("bad --env");
  });
});
