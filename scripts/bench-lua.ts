/**
 * The Lua workload of the metering bench (scripts/bench-metering.ts): the Lua 5.3
 * interpreter, built for wasm32-wasi here from the C sources the npm package
 * `lua-src@5.3.5` publishes (no Lua built for WASI is published on npm). A Lua 5.x main
 * loop is the case where a meter that charges by static block size overcharges most, so
 * the bench keeps a real one.
 *
 * Two modules come out of one compile: `lua.wasm`, the stock `lua` command (for the row
 * that runs it through fledge's CLI under the default limits), and `lua-bench.wasm`, a
 * reactor whose exports keep one Lua state and run the script's `work(n)`, so the bench
 * times the interpreter's work and not instantiation or `luaL_openlibs`.
 *
 * Both are cached in the bench cache under a folder named by a hash of the recipe, so a
 * changed recipe builds afresh. Needs `npm` (the registry) and clang with wasi-libc and
 * lld (scripts/setup.sh installs them; FLEDGE_BENCH_CLANG names another clang). Without
 * them the row is skipped with a one-line note.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WASI } from "node:wasi";
import type { Row } from "./bench-metering.ts";

export const LUA_PKG = "lua-src@5.3.5";
/** Iterations of the script's loop for ~1 s of interpreter work (unmetered, warm, on a shared 2-core x86 machine). */
export const LUA_UNITS = 400_000;

/**
 * wasi-libc has no setjmp/longjmp without the exception-handling proposal, and Lua's
 * error recovery is built on them. The bench's script raises no error, so `setjmp`
 * takes the normal path and a raised error traps instead of unwinding.
 */
const SETJMP_H = `/* fledge bench: Lua's error recovery is not used, a raised error traps. */
typedef int jmp_buf[1];
#define setjmp(b) 0
#define longjmp(b, v) __builtin_trap()
#define _setjmp setjmp
#define _longjmp longjmp
`;

/** The two libc calls Lua's os/io libraries reach that wasi-libc leaves out: both report failure. */
const SHIM_C = `#include <stdlib.h>
#include <stdio.h>
int system(const char *c) { (void)c; return -1; }
FILE *tmpfile(void) { return NULL; }
`;

/** The reactor's exports: load a script once, then run its global work(n) as often as asked. */
const DRIVER_C = `#include <stdlib.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
static lua_State *L;
__attribute__((export_name("bench_alloc"))) char *bench_alloc(int n) { return malloc(n); }
__attribute__((export_name("bench_load"))) int bench_load(const char *s, int n) {
  L = luaL_newstate();
  luaL_openlibs(L);
  return luaL_loadbuffer(L, s, n, "=bench") || lua_pcall(L, 0, 0, 0);
}
__attribute__((export_name("bench_run"))) double bench_run(int n) {
  lua_getglobal(L, "work");
  lua_pushinteger(L, n);
  lua_call(L, 1, 1);
  double r = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return r;
}
`;

const CFLAGS = [
  "--target=wasm32-wasi", "--sysroot=/usr", "-O2",
  "-D_WASI_EMULATED_SIGNAL", "-D_WASI_EMULATED_PROCESS_CLOCKS", "-DLUA_USE_C89",
  // tmpnam is absent from wasi-libc: os.tmpname reports failure.
  "-DLUA_TMPNAMBUFSIZE=32", "-Dlua_tmpnam(b,e)=e=1",
];
const LIBS = ["-lwasi-emulated-signal", "-lwasi-emulated-process-clocks"];

/**
 * The script: calls (a recursive fib), table work (a string-keyed table and a pairs
 * walk), string ops (concatenation, format, upper) and integer arithmetic. `work(n)`
 * does n iterations and returns a checksum {@link luaExpected} computes independently.
 */
export const LUA_SCRIPT = `local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
function work(n)
  local t, s = {}, 0
  for i = 1, n do
    local k = "k" .. (i % 97)
    t[k] = (t[k] or 0) + i
    s = s + fib(i % 12) + (i * 7) % 13
    if i % 5 == 0 then s = s + #string.format("%d:%s", i, k:upper()) end
  end
  for _, v in pairs(t) do s = s + v % 1000 end
  return s
end
`;

/** What `work(n)` returns, computed here in JavaScript: the check that the interpreter ran the script right. */
export function luaExpected(n: number): number {
  const fib = (k: number): number => (k < 2 ? k : fib(k - 1) + fib(k - 2));
  const t = new Map<string, number>();
  let s = 0;
  for (let i = 1; i <= n; i++) {
    const k = `k${i % 97}`;
    t.set(k, (t.get(k) ?? 0) + i);
    s += fib(i % 12) + ((i * 7) % 13);
    if (i % 5 === 0) s += `${i}:${k.toUpperCase()}`.length;
  }
  for (const v of t.values()) s += v % 1000;
  return s;
}

/**
 * Why the Lua modules cannot be built here, or null when they can: decided from the
 * tools found on PATH (each a path, or null when missing). Only asked when the cache
 * has no build, so a machine that built once needs neither clang nor the registry again.
 */
export function luaBuildProblem(tools: { clang: string | null; npm: string | null }): string | null {
  if (tools.clang === null) return "clang not found (scripts/setup.sh installs clang, lld and wasi-libc): Lua row skipped";
  if (tools.npm === null) return `npm not found, so ${LUA_PKG} cannot be fetched: Lua row skipped`;
  return null;
}

function recipeKey(): string {
  const h = createHash("sha256");
  for (const part of [LUA_PKG, SETJMP_H, SHIM_C, DRIVER_C, ...CFLAGS, ...LIBS]) h.update(part).update("\0");
  return h.digest("hex").slice(0, 12);
}

export interface LuaModules {
  /** The `lua` command (runs `_start`). */
  command: string;
  /** The reactor with bench_alloc / bench_load / bench_run. */
  bench: string;
}

/** This process's outcome per cache folder: a failed fetch or build is tried once, not per row. */
const outcomes = new Map<string, LuaModules | { skip: string }>();

/** The cached Lua modules, building them on first use; a one-line note when they cannot be had. */
export function luaModules(cacheDir: string): LuaModules | { skip: string } {
  let r = outcomes.get(cacheDir);
  if (r === undefined) outcomes.set(cacheDir, (r = findOrBuild(cacheDir)));
  return r;
}

function findOrBuild(cacheDir: string): LuaModules | { skip: string } {
  const dir = join(cacheDir, `lua-5.3.5-wasi-${recipeKey()}`);
  const mods = { command: join(dir, "lua.wasm"), bench: join(dir, "lua-bench.wasm") };
  if (existsSync(mods.command) && existsSync(mods.bench)) return mods;
  const clang = Bun.which(process.env.FLEDGE_BENCH_CLANG ?? "clang");
  const npm = Bun.which("npm");
  const problem = luaBuildProblem({ clang, npm });
  if (problem !== null) return { skip: problem };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const built = buildInto(tmp, clang!, npm!);
    if (built !== null) return { skip: built };
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another bench process built the same recipe first: use its copy.
      if (!existsSync(mods.bench)) throw e;
    }
    return mods;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Fetches the sources and builds both modules into `out`; a skip note on failure, null on success. */
function buildInto(out: string, clang: string, npm: string): string | null {
  const pack = Bun.spawnSync([npm, "pack", LUA_PKG, "--pack-destination", out], { stdout: "pipe", stderr: "pipe" });
  if (pack.exitCode !== 0) return `${LUA_PKG} could not be fetched from the npm registry: Lua row skipped`;
  const tgz = pack.stdout.toString().trim().split("\n").pop()!;
  const x = Bun.spawnSync(["tar", "xzf", join(out, tgz), "-C", out], { stderr: "pipe" });
  if (x.exitCode !== 0) return `${LUA_PKG}: the package could not be unpacked: Lua row skipped`;
  const src = join(out, "package", "src");
  const shim = join(out, "shim");
  mkdirSync(shim);
  writeFileSync(join(shim, "setjmp.h"), SETJMP_H);
  writeFileSync(join(src, "fledge_shim.c"), SHIM_C);
  writeFileSync(join(src, "fledge_bench.c"), DRIVER_C);
  const fail = (what: string, r: { stderr: Buffer }): string =>
    `clang could not ${what} for wasm32-wasi (needs wasi-libc and lld; scripts/setup.sh installs them): ${firstError(r.stderr.toString())}: Lua row skipped`;
  const sources = readdirSync(src).filter((f) => f.endsWith(".c") && f !== "luac.c");
  const cc = Bun.spawnSync([clang, ...CFLAGS, `-I${shim}`, "-c", ...sources], { cwd: src, stdout: "pipe", stderr: "pipe" });
  if (cc.exitCode !== 0) return fail("compile Lua", cc);
  const objects = sources.map((f) => f.replace(/\.c$/, ".o"));
  const common = objects.filter((o) => o !== "lua.o" && o !== "fledge_bench.o");
  const cmd = Bun.spawnSync([clang, ...CFLAGS, ...common, "lua.o", ...LIBS, "-o", join(out, "lua.wasm")], { cwd: src, stdout: "pipe", stderr: "pipe" });
  if (cmd.exitCode !== 0) return fail("link the lua command", cmd);
  const reactor = Bun.spawnSync([clang, ...CFLAGS, "-mexec-model=reactor", ...common, "fledge_bench.o", ...LIBS, "-o", join(out, "lua-bench.wasm")], { cwd: src, stdout: "pipe", stderr: "pipe" });
  if (reactor.exitCode !== 0) return fail("link the bench reactor", reactor);
  return null;
}

function firstError(text: string): string {
  return (text.split("\n").find((l) => /error/i.test(l)) ?? text.split("\n")[0] ?? "").trim();
}

/** What the bench's rows need from a built module: run n units, and the instance's exports. */
export interface LuaInstance {
  run: (units: number) => unknown;
  exports: WebAssembly.Instance["exports"];
}

/**
 * Instantiates lua-bench.wasm (raw, metered or counting build) under Bun's node:wasi,
 * loads {@link LUA_SCRIPT} once, and runs `work(units)` per call, checking its result.
 */
export function luaMaker(bytes: Uint8Array, extra: object): LuaInstance {
  const wasi = new WASI({ version: "preview1", args: ["lua"], env: {}, preopens: {} });
  const imports = { wasi_snapshot_preview1: wasi.wasiImport, ...extra };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports as never);
  const ex = inst.exports as Record<string, unknown>;
  // Bun's node:wasi has no initialize(): bind the memory by hand, then run the reactor's init.
  (wasi as unknown as { setMemory(m: WebAssembly.Memory): void }).setMemory(ex.memory as WebAssembly.Memory);
  (ex._initialize as () => void)();
  const script = new TextEncoder().encode(LUA_SCRIPT);
  const p = (ex.bench_alloc as (n: number) => number)(script.length);
  new Uint8Array((ex.memory as WebAssembly.Memory).buffer, p, script.length).set(script);
  if ((ex.bench_load as (p: number, n: number) => number)(p, script.length) !== 0) throw new Error("lua bench: the script did not load");
  const runWork = ex.bench_run as (n: number) => number;
  const expected = new Map<number, number>();
  return {
    exports: inst.exports,
    run: (units) => {
      const got = runWork(units);
      let want = expected.get(units);
      if (want === undefined) expected.set(units, (want = luaExpected(units)));
      if (got !== want) throw new Error(`lua bench: work(${units}) returned ${got}, expected ${want}`);
    },
  };
}

/**
 * Runs `lua -e '<script> print(work(units))'` through fledge's real CLI with no limit
 * flags (so under the default fuel, timeout and memory limits), in a throwaway config
 * folder. Whether it exited 0 printing the expected checksum, and its wall time.
 */
export function luaThroughCli(root: string, luaWasm: string, units: number, configDir: string): { ok: boolean; detail: string; ms: number } {
  const t0 = performance.now();
  const p = Bun.spawnSync(
    [process.execPath, join(root, "src", "main.ts"), "wasm", "run", luaWasm, "-e", `${LUA_SCRIPT}print(work(${units}))`],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, FLEDGE_CONFIG_DIR: configDir } },
  );
  const ms = performance.now() - t0;
  const out = p.stdout.toString().trim();
  const want = String(luaExpected(units));
  if (p.exitCode === 0 && out === want) return { ok: true, detail: `exit 0, printed ${out}`, ms };
  const err = p.stderr.toString().trim().split("\n").pop() ?? "";
  return { ok: false, detail: `exit ${p.exitCode}, printed "${out.slice(0, 40)}" (expected ${want})${err ? `: ${err.slice(0, 120)}` : ""}`, ms };
}

/**
 * The row: the ~1 s script through `fledge wasm run` with no limit flags must finish
 * under the default fuel, timeout and memory limits and print the right checksum.
 * Nothing when the modules cannot be had (the workload row already said why).
 */
export function luaCliRow(row: Row, root: string, cacheDir: string, tmp: string): void {
  const lua = luaModules(cacheDir);
  if ("skip" in lua) return;
  const configDir = join(tmp, "lua-cli-config");
  mkdirSync(configDir, { recursive: true });
  const r = luaThroughCli(root, lua.command, LUA_UNITS, configDir);
  row("limits", `Lua 5.3 ~1 s script through \`fledge wasm run\` with the default limits: ${r.detail}, ${(r.ms / 1000).toFixed(2)} s wall`, r.ok ? "finishes" : "failed", "finishes", r.ok);
}

/** The cached modules' bytes for the metering rows. */
export function readLuaBench(mods: LuaModules): Uint8Array {
  return new Uint8Array(readFileSync(mods.bench));
}
