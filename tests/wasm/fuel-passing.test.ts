/**
 * Functions that take and return the fuel counter (instrument.ts passingFunctions)
 * change how the counter travels, never where it is charged or checked. Every guest
 * below mixes them with the other ways in (the host, a table, tail calls, exceptions,
 * the start function): each computes what the uninstrumented module computes, is
 * charged the instructions it executes (within 0.1%), and, run far past a small budget,
 * stops by fuel with an overdraft of at most about one body.
 */
import { describe, expect, test } from "bun:test";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";
import { fixture } from "./helpers.ts";

const raw = fixture("fuel/passing");
const noImports = {};

function metered(bytes: Uint8Array, fuel: bigint | null) {
  const meter = createMeter({ fuel, deadline: null });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
  meter.attach(inst.exports);
  return { meter, call: (name: string, arg: number) => (inst.exports[name] as (x: number) => unknown)(arg) };
}

const SMALL: [string, number][] = [
  ["deeptail", 500],
  ["mutual", 100],
  ["tailrec", 10_000],
  ["throwing", 300],
  ["catchall", 20],
  ["both", 300],
  ["pairs", 300],
];

describe("counter-passing functions", () => {
  test("functions no tail call or exception landing touches pass the counter to direct callers; one also reached otherwise through a clone", () => {
    // $r $a $h $thrower $mid1 $mid2 $pair in place; $leafboth (export, table, direct
    // calls) through a clone; not $t (tail calls), $spin (a try), $b (table only) or the exports.
    const { stats } = instrument(raw, { fuel: true, maxMemoryBytes: null });
    expect([stats.passingFunctions, stats.passingClones]).toEqual([8, 1]);
  });

  test("every export computes what the uninstrumented module computes, charged exactly what it executes", () => {
    const plain = new WebAssembly.Instance(new WebAssembly.Module(raw), noImports);
    const { meter, call } = metered(raw, null);
    const c = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(raw)), noImports);
    const count = c.exports[COUNT_EXPORT] as () => bigint;
    for (const [name, arg] of SMALL) {
      const u0 = meter.used();
      const c0 = count();
      const want = (plain.exports[name] as (x: number) => unknown)(arg);
      expect(call(name, arg)).toBe(want as never);
      (c.exports[name] as (x: number) => unknown)(arg);
      // Exact but for legacy catch_all landings, which main's meter already charges a
      // few units over (3 in 55,000 on "catchall", with or without passing functions).
      const charged = Number(meter.used() - u0);
      const executed = Number(count() - c0);
      expect([name, Math.abs(charged - executed) <= executed / 1000]).toEqual([name, true]);
    }
  });

  for (const [name, arg] of [
    ["deeptail", 2_800],
    ["mutual", 1e9],
    ["tailrec", 1e9],
    ["throwing", 1e9],
    ["catchall", 1e9],
    ["both", 1e9],
    ["pairs", 1e9],
  ] as const) {
    test(`${name}: far past the budget, stops by fuel with a bounded overdraft`, () => {
      const budget = 20_000n;
      const { meter, call } = metered(raw, budget);
      expect(() => call(name, arg)).toThrow();
      expect(meter.reason()).toBe("fuel");
      expect(meter.used()).toBeLessThan(budget + 200n);
    });
  }

  test("a start function that runs forever in a passing function stops by fuel during instantiation", () => {
    const meter = createMeter({ fuel: 20_000n, deadline: null });
    const mod = new WebAssembly.Module(instrument(fixture("fuel/passing-start"), { fuel: true, maxMemoryBytes: null }).bytes);
    expect(() => new WebAssembly.Instance(mod, meter.imports as never)).toThrow();
    expect(meter.reason()).toBe("fuel");
  });
});
