/**
 * The checks the meter drops (src/wasm/checks.ts) never let a guest run unmetered:
 * only a leaf that nothing but a direct call reaches loses its entry check; every
 * call to it keeps the caller's after-call check; every after-call check stays. Each guest below runs far past a small budget and must stop
 * by fuel, with the fuel used no more than the budget plus a bounded overdraft.
 */
import { describe, expect, test } from "bun:test";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";
import { planChecks } from "../../src/wasm/checks.ts";
import type { BodyEdits } from "../../src/wasm/blocks.ts";
import { fixture } from "./helpers.ts";

const raw = fixture("fuel/checks");

function metered(fuel: bigint) {
  const meter = createMeter({ fuel, deadline: null });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(raw, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
  meter.attach(inst.exports);
  return { meter, call: (name: string, arg: number) => (inst.exports[name] as (x: number) => number)(arg) };
}

describe("dropped checks", () => {
  test("only the leaf that no host path reaches loses its entry check", () => {
    const r = instrument(raw, { fuel: true, maxMemoryBytes: null });
    // $leaf only: leafexp (export), $tleaf (table), $gleaf (ref.func in a global), $sleaf (start) keep theirs.
    expect(r.stats.uncheckedLeaves).toBe(1);
  });

  test("an exported leaf called again and again by the host stops at its own entry check", () => {
    const { meter, call } = metered(1_000n);
    expect(() => {
      for (let i = 0; i < 100_000; i++) call("leafexp", i);
    }).toThrow();
    expect(meter.reason()).toBe("fuel");
  });

  for (const [name, arg] of [
    ["loopleaf", 50_000_000],
    ["indirect", 50_000_000],
    ["deep", 20_000],
    ["chain", 20_000],
  ] as const) {
    test(`${name}: a run far past the budget stops by fuel with a bounded overdraft`, () => {
      const budget = 20_000n;
      const { meter, call } = metered(budget);
      expect(() => call(name, arg)).toThrow();
      expect(meter.reason()).toBe("fuel");
      // The overdraft: what ran between the last check and the stop.
      expect(meter.used()).toBeLessThan(budget + BigInt(arg > 100_000 ? 1_000 : 40 * arg));
    });
  }

  test("fuel still counts every instruction executed", () => {
    const meter = createMeter({ fuel: null, deadline: null });
    const m = new WebAssembly.Instance(new WebAssembly.Module(instrument(raw, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
    meter.attach(m.exports);
    const c = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(raw)), {});
    const count = c.exports[COUNT_EXPORT] as () => bigint;
    for (const [name, arg] of [["loopleaf", 1000], ["indirect", 1000], ["deep", 300], ["chain", 300]] as const) {
      const u0 = meter.used();
      const c0 = count();
      (m.exports[name] as (x: number) => number)(arg);
      (c.exports[name] as (x: number) => number)(arg);
      expect(Number(meter.used() - u0)).toBe(Number(count() - c0));
    }
  });
});

describe("the red team's overdraft", () => {
  test("a deep recursion whose frames run short tails on the way back stops by fuel, not 8x over its budget", () => {
    const tailRaw = fixture("fuel/tail");
    // Small enough that the engine's stack never overflows first (2,800 frames), with
    // tails adding ~170,000 units on the way back up: 8x the budget before the fix.
    const budget = 20_000n;
    const meter = createMeter({ fuel: budget, deadline: null });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(tailRaw, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
    meter.attach(inst.exports);
    expect(() => (inst.exports.tail as (n: number) => number)(2_800)).toThrow();
    expect(meter.reason()).toBe("fuel");
    // At most one body's worth past the budget.
    expect(meter.used()).toBeLessThan(budget + 200n);
  });
});

describe("planChecks", () => {
  const body = (over: Partial<BodyEdits>): BodyEdits => ({
    start: 0, costs: [], usedScratch: false, leaf: false, spent: 10, refs: [], callees: [], afterCalls: [],
    entry: { teeAt: 0, start: 0, end: 0 }, ...over,
  });
  const after = (callee: number, spentBefore: number, ordinal: number) => ({ teeAt: 0, start: 0, end: 0, callee, spentBefore, ordinal });

  test("a leaf escapes by export/table/start (escaped set) or by a ref.func in any body", () => {
    const plan = planChecks([body({ leaf: true }), body({ leaf: true }), body({ refs: [4] }), body({ leaf: true })], 1, new Set([2]));
    expect(plan.uncheckedLeaf).toEqual([true, false, false, false]);
  });

  test("every after-call check stays, even before a short tail", () => {
    // f0 = unchecked leaf (index 1 with one import); f1 calls: import 0, leaf 1, import 0 (short tail), import 0 (long tail)
    const caller = body({
      spent: 200,
      callees: [0, 1, 0, 0],
      afterCalls: [after(0, 0, 0), after(1, 5, 1), after(0, 190, 2), after(0, 100, 3)],
    });
    const plan = planChecks([body({ leaf: true }), caller], 1, new Set());
    expect(plan.droppedAfterCalls[1]).toEqual([]);
  });
});
