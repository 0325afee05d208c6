/**
 * Measurements (not a test): metering overhead on CPU-bound loops and
 * parse+instrument+encode throughput.
 *   bun tests/wasm/bench.ts [large.wasm [--replicate N]]
 */
import { readFileSync } from "node:fs";
import { createMeter, encodeModule, instrument, parseModule } from "../../src/wasm/index.ts";
import { fixture } from "./helpers.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => unknown, reps: number): number {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const raw = fixture("limits/loops");
const prepared = instrument(raw, { fuel: true, maxMemoryBytes: null }).bytes;
const a = new WebAssembly.Instance(new WebAssembly.Module(raw), {});
const meter = createMeter({ fuel: null, deadline: null });
const b = new WebAssembly.Instance(new WebAssembly.Module(prepared), meter.imports as never);
const workloads: Array<[string, string, unknown[]]> = [
  ["integer loop (1e8 iterations)", "intloop", [100_000_000]],
  ["FNV-1a hash (64 MiB)", "hash", [1024]],
  ["float loop (3e7 iterations)", "floatloop", [30_000_000]],
  ["recursive fib(32) (7e6 calls)", "fib", [32]],
];
for (const [label, fn, args] of workloads) {
  const fa = a.exports[fn] as (...x: unknown[]) => unknown;
  const fb = b.exports[fn] as (...x: unknown[]) => unknown;
  // Warm up both so each reaches the optimizing tier, then interleave runs.
  fa(...args);
  fb(...args);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < 7; i++) {
    ta.push(time(() => fa(...args), 1));
    tb.push(time(() => fb(...args), 1));
  }
  const ra = median(ta);
  const rb = median(tb);
  console.log(`${label}: raw ${ra.toFixed(1)} ms, metered ${rb.toFixed(1)} ms, ratio ${(rb / ra).toFixed(3)}`);
}

const largePath = process.argv[2];
if (largePath) {
  let big = new Uint8Array(readFileSync(largePath));
  // `--replicate N`: append N copies of every function body (valid: bodies only refer
  // to indices that still exist), to get a large module out of a medium one.
  const replicate = Number(process.argv[4] ?? 0);
  if (process.argv[3] === "--replicate" && replicate > 0) {
    const m = parseModule(big);
    const funcs = [...m.functions];
    const codes = [...m.codes];
    for (let i = 0; i < replicate; i++) {
      m.functions.push(...funcs);
      m.codes.push(...codes.map((c) => ({ locals: c.locals, code: c.code })));
    }
    big = new Uint8Array(encodeModule(m));
    if (!WebAssembly.validate(big)) throw new Error("replicated module does not validate");
  }
  const mb = big.length / 1e6;
  const cold = time(() => instrument(big, { fuel: true, maxMemoryBytes: 256 << 20, validate: false }), 1);
  const warm = time(() => instrument(big, { fuel: true, maxMemoryBytes: 256 << 20, validate: false }), 9);
  const pe = time(() => encodeModule(parseModule(big)), 9);
  const val = time(() => WebAssembly.validate(big), 5);
  console.log(
    `${largePath}${replicate ? ` x${replicate + 1}` : ""} (${mb.toFixed(2)} MB): parse+instrument+encode first run ${(mb / (cold / 1000)).toFixed(0)} MB/s, ` +
      `warm median ${(mb / (warm / 1000)).toFixed(0)} MB/s; parse+encode only ${(mb / (pe / 1000)).toFixed(0)} MB/s; ` +
      `WebAssembly.validate ${(mb / (val / 1000)).toFixed(0)} MB/s`,
  );
}
