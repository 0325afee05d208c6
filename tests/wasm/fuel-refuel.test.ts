/**
 * Refuels change nothing in what is charged: each refuel ends one slice and starts the
 * next, and the fuel charged over all slices equals the instructions executed, exactly.
 * A refuel at a loop header used to charge that header's block twice (once before the
 * refuel, again on re-entering the loop); the refuel path now gives the header's charge
 * back before re-entering (src/wasm/blocks.ts, emitLoopEpilogue).
 *
 * Each guest runs under a meter import that hands out slices of 1 to 34 units, so a
 * refuel lands on a loop header over and over: loop shapes (tests/fixtures/wat/fuel/
 * refuel.wat), the bench's loops and calls, bounded calls, exceptions, and a loop that
 * is a try_table catch target (its header reads the global, built here as bytes).
 */
import { describe, expect, test } from "bun:test";
import { MAX_UNCHECKED_UNITS } from "../../src/wasm/checks.ts";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { THROW_UNITS } from "../../src/wasm/eh.ts";
import { FUEL_EXPORT, METER_MODULE, REFUEL_NAME, instrument } from "../../src/wasm/index.ts";
import { fixture } from "./helpers.ts";

const SLICES = [1n, 2n, 3n, 5n, 8n, 13n, 21n, 34n];

/** The metered build under tiny slices: what it charged in total, and how many refuels. */
function tinySlices(raw: Uint8Array, env: object) {
  let refuels = 0;
  let consumed = 0n; // per slice: what it started with minus what was left at its refuel
  let start = 0n;
  const meter = {
    [REFUEL_NAME]: (remaining: bigint): bigint => {
      consumed += start - remaining;
      start = SLICES[refuels++ % SLICES.length]!;
      return start;
    },
  };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(raw, { fuel: true, maxMemoryBytes: null }).bytes), { ...env, [METER_MODULE]: meter } as never);
  const fuel = inst.exports[FUEL_EXPORT] as () => bigint;
  start = fuel();
  return {
    inst,
    charged: () => consumed + start - fuel(),
    refuels: () => refuels,
  };
}

/**
 * Runs each export in the metered build under tiny slices, in the counting build and in
 * the plain module. `unchecked`: units that may run between two checks beyond a slice
 * (calls of bounded functions skip theirs, see src/wasm/checks.ts).
 */
function exact(raw: Uint8Array, runs: readonly (readonly [string, number])[], env: object = {}, unchecked = 0): void {
  const m = tinySlices(raw, env);
  const c = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(raw)), env as never);
  const plain = new WebAssembly.Instance(new WebAssembly.Module(raw), env as never);
  const count = c.exports[COUNT_EXPORT] as () => bigint;
  for (const [name, arg] of runs) {
    const u0 = m.charged();
    const c0 = count();
    const r0 = m.refuels();
    const got = (m.inst.exports[name] as (x: number) => unknown)(arg);
    (c.exports[name] as (x: number) => unknown)(arg);
    expect([name, m.charged() - u0]).toEqual([name, count() - c0]);
    expect(got).toEqual((plain.exports[name] as (x: number) => unknown)(arg));
    // Tiny slices: the run refuelled at least once per 34 units (plus what may run unchecked).
    expect(m.refuels() - r0).toBeGreaterThanOrEqual(Math.max(1, Math.floor(Number(count() - c0) / (34 + unchecked))));
  }
}

// A loop that is a try_table catch target: loop $top { block $exit { try_table (catch_all $top)
// { i++; br_if $exit (i >= n); if (i & 1) throw; br $top } } }; return i.
function catchLoopModule(): Uint8Array {
  const body = [
    0x01, 0x01, 0x7f, // one i32 local
    0x03, 0x40, // loop $top
    0x02, 0x40, // block $exit
    0x1f, 0x40, 0x01, 0x02, 0x01, // try_table (catch_all 1 = $top)
    0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i = i + 1
    0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if $exit (i >= n)
    0x20, 0x01, 0x41, 0x01, 0x71, 0x04, 0x40, 0x08, 0x00, 0x0b, // if (i & 1) throw 0
    0x0c, 0x02, // br $top
    0x0b, 0x0b, 0x0b, // end try_table, block, loop
    0x20, 0x01, 0x0b, // i
  ];
  const name = [..."catchloop"].map((ch) => ch.charCodeAt(0));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x09, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, // types: (i32)->i32, ()->()
    0x03, 0x02, 0x01, 0x00, // one function of type 0
    0x0d, 0x03, 0x01, 0x00, 0x01, // one tag of type 1
    0x07, name.length + 4, 0x01, name.length, ...name, 0x00, 0x00, // export "catchloop"
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
}

describe("refuels at loop headers charge each block once", () => {
  test("loop shapes: nested, parameters and results, a run-once loop, loops in if arms", () => {
    exact(fixture("fuel/refuel"), [["nested", 300], ["params", 500], ["once", 400], ["branches", 600]]);
  });

  test("the bench's loops and calls", () => {
    exact(fixture("fuel/tight"), [["copy", 1], ["collatz", 300], ["smallcalls", 2_000]]);
    const env = { env: { maybe_throw: (i: number) => { if (i % 3 === 0) throw new Error("x"); } } };
    exact(fixture("fuel/accuracy"), [["loops", 500], ["dispatch", 500], ["fib", 12], ["calls", 500]], env);
    // A block that throws is charged its throw's price (THROW_UNITS) in one go.
    exact(fixture("fuel/accuracy"), [["eh", 200], ["longjmp", 100]], env, THROW_UNITS);
  });

  test("bounded calls inside loops, recursion, host and indirect calls", () => {
    exact(fixture("fuel/bounded"), [["loopmid", 300], ["looptree", 30], ["mutual", 101], ["rtail", 50], ["rnext", 50], ["loopmany", 10], ["host", 300], ["indirect", 300]], { env: { ping: (x: number) => x } }, MAX_UNCHECKED_UNITS);
  });

  test("a loop that is a try_table catch target (its header reads the global)", () => {
    exact(catchLoopModule(), [["catchloop", 400]], {}, THROW_UNITS);
  });
});
