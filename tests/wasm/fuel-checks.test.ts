/**
 * The checks the meter drops (src/wasm/checks.ts) never let a guest run unmetered:
 * only a bounded function (no loop, calls only bounded functions, its whole call tree
 * at most MAX_UNCHECKED_UNITS) that nothing but a direct call reaches loses its entry
 * and after-call checks; elsewhere, only the checks after calls of bounded functions
 * go, while their bounds add up to at most MAX_UNCHECKED_UNITS per body. Each guest below runs far past a small budget and must stop by fuel, with the
 * fuel used no more than the budget plus a bounded overdraft.
 */
import { describe, expect, test } from "bun:test";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";
import { MAX_UNCHECKED_UNITS, planChecks } from "../../src/wasm/checks.ts";
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

describe("unchecked bounded functions", () => {
  const bounded = fixture("fuel/bounded");
  const env = { env: { ping: (x: number) => x } };
  function run(fuel: bigint | null) {
    const meter = createMeter({ fuel, deadline: null });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(bounded, { fuel: true, maxMemoryBytes: null }).bytes), { ...env, ...meter.imports } as never);
    meter.attach(inst.exports);
    return { meter, call: (name: string, arg: number) => (inst.exports[name] as (x: number) => number)(arg) };
  }

  test("only the bounded functions no host path reaches lose their checks", () => {
    const r = instrument(bounded, { fuel: true, maxMemoryBytes: null });
    // $leaf, $mid and the tree's levels under the cap; not $tab (table), $even/$odd
    // (recursion), $host (an import), the levels over the cap or the exports.
    expect(r.stats.uncheckedLeaves).toBeGreaterThanOrEqual(4);
    expect(r.stats.uncheckedLeaves).toBeLessThan(15);
    expect(r.stats.droppedAfterCallChecks).toBeGreaterThan(0);
  });

  for (const [name, arg] of [
    ["loopmid", 50_000_000],
    ["looptree", 50_000_000],
    ["mutual", 2_000],
    ["rtail", 2_000],
    ["rnext", 2_000],
    ["loopmany", 50_000_000],
    ["host", 50_000_000],
    ["indirect", 50_000_000],
  ] as const) {
    test(`${name}: a run far past the budget stops by fuel, at most one bounded call tree over`, () => {
      const budget = 20_000n;
      const { meter, call } = run(budget);
      expect(() => call(name, arg)).toThrow();
      expect(meter.reason()).toBe("fuel");
      expect(meter.used()).toBeLessThan(budget + BigInt(MAX_UNCHECKED_UNITS + 200));
    });
  }

  test("one call of a tree far larger than the cap stops inside it, at most one bounded call tree over", () => {
    // $t12 runs ~40,000 units in one call; the levels over the cap keep their checks.
    const budget = 2_000n;
    const { meter, call } = run(budget);
    expect(() => call("tree", 1)).toThrow();
    expect(meter.reason()).toBe("fuel");
    expect(meter.used()).toBeLessThan(budget + BigInt(MAX_UNCHECKED_UNITS + 200));
  });

  test("fuel still counts every instruction executed, and the results are the uninstrumented ones", () => {
    const { meter, call } = run(null);
    const c = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(bounded)), env as never);
    const plain = new WebAssembly.Instance(new WebAssembly.Module(bounded), env as never);
    const count = c.exports[COUNT_EXPORT] as () => bigint;
    for (const [name, arg] of [["loopmid", 1000], ["looptree", 100], ["tree", 3], ["mutual", 301], ["rtail", 100], ["rnext", 100], ["loopmany", 30], ["host", 1000], ["indirect", 1000]] as const) {
      const u0 = meter.used();
      const c0 = count();
      const got = call(name, arg);
      (c.exports[name] as (x: number) => number)(arg);
      expect([name, Number(meter.used() - u0)]).toEqual([name, Number(count() - c0)]);
      expect(got).toBe((plain.exports[name] as (x: number) => number)(arg));
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
    entry: { teeAt: 0, start: 0, end: 0 }, ...over, leafButCalls: over.leafButCalls ?? over.leaf ?? false,
  });
  const after = (callee: number, spentBefore: number, ordinal: number, nextCall = -1) => ({ teeAt: 0, start: 0, end: 0, callee, spentBefore, ordinal, nextCall });

  test("a leaf escapes by export/table/start (escaped set) or by a ref.func in any body", () => {
    const plan = planChecks([body({ leaf: true }), body({ leaf: true }), body({ refs: [4] }), body({ leaf: true })], 1, new Set([2]));
    expect(plan.uncheckedLeaf).toEqual([true, false, false, false]);
  });

  test("after-call checks stay after imports, indirect and unbounded callees, and past the cap", () => {
    // f0 = bounded leaf (index 1 with one import); f1 calls: import 0, leaf 1, import 0,
    // itself (recursion), leaf 1 again. Only the checks after the leaf's calls go.
    const caller = body({
      spent: 200,
      callees: [0, 1, 0, 2, 1],
      afterCalls: [after(0, 0, 0), after(1, 5, 1), after(0, 190, 2), after(2, 100, 3), after(1, 150, 4)],
    });
    expect(planChecks([body({ leaf: true }), caller], 1, new Set()).droppedAfterCalls[1]).toEqual([1, 4]);
    // Past the cap: a leaf of 600 units called three times loses the first check only.
    const big = body({ spent: 10, callees: [1, 1, 1], afterCalls: [after(1, 0, 0), after(1, 5, 1), after(1, 9, 2)] });
    expect(planChecks([body({ leaf: true, spent: 600 }), big], 1, new Set()).droppedAfterCalls[1]).toEqual([0]);
  });

  test("a check goes when straight code leads to a call of a function that keeps its entry check", () => {
    // f0 = unchecked leaf (1), f1 = exported (2, keeps its entry check), f2 calls: f2
    // (itself) then f1; f2 then f0; f2 then import 0; f2 with no call after.
    const caller = body({
      spent: 50,
      callees: [3, 2, 3, 1, 3, 0, 3],
      afterCalls: [after(3, 0, 0, 2), after(2, 0, 1), after(3, 0, 2, 1), after(1, 0, 3), after(3, 0, 4, 0), after(0, 0, 5), after(3, 0, 6)],
    });
    const plan = planChecks([body({ leaf: true }), body({ leaf: true }), caller], 1, new Set([2]));
    // 0: next is f1 (entry checked); 1 and 3: after the leaves (bounded); the rest stay.
    expect(plan.droppedAfterCalls[2]).toEqual([0, 1, 3]);
  });

  // One import (index 0); defined function k is index k + 1.
  const calls = (spent: number, ...callees: number[]) =>
    body({ leafButCalls: true, spent, callees, afterCalls: callees.map((c, k) => after(c, 0, k)) });

  test("a function that calls only bounded functions is unchecked, its after-call checks go with its entry check", () => {
    const plan = planChecks([body({ leaf: true }), calls(10, 1, 1), calls(10, 2)], 1, new Set());
    expect(plan.uncheckedLeaf).toEqual([true, true, true]);
    expect(plan.droppedAfterCalls).toEqual([[], [0, 1], [0]]);
  });

  test("recursion, mutual recursion, an import, an indirect call or a loop anywhere below keeps every check", () => {
    const cases: BodyEdits[][] = [
      [calls(10, 1)], // calls itself
      [calls(10, 2), calls(10, 1)], // mutual
      [calls(10, 0)], // an import: the host may call back in
      [calls(10, -1)], // call_indirect
      [body({ leaf: false }), calls(10, 1)], // calls a function with a loop
    ];
    for (const edits of cases) {
      const plan = planChecks(edits, 1, new Set());
      expect(plan.uncheckedLeaf.every((u) => !u)).toBe(true);
      expect(plan.droppedAfterCalls.every((d) => d.length === 0)).toBe(true);
    }
  });

  test("the bound adds one callee bound per call site and stops at MAX_UNCHECKED_UNITS", () => {
    const half = Math.floor(MAX_UNCHECKED_UNITS / 2);
    // f1 = leaf of `half` units; f2 calls it twice (2 * half + 10 > the cap); f3 once (half + 10).
    const plan = planChecks([body({ leaf: true, spent: half }), calls(10, 1, 1), calls(10, 1)], 1, new Set());
    expect(plan.uncheckedLeaf).toEqual([true, false, true]);
    // A function that escapes keeps its checks, bounded or not.
    expect(planChecks([body({ leaf: true }), calls(10, 1)], 1, new Set([2])).uncheckedLeaf).toEqual([true, false]);
  });
});
