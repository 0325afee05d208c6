/**
 * The metering sections of `bun run bench` (also runnable alone:
 * `bun scripts/bench-metering.ts [--quick]`).
 *
 *   M1. fuel accuracy (charged / executed, counted by a per-instruction build of the
 *       same module) and overhead (metered / the same module not instrumented) per
 *       workload: the median and range over K fresh processes (default 5, `--quick`
 *       3, `--procs K`) of each process's ratio of this thread's CPU time, fastest of
 *       interleaved runs after warming both builds. One process's ratio is one draw
 *       of where the engine places the code (the same machine code measured 0.9x and
 *       1.4x in two processes); the median over processes is the figure to compare.
 *       Workloads: recursive fib, many small
 *       calls, tight loops (byte copy, Collatz), a 128-arm bytecode VM, and two real
 *       interpreters running a ~1 s script: Ruby (built for WASI, from the npm
 *       registry) and Lua 5.3 (its C sources from the npm registry, built for WASI
 *       here: scripts/bench-lua.ts). The same Lua script also runs through the real
 *       CLI with no limit flags, to show it finishes under the default limits.
 *   M2. host-call overhead: 1e6 clock_time_get through fledge's metered runner vs
 *       Bun's own node:wasi running the same module unsandboxed.
 *
 * The Ruby module (16 MB) and Lua's sources are fetched once with `npm pack` into the
 * bench cache (FLEDGE_BENCH_CACHE, default ~/.cache/fledge-bench), Lua built there with
 * clang; without the registry (or clang) the row is skipped with a note.
 * `--only WORD` keeps the workloads whose label contains WORD (`--only lua`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import { createMeter, instrument } from "../src/wasm/index.ts";
import { COUNT_EXPORT, countingBuild } from "../src/wasm/count.ts";
import { runPrepared } from "../src/wasm/run.ts";
import { LUA_UNITS, luaCliRow, luaMaker, luaModules, readLuaBench } from "./bench-lua.ts";

const ROOT = join(import.meta.dir, "..");

export type Row = (section: string, what: string, value: string, target: string, met: boolean | null) => void;

/**
 * CPU time of the calling thread in ms (clock_gettime(CLOCK_THREAD_CPUTIME_ID) through
 * bun:ffi on Linux). Process CPU time also counts the engine's background compiler
 * threads, whose tier-up work lands on whichever run happens to be next: with it, an
 * uninstrumented interpreter measured 3x slower than its metered build in one run.
 * Elsewhere, the process's CPU time.
 */
const threadClock = ((): (() => number) | null => {
  if (process.platform !== "linux") return null;
  try {
    const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
    const ts = new BigInt64Array(2);
    const p = ptr(ts);
    const CLOCK_THREAD_CPUTIME_ID = 3;
    return () => {
      libc.symbols.clock_gettime(CLOCK_THREAD_CPUTIME_ID, p);
      return Number(ts[0]!) * 1000 + Number(ts[1]!) / 1e6;
    };
  } catch {
    return null;
  }
})();

function nowCpuMs(): number {
  if (threadClock) return threadClock();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time spent in `fn`, in ms (this thread's, see {@link threadClock}). */
function cpuMs(fn: () => unknown): number {
  const t0 = nowCpuMs();
  fn();
  return nowCpuMs() - t0;
}

async function cpuMsAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowCpuMs();
  await fn();
  return nowCpuMs() - t0;
}

interface Instance {
  run: (units: number) => unknown;
  exports: WebAssembly.Instance["exports"];
}

interface Workload {
  label: string;
  /** Instantiates module bytes (raw, metered or the counting build) with extra import modules. */
  make: (bytes: Uint8Array, extra: object) => Instance;
  raw: Uint8Array;
  /** Work for the timed runs, and for the (slow) accuracy run. */
  units: number;
  small: number;
  target: number;
}

function exportCaller(fn: string, init?: string): Workload["make"] {
  const stub = new Proxy({}, { get: () => () => 0 });
  return (bytes, extra) => {
    const env = { env: { maybe_throw: (i: number) => { if (i % 3 === 0) throw new Error("x"); } }, wasi_snapshot_preview1: stub, ...extra };
    const i = new WebAssembly.Instance(new WebAssembly.Module(bytes), env as never);
    if (init) (i.exports[init] as () => void)();
    const f = i.exports[fn] as (x: number) => unknown;
    return { run: (units) => f(units), exports: i.exports };
  };
}

/** The bench cache folder (outside the repository). */
export function benchCacheDir(): string {
  const dir = process.env.FLEDGE_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "fledge-bench");
  mkdirSync(dir, { recursive: true });
  return dir;
}

const RUBY_PKG = "@ruby/3.4-wasm-wasi@2.10.1";

/** ruby.wasm from the npm registry, cached; null when it cannot be had. */
function rubyWasm(): Uint8Array | null {
  const dir = join(benchCacheDir(), "ruby-3.4-wasm-wasi-2.10.1");
  const file = join(dir, "ruby.wasm");
  if (!existsSync(file)) {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const pack = Bun.spawnSync(["npm", "pack", RUBY_PKG, "--pack-destination", tmp], { stdout: "pipe", stderr: "pipe" });
    if (pack.exitCode !== 0) return null;
    const tgz = pack.stdout.toString().trim().split("\n").pop()!;
    const x = Bun.spawnSync(["tar", "xzf", join(tmp, tgz), "-C", tmp, "package/dist/ruby.wasm"], { stderr: "pipe" });
    if (x.exitCode !== 0) return null;
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, "package", "dist", "ruby.wasm"), file);
    rmSync(tmp, { recursive: true, force: true });
  }
  return new Uint8Array(readFileSync(file));
}

/**
 * Drives ruby.wasm (a WASI reactor with a component-model ABI) the way its JS package
 * does: `_initialize`, `ruby-init` with argv, then `rb-eval-string-protect` of a script.
 * The JS-interop imports are stubs that throw (the script never touches JS).
 */
function rubyMaker(script: (n: number) => string): Workload["make"] {
  return (bytes, extra) => {
    const mod = new WebAssembly.Module(bytes);
    const wasi = new WASI({ version: "preview1", args: ["ruby"], env: {}, preopens: {} });
    const imports: Record<string, Record<string, unknown>> = { wasi_snapshot_preview1: wasi.wasiImport as Record<string, unknown>, ...(extra as Record<string, Record<string, unknown>>) };
    for (const imp of WebAssembly.Module.imports(mod)) {
      const m = (imports[imp.module] ??= {});
      if (!(imp.name in m) && imp.kind === "function") {
        m[imp.name] = () => {
          throw new Error(`ruby bench: unexpected call to ${imp.module}.${imp.name}`);
        };
      }
    }
    // rb-abi-value handles: the value itself (the script's result is never read).
    const abi = imports["canonical_abi"];
    if (abi) {
      abi["resource_new_rb-abi-value"] = (v: number) => v;
      abi["resource_get_rb-abi-value"] = (v: number) => v;
      abi["resource_drop_rb-abi-value"] = () => {};
    }
    const inst = new WebAssembly.Instance(mod, imports as never);
    const ex = inst.exports as Record<string, unknown>;
    // Bun's node:wasi has no initialize(): bind the memory by hand, then run the reactor's init.
    (wasi as unknown as { setMemory(m: WebAssembly.Memory): void }).setMemory(ex.memory as WebAssembly.Memory);
    (ex._initialize as () => void)();
    const mem = ex.memory as WebAssembly.Memory;
    const realloc = ex.cabi_realloc as (a: number, b: number, c: number, d: number) => number;
    const str = (s: string): [number, number] => {
      const b = new TextEncoder().encode(s);
      // NUL-terminated as well: the guest hands argv on as C strings.
      const p = realloc(0, 0, 1, b.length + 1);
      new Uint8Array(mem.buffer, p, b.length + 1).set([...b, 0]);
      return [p, b.length];
    };
    const args = ["ruby", "--disable-gems", "-e", "_=0"].map(str);
    const list = realloc(0, 0, 4, args.length * 8);
    const dv = new DataView(mem.buffer);
    args.forEach(([p, l], i) => {
      dv.setUint32(list + i * 8, p, true);
      dv.setUint32(list + i * 8 + 4, l, true);
    });
    (ex["ruby-init: func(args: list<string>) -> ()"] as (p: number, n: number) => void)(list, args.length);
    const evalFn = ex["rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>"] as (p: number, n: number) => number;
    return {
      exports: inst.exports,
      run: (units) => {
        const [p, l] = str(script(units));
        const ret = evalFn(p, l);
        const state = new DataView(mem.buffer).getInt32(ret + 4, true);
        if (state !== 0) throw new Error(`ruby bench: the script raised (state ${state})`);
      },
    };
  };
}

const RUBY_SCRIPT = (n: number): string =>
  `def fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2)\n` +
  `h = {}; s = 0\n` +
  `${n}.times { |i| h["k#{i % 97}"] = (h["k#{i % 97}"] || 0) + i; s += fib(i % 12) }\n` +
  `s`;

function workloads(quick: boolean, only: string | null): Workload[] {
  const acc = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wat", "fuel", "accuracy.wasm")));
  const tight = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wat", "fuel", "tight.wasm")));
  const vm = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wasi", "vm.wasm")));
  const q = quick ? 0.2 : 1;
  const list: Workload[] = [
    { label: "recursive fib", make: exportCaller("fib"), raw: acc, units: quick ? 29 : 32, small: 20, target: 1.1 },
    { label: "many small calls", make: exportCaller("smallcalls"), raw: tight, units: Math.round(30_000_000 * q), small: 200_000, target: 1.1 },
    { label: "calls with early returns", make: exportCaller("calls"), raw: acc, units: Math.round(30_000_000 * q), small: 200_000, target: 1.1 },
    { label: "tight loop: byte copy", make: exportCaller("copy"), raw: tight, units: Math.round(5000 * q), small: 4, target: 1.05 },
    { label: "tight loop: Collatz", make: exportCaller("collatz"), raw: tight, units: Math.round(1_500_000 * q), small: 10_000, target: 1.05 },
    { label: "bytecode VM, 128-arm switch (C)", make: exportCaller("vm_run", "vm_init"), raw: vm, units: Math.round(2_000_000 * q), small: 5_000, target: 1.1 },
  ];
  if (wants(only, "ruby")) {
    const ruby = rubyWasm();
    if (ruby) list.push({ label: "Ruby 3.4 interpreter (npm @ruby/3.4-wasm-wasi), fib + hash script", make: rubyMaker(RUBY_SCRIPT), raw: ruby, units: Math.round(60_000 * q), small: 300, target: 1.1 });
    else process.stderr.write("  (ruby.wasm could not be fetched from the npm registry: Ruby row skipped)\n");
  }
  if (wants(only, "lua")) {
    const lua = luaModules(benchCacheDir());
    if ("skip" in lua) process.stderr.write(`  (${lua.skip})\n`);
    else list.push({ label: LUA_LABEL, make: luaMaker, raw: readLuaBench(lua), units: Math.round(LUA_UNITS * q), small: 2_000, target: 1.1 });
  }
  return only === null ? list : list.filter((w) => w.label.toLowerCase().includes(only));
}

const LUA_LABEL = "Lua 5.3 interpreter (npm lua-src, built for WASI here), calls + tables + strings script";

/**
 * Whether `--only` asks for the optional workload `name` (one that needs a download or a
 * build): no filter, or a filter that is part of its name or names it.
 */
function wants(only: string | null, name: string): boolean {
  return only === null || name.includes(only) || only.includes(name);
}

/** Fresh processes per workload for the overhead figure. */
export function defaultProcs(quick: boolean): number {
  return quick ? 3 : 5;
}

export async function benchMetering(row: Row, quick: boolean, only: string | null = null, procs = defaultProcs(quick)): Promise<void> {
  process.stderr.write(`M1. fuel accuracy, and metering overhead per workload (median [range] over ${procs} fresh processes of this thread's CPU time, fastest of interleaved runs)\n`);
  const dir = mkdtempSync(join(tmpdir(), "fledge-bench-metering-"));
  try {
    for (const w of workloads(quick, only)) {
      const meteredBytes = instrument(w.raw, { fuel: true, maxMemoryBytes: null }).bytes;
      const ratio = accuracy(w, meteredBytes);
      row("fuel", `${w.label}: charged / executed`, ratio.toFixed(4), "0.9 - 1.1", ratio >= 0.9 && ratio <= 1.1);
      // Overhead: each fresh process instantiates the same metered bytes (instrumented once here).
      const file = join(dir, "metered.wasm");
      writeFileSync(file, meteredBytes);
      const draws: { ratio: number; rawMs: number }[] = [];
      for (let k = 0; k < procs; k++) draws.push(await overheadInChild(w.label, file, quick));
      const ratios = draws.map((d) => d.ratio).sort((x, y) => x - y);
      const med = median(ratios);
      const rawMs = median(draws.map((d) => d.rawMs).sort((x, y) => x - y));
      const range = `[${ratios[0]!.toFixed(2)}-${ratios[ratios.length - 1]!.toFixed(2)}]`;
      row("metering", `${w.label}: metered / not instrumented (${rawMs.toFixed(0)} ms raw), median ${range} of ${procs} processes`, med.toFixed(3), `<= ${w.target.toFixed(2)}`, med <= w.target);
    }
    if (wants(only, "lua")) luaCliRow(row, ROOT, benchCacheDir(), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (only === null || "clock".includes(only)) await benchClock(row, quick);
}

/** The middle value of sorted numbers (the mean of the two middle ones for an even count). */
function median(sorted: readonly number[]): number {
  const h = sorted.length >> 1;
  return sorted.length % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
}

/** Fuel charged / instructions executed on a small run (the counting build is slow). */
function accuracy(w: Workload, meteredBytes: Uint8Array): number {
  const meter = createMeter({ fuel: null, deadline: null });
  const m = w.make(meteredBytes, meter.imports);
  meter.attach(m.exports);
  const c = w.make(countingBuild(w.raw), {});
  const count = c.exports[COUNT_EXPORT] as () => bigint;
  const u0 = meter.used();
  const c0 = count();
  m.run(w.small);
  c.run(w.small);
  return Number(meter.used() - u0) / Number(count() - c0);
}

/** One draw: a fresh `bun` process times the workload (see {@link overheadDraw}) and prints its result. */
async function overheadInChild(label: string, meteredFile: string, quick: boolean): Promise<{ ratio: number; rawMs: number }> {
  const args = [process.execPath, import.meta.path, "--child", label, meteredFile, ...(quick ? ["--quick"] : [])];
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`metering bench: the process for "${label}" exited ${p.exitCode}`);
  return JSON.parse(out.trim().split("\n").pop()!) as { ratio: number; rawMs: number };
}

/**
 * In this process: warm both builds alike, then time them interleaved; metered / not
 * instrumented, fastest run of each.
 */
function overheadDraw(w: Workload, meteredBytes: Uint8Array, quick: boolean): { ratio: number; rawMs: number } {
  const reps = quick ? 5 : 9;
  const meter = createMeter({ fuel: null, deadline: null });
  const m = w.make(meteredBytes, meter.imports);
  meter.attach(m.exports);
  const plain = w.make(w.raw, {});
  const t: { raw: number[]; fuel: number[] } = { raw: [], fuel: [] };
  // Warm both up alike: the engine tiers up large functions in background threads.
  for (let r = 0; r < 3; r++) {
    plain.run(w.units);
    m.run(w.units);
  }
  // Alternate which runs first: a run can leave work (collection, compilation) to the next.
  for (let r = 0; r < reps; r++) {
    if (r % 2) t.raw.push(cpuMs(() => plain.run(w.units)));
    t.fuel.push(cpuMs(() => m.run(w.units)));
    if (!(r % 2)) t.raw.push(cpuMs(() => plain.run(w.units)));
  }
  const rawMs = Math.min(...t.raw);
  return { ratio: Math.min(...t.fuel) / rawMs, rawMs };
}

/**
 * 1e6 clock_time_get: fledge's whole metered runner (gate, meter, WASI host) vs Bun's
 * node:wasi running the raw module, both in this process.
 */
async function benchClock(row: Row, quick: boolean): Promise<void> {
  process.stderr.write("M2. host-call overhead: 1e6 clock_time_get\n");
  const raw = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wat", "fuel", "clock.wasm")));
  const prepared = instrument(raw, { fuel: true, maxMemoryBytes: 256 << 20 });
  const rawModule = new WebAssembly.Module(raw);
  const runBun = (): void => {
    const wasi = new WASI({ version: "preview1", args: [], env: {}, preopens: {} });
    const inst = new WebAssembly.Instance(rawModule, { wasi_snapshot_preview1: wasi.wasiImport } as never);
    wasi.start(inst);
  };
  const runFledge = async (): Promise<void> => {
    const r = await runPrepared(prepared, { args: ["clock"], env: [], preopens: [], fuel: 1_000_000_000_000n, timeoutMs: null, maxMemoryBytes: 256 << 20 });
    if (r.exitCode !== 0) throw new Error(`clock bench exited ${r.exitCode}`);
  };
  runBun();
  await runFledge();
  const b: number[] = [];
  const f: number[] = [];
  for (let r = 0; r < (quick ? 5 : 9); r++) {
    b.push(cpuMs(runBun));
    f.push(await cpuMsAsync(runFledge));
  }
  const ratio = Math.min(...f) / Math.min(...b);
  row("host calls", `1e6 clock_time_get: fledge ${Math.min(...f).toFixed(0)} ms / Bun node:wasi ${Math.min(...b).toFixed(0)} ms`, ratio.toFixed(3), "<= 1.20", ratio <= 1.2);
}

if (import.meta.main && process.argv.includes("--child")) {
  // One draw of the overhead (see overheadInChild): --child <workload label> <metered.wasm>.
  const at = process.argv.indexOf("--child");
  const label = process.argv[at + 1]!;
  const quick = process.argv.includes("--quick");
  const w = workloads(quick, label.toLowerCase()).find((x) => x.label === label);
  if (!w) throw new Error(`metering bench: no workload "${label}"`);
  console.log(JSON.stringify(overheadDraw(w, new Uint8Array(readFileSync(process.argv[at + 2]!)), quick)));
} else if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const procsArg = process.argv.indexOf("--procs");
  const procsText = procsArg > 0 ? (process.argv[procsArg + 1] ?? "") : "";
  const procs = procsArg > 0 ? Number(procsText) : defaultProcs(quick);
  if (!Number.isInteger(procs) || procs < 1 || procs > 100) {
    process.stderr.write(`metering bench: --procs takes a whole number of processes from 1 to 100, got "${procsText}"\n`);
    process.exit(2);
  }
  const onlyArg = process.argv.indexOf("--only");
  const only = onlyArg > 0 ? (process.argv[onlyArg + 1] ?? "").toLowerCase() : null;
  const rows: string[] = [];
  const row: Row = (section, what, value, target, met) => {
    rows.push(`| ${section} | ${what} | ${value} | ${target}${met === null ? "" : met ? " (met)" : " (missed)"} |`);
    process.stderr.write(`  ${what}: ${value} (target ${target}${met ? ", met" : ", MISSED"})\n`);
  };
  await benchMetering(row, quick, only, procs);
  console.log("| part | measurement | result | target |");
  console.log("|---|---|---|---|");
  for (const r of rows) console.log(r);
}
