/**
 * Metering experiments: how much each piece of the emitted code costs, measured so
 * that JavaScriptCore's code placement does not decide the answer.
 *
 *   bun scripts/metering-lab/run.ts [--procs K] [--only copy|calls|loopcall|real] [--base DIR]
 *
 * Each experiment times one export of several modules (a baseline first) in one
 * process, interleaved, on this thread's CPU clock, fastest of 9 runs after 3 warm-ups,
 * and repeats that in K fresh processes (default 6): the same machine code runs 1x, 1.3x
 * or 2x the speed depending on where the engine happens to place it (a loop of about
 * four instructions runs at about one cycle per iteration, so an extra dependency or a
 * taken branch shows whole), so one process's ratio is one draw. Each process first
 * compiles a different amount of filler code and compiles the modules in a different
 * order, so the draws cover several placements. It prints every draw, the best and the
 * (lower) median per module. Experiments:
 *   copy   the bench's byte copy (scripts/metering-lab/shapes.ts), as emitted and with
 *          one piece changed or removed;
 *   calls  a loop of small calls: one result, the counter passed in and returned,
 *          the global charged, an entry check in the callee;
 *   loopcall  a loop calling a function with a loop of its own: the slow path's calls
 *          (the callee's entry check, the caller's after-call check) in the loop as
 *          emitted, and moved out of it one at a time;
 *   real   tests/fixtures/wat/fuel/{tight,accuracy}.wasm not instrumented, instrumented
 *          by this checkout, and (--base DIR) by another checkout's src/wasm.
 * Needs wat2wasm (wabt) for copy and calls.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CALLS, COPY, LOOPCALL, wat } from "./shapes.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** This thread's CPU time in ms (Linux), else the process's. */
function threadClock(): () => number {
  try {
    const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
    const ts = new BigInt64Array(2);
    const p = ptr(ts);
    return () => {
      libc.symbols.clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, p);
      return Number(ts[0]!) * 1000 + Number(ts[1]!) / 1e6;
    };
  } catch {
    return () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
  }
}

/**
 * Filler that moves where the engine places the code compiled after it: `count` hot
 * functions of different sizes, each run until the optimizing tier takes it.
 */
function filler(count: number): void {
  const fns: string[] = [];
  for (let k = 0; k < count; k++) {
    const body = Array.from({ length: 1 + ((k * 7) % 23) }, (_, j) => `(local.set $a (i32.add (local.get $a) (i32.const ${j + k})))`).join(" ");
    fns.push(`(func (export "f${k}") (param $n i32) (result i32) (local $a i32) (loop $l ${body} (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))) (local.get $a))`);
  }
  const src = `(module ${fns.join("\n")})`;
  const dir = mkdtempSync(join(tmpdir(), "fledge-lab-filler-"));
  try {
    const w = assemble(dir, "filler", src);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(w)), {});
    for (let k = 0; k < count; k++) for (let r = 0; r < 20; r++) (inst.exports[`f${k}`] as (n: number) => number)(200_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Child: times `fn(arg)` of each module file; prints one JSON line of fastest times
 * (ms). `seed` picks the filler's size and the order the modules are compiled in, so
 * each process draws its own placement.
 */
function child(fn: string, arg: number, seed: number, files: string[]): void {
  const now = threadClock();
  filler(seed % 9);
  const imports = { "fledge:meter": { refuel: (x: bigint) => x + 1_000_000_000_000_000n }, env: { maybe_throw: () => {} } };
  const order = [...files.keys()];
  for (let k = order.length - 1, x = seed; k > 0; k--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (k + 1);
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  const byOrder = new Array<(x: number) => unknown>(files.length);
  for (const k of order) {
    const i = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(files[k]!)), imports as never);
    byOrder[k] = i.exports[fn] as (x: number) => unknown;
  }
  const runs = byOrder;
  const t = files.map((): number[] => []);
  for (let r = 0; r < 3; r++) for (const run of runs) run(arg);
  for (let r = 0; r < 9; r++) {
    const order = r % 2 ? [...runs.keys()].reverse() : [...runs.keys()];
    for (const k of order) {
      const t0 = now();
      runs[k]!(arg);
      t[k]!.push(now() - t0);
    }
  }
  console.log(JSON.stringify(t.map((x) => Math.min(...x))));
}

interface Experiment {
  title: string;
  fn: string;
  arg: number;
  /** label → module file; the first is the baseline. */
  modules: [string, string][];
}

function assemble(dir: string, name: string, text: string): string {
  const src = join(dir, `${name.replace(/[^a-z0-9]+/gi, "_")}.wat`);
  const out = src.replace(/\.wat$/, ".wasm");
  writeFileSync(src, text);
  const r = Bun.spawnSync(["wat2wasm", "--enable-annotations", "--enable-code-metadata", src, "-o", out], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`wat2wasm ${src}: ${r.stderr.toString()}`);
  return out;
}

async function instrumentWith(srcRoot: string, raw: string, out: string): Promise<string> {
  const { instrument } = (await import(join(srcRoot, "src", "wasm", "index.ts"))) as typeof import("../../src/wasm/index.ts");
  writeFileSync(out, instrument(new Uint8Array(readFileSync(raw)), { fuel: true, maxMemoryBytes: null }).bytes);
  return out;
}

async function experiments(dir: string, only: string | null, base: string | null): Promise<Experiment[]> {
  const list: Experiment[] = [];
  if (!only || only === "copy") {
    list.push({ title: "byte copy, 64 KiB x 300", fn: "run", arg: 300, modules: Object.entries(COPY).map(([k, v]) => [k, assemble(dir, `copy ${k}`, wat(v))]) });
  }
  if (!only || only === "calls") {
    list.push({ title: "3M calls of a small leaf", fn: "run", arg: 3_000_000, modules: Object.entries(CALLS).map(([k, v]) => [k, assemble(dir, `calls ${k}`, wat(v))]) });
  }
  if (!only || only === "loopcall") {
    list.push({ title: "3M passes of a loop calling a function with a 2-pass loop", fn: "run", arg: 3_000_000, modules: Object.entries(LOOPCALL).map(([k, v]) => [k, assemble(dir, `loopcall ${k}`, wat(v))]) });
  }
  if (!only || only === "real") {
    for (const [fixture, fn, arg] of [["tight", "copy", 300], ["tight", "smallcalls", 3_000_000], ["tight", "collatz", 300_000], ["accuracy", "calls", 3_000_000], ["accuracy", "fib", 27]] as const) {
      const raw = join(ROOT, "tests", "fixtures", "wat", "fuel", `${fixture}.wasm`);
      const modules: [string, string][] = [["not instrumented", raw], ["this checkout", await instrumentWith(ROOT, raw, join(dir, `${fixture}.this.wasm`))]];
      if (base) modules.push([`--base ${base}`, await instrumentWith(base, raw, join(dir, `${fixture}.base.wasm`))]);
      list.push({ title: `${fixture}.wasm ${fn}(${arg})`, fn, arg, modules });
    }
  }
  return list;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") return child(argv[1]!, Number(argv[2]), Number(argv[3]), argv.slice(4));
  const opt = (name: string): string | null => {
    const i = argv.indexOf(name);
    return i >= 0 ? (argv[i + 1] ?? null) : null;
  };
  const procs = Number(opt("--procs") ?? 6);
  const dir = mkdtempSync(join(tmpdir(), "fledge-metering-lab-"));
  try {
    for (const e of await experiments(dir, opt("--only"), opt("--base"))) {
      const ratios = e.modules.map((): number[] => []);
      for (let p = 0; p < procs; p++) {
        const seed = (p * 2654435761 + e.title.length) >>> 0;
        const r = Bun.spawnSync([process.execPath, import.meta.path, "--child", e.fn, String(e.arg), String(seed), ...e.modules.map((m) => m[1])], { stderr: "inherit" });
        const ms = JSON.parse(r.stdout.toString()) as number[];
        ms.forEach((m, k) => ratios[k]!.push(m / ms[0]!));
      }
      console.log(`\n${e.title}: time / ${e.modules[0]![0]}, one draw per process, then the best and the median`);
      e.modules.forEach(([label], k) => {
        if (k === 0) return;
        const s = [...ratios[k]!].sort((a, b) => a - b);
        console.log(`  ${label.padEnd(28)} ${ratios[k]!.map((x) => x.toFixed(2)).join(" ")}   best ${s[0]!.toFixed(2)}, median ${s[(s.length - 1) >> 1]!.toFixed(2)}`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
