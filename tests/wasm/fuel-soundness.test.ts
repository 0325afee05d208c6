/**
 * The fuel meter's soundness invariant (src/wasm/blocks.ts, top comment): between two
 * checks a guest runs at most one pass over one function body, and the fuel charged
 * is what ran. Attacker guests from the metering red team, regenerated small here as
 * bytes (no toolchain needed):
 *   - a straight-line export that is itself a huge "leaf" (no loop, no call): the host
 *     calls it, so its entry must check;
 *   - a straight-line caller calling a big leaf many times (no check after calls);
 *   - a deep recursion whose frames each run a big tail after their call returns;
 *   - a callee that refuels and then throws to a try_table in the caller (the landing
 *     charged the refuelled slice again: 100x overcharge);
 *   - frames unwound by an exception charged for the code after their call;
 *   - refund attempts: normal (non-exception) arrivals at a try_table catch target,
 *     by a branch placed before the try_table and by falling through, after heavy work
 *     (if the landing trusted a stale global, the work would be refunded).
 */
import { describe, expect, test } from "bun:test";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";

// --- a tiny module encoder ---------------------------------------------------------
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const str = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

interface Fn {
  type: number;
  locals?: number; // extra i32 locals
  body: number[]; // without the final end
  export?: string;
}
/** Types: 0 = () -> (), 1 = (i32) -> (), 2 = () -> i32. One mutable i32 global 0 "count"; one tag of type 0. */
function module(fns: Fn[], table = false): Uint8Array {
  const types = section(1, vec([[0x60, 0, 0], [0x60, 1, 0x7f, 0], [0x60, 0, 1, 0x7f]]));
  const funcs = section(3, vec(fns.map((f) => leb(f.type))));
  const tables = table ? section(4, vec([[0x70, 0, 1]])) : [];
  const tags = section(13, vec([[0, 0]]));
  const globals = section(6, vec([[0x7f, 1, 0x41, 0, 0x0b]]));
  const exps: number[][] = [[...str("count"), 3, 0]];
  fns.forEach((f, i) => {
    if (f.export) exps.push([...str(f.export), 0, ...leb(i)]);
  });
  const exports = section(7, vec(exps));
  const codes = section(
    10,
    vec(
      fns.map((f) => {
        const locals = f.locals ? vec([[...leb(f.locals), 0x7f]]) : [0];
        const body = [...locals, ...f.body, 0x0b];
        return [...leb(body.length), ...body];
      }),
    ),
  );
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...funcs, ...tables, ...tags, ...globals, ...exports, ...codes]);
}
const I32 = (v: number): number[] => [0x41, ...sleb(v)];
const DROP = 0x1a;
const CALL = (i: number): number[] => [0x10, ...leb(i)];
/** count += 1 */
const BUMP = [0x23, 0, ...I32(1), 0x6a, 0x24, 0];
/** `n` straight-line instructions (i32.const 0; drop pairs). */
const straight = (n: number): number[] => Array.from({ length: n / 2 }, () => [...I32(0), DROP]).flat();

// --- runners ----------------------------------------------------------------------
function metered(bytes: Uint8Array, fuel: bigint | null) {
  const meter = createMeter({ fuel, deadline: null });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
  meter.attach(inst.exports);
  return { meter, inst, count: () => (inst.exports.count as WebAssembly.Global).value as number };
}

/** Runs `fn` under `fuel`: whether the meter stopped it, and the guest's own count. */
function runLimited(bytes: Uint8Array, fn: string, fuel: bigint): { stopped: boolean; count: number } {
  const { meter, inst, count } = metered(bytes, fuel);
  try {
    (inst.exports[fn] as () => void)();
  } catch (e) {
    if (!meter.isStop(e)) throw e;
  }
  return { stopped: meter.reason() === "fuel", count: count() };
}

/** Charged fuel / executed instructions (from the independent counting build) for one call of `fn`. */
function ratio(bytes: Uint8Array, fn: string): number {
  const { meter, inst } = metered(bytes, null);
  const counting = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(bytes)), {});
  const before = meter.used();
  (inst.exports[fn] as () => void)();
  (counting.exports[fn] as () => void)();
  const executed = (counting.exports[COUNT_EXPORT] as () => bigint)();
  return Number(meter.used() - before) / Number(executed);
}

describe("fuel soundness: no unchecked run longer than one function body", () => {
  test("a huge straight-line export (a leaf, called by the host) is stopped at its entry", () => {
    const bytes = module([{ type: 0, export: "run", body: [...BUMP, ...straight(200_000), 0x00 /* unreachable */] }]);
    const r = runLimited(bytes, "run", 1_000n);
    expect(r.stopped).toBe(true);
    expect(r.count).toBe(0); // not one instruction of the body ran
  });

  test("a straight-line caller calling a big leaf 1000 times stops within the budget", () => {
    const calls = Array.from({ length: 1000 }, () => CALL(0)).flat();
    const bytes = module([
      { type: 0, body: [...BUMP, ...straight(2_000)] },
      { type: 0, export: "run", body: calls },
    ]);
    const r = runLimited(bytes, "run", 100_000n);
    expect(r.stopped).toBe(true);
    // 100,000 / ~2,000 per call, plus at most one call past the check.
    expect(r.count).toBeLessThanOrEqual(52);
  });

  test("returning through 1000 frames with big tails stops within the budget", () => {
    // rec(n): if n { rec(n-1) }; count++; 2,000 instructions
    const rec = [0x20, 0, 0x04, 0x40, 0x20, 0, ...I32(1), 0x6b, ...CALL(0), 0x0b, ...BUMP, ...straight(2_000)];
    const bytes = module([
      { type: 1, body: rec },
      { type: 0, export: "run", body: [...I32(1000), ...CALL(0)] },
    ]);
    const r = runLimited(bytes, "run", 100_000n);
    expect(r.stopped).toBe(true);
    expect(r.count).toBeLessThanOrEqual(52);
  });
});

describe("fuel for operations whose engine cost grows with state", () => {
  test("a function entry is charged for the locals the engine zeroes (red team: 0.5 ms per 1-unit call)", () => {
    // big(): 40,000 declared i32 locals, empty body. run: loop 1000 times { count++; big() }
    const body = [0x03, 0x40, ...BUMP, ...CALL(0), 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(1000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 0, locals: 40_000, body: [] },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = runLimited(bytes, "run", 1_000_000n);
    expect(r.stopped).toBe(true);
    // ~40,000 units per call: the budget runs out after ~25 calls, never 1000.
    expect(r.count).toBeLessThan(30);
  });

  test("ordinary functions (a few locals) pay nothing extra: accuracy stays exact", () => {
    const body = [0x03, 0x40, ...BUMP, ...CALL(0), 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(1000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 0, locals: 32, body: [...I32(1), 0x21, 0] },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = ratio(bytes, "run");
    expect(r).toBeGreaterThanOrEqual(0.9);
    expect(r).toBeLessThanOrEqual(1.1);
  });

  test("table.grow is charged the table's current size: 50,000 one-element grows exceed 1M fuel", () => {
    // loop { count++; drop(table.grow(ref.null func, 1)); i++ < 50000 }
    const body = [0x03, 0x40, ...BUMP, 0xd0, 0x70, ...I32(1), 0xfc, 15, 0, DROP, 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(50_000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([{ type: 0, locals: 1, export: "run", body }], true);
    const r = runLimited(bytes, "run", 1_000_000n);
    expect(r.stopped).toBe(true);
    // Sum of sizes 1..n passes 1M near n = 1,414.
    expect(r.count).toBeLessThan(2_000);
  });
});

describe("fuel accuracy with exceptions: charged / executed within 10%", () => {
  // callee(n): loop n times, then throw. The caller catches with try_table catch_all.
  const spinThenThrow = [0x03, 0x40, 0x20, 0, ...I32(1), 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x08, 0];
  test("a callee that refuels and then throws is charged once (no double slice)", () => {
    // run: loop 1000 times { block $h { try_table (catch_all $h) { callee(1000) } } }
    const body = [0x03, 0x40, 0x02, 0x40, 0x1f, 0x40, 1, 0x02, 0, ...I32(1000), ...CALL(0), 0x0b, 0x0b, 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(1000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 1, body: spinThenThrow },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = ratio(bytes, "run");
    expect(r).toBeGreaterThanOrEqual(0.9);
    expect(r).toBeLessThanOrEqual(1.1);
  });

  test("frames unwound by an exception are not charged for code after their call", () => {
    // f(n): if n == 0 throw; f(n-1); 1,000 instructions
    const f = [0x20, 0, 0x45, 0x04, 0x40, 0x08, 0, 0x0b, 0x20, 0, ...I32(1), 0x6b, ...CALL(0), ...straight(1_000)];
    // run: loop 200 times { block $h { try_table (catch_all $h) { f(100) } } }
    const body = [0x03, 0x40, 0x02, 0x40, 0x1f, 0x40, 1, 0x02, 0, ...I32(100), ...CALL(0), 0x0b, 0x0b, 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(200), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 1, body: f },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = ratio(bytes, "run");
    expect(r).toBeGreaterThanOrEqual(0.9);
    expect(r).toBeLessThanOrEqual(1.1);
  });

  test("branching to a catch target before its try_table, after heavy work, refunds nothing", () => {
    // run: loop 1000 times { block $h { 2,000 instrs; br_if $h (1); try_table (catch_all $h) { nop() } } }
    const body = [0x03, 0x40, 0x02, 0x40, ...straight(2_000), ...I32(1), 0x0d, 0, 0x1f, 0x40, 1, 0x02, 0, ...CALL(0), 0x0b, 0x0b, 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(1000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 0, body: [] },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = ratio(bytes, "run");
    expect(r).toBeGreaterThanOrEqual(0.9);
    expect(r).toBeLessThanOrEqual(1.1);
  });

  test("falling through to a catch target after heavy work refunds nothing", () => {
    // run: loop 1000 times { block $h { try_table (catch_all $h) { nop() }; 2,000 instrs } }
    const body = [0x03, 0x40, 0x02, 0x40, 0x1f, 0x40, 1, 0x02, 0, ...CALL(0), 0x0b, ...straight(2_000), 0x0b, 0x20, 0, ...I32(1), 0x6a, 0x22, 0, ...I32(1000), 0x49, 0x0d, 0, 0x0b];
    const bytes = module([
      { type: 0, body: [] },
      { type: 0, locals: 1, export: "run", body },
    ]);
    const r = ratio(bytes, "run");
    expect(r).toBeGreaterThanOrEqual(0.9);
    expect(r).toBeLessThanOrEqual(1.1);
  });
});
