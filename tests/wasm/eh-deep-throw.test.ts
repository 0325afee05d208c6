/**
 * A throw's engine cost grows with the depth of the whole wasm stack (JavaScriptCore
 * walks it on every throw, even one caught in its own frame): 10,000 throws took 5 ms
 * at depth 1 and 0.9 s at depth 40,000. Priced at one unit, a guest that first ran
 * cheap code (so the meter's slices grew to their largest) and then threw in a loop
 * at depth 30,000 outlived a 1 s in-process deadline by 3.4 s. A throw now costs
 * THROW_UNITS on top (src/wasm/eh.ts), so a slice of throws ends about as fast as a
 * slice of ordinary code. Checked: such a guest stops at the deadline (the bound is a
 * generous "not seconds late", not a ratio), fuel counts the price, and the counting
 * build agrees with the meter.
 */
import { describe, expect, test } from "bun:test";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { THROW_UNITS } from "../../src/wasm/eh.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";

const str = (s: string): number[] => [s.length, ...new TextEncoder().encode(s)];
const sec = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * run(fast, depth, throws): `fast` iterations of a cheap loop, then recursion `depth`
 * frames deep, then `throws` legacy throw+catch pairs in the bottom frame (0: forever).
 */
function deepThrower(): Uint8Array {
  // $rec(depth, throws): if depth { $rec(depth - 1, throws) } else { loop { try { throw } catch {} ; if --throws == 0 return; br loop } }
  const rec = [
    0, 0x20, 0, 0x04, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x20, 1, 0x10, 0, 0x05,
    0x03, 0x40, 0x06, 0x40, 0x08, 0, 0x07, 0, 0x0b,
    0x20, 1, 0x41, 1, 0x6b, 0x22, 1, 0x45, 0x0d, 1, 0x0c, 0, 0x0b, 0x0b, 0x0b,
  ];
  // run(fast, depth, throws) with local $i: loop { $i += 1; br_if ($i < fast) } $rec(depth, throws)
  const run = [1, 1, 0x7f, 0x03, 0x40, 0x20, 3, 0x41, 1, 0x6a, 0x22, 3, 0x20, 0, 0x49, 0x0d, 0, 0x0b, 0x20, 1, 0x20, 2, 0x10, 0, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...sec(1, [3, 0x60, 2, 0x7f, 0x7f, 0, 0x60, 0, 0, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]),
    ...sec(3, [2, 0, 2]),
    ...sec(13, [1, 0, 1]),
    ...sec(7, [1, ...str("run"), 0, 1]),
    ...sec(10, [2, ...leb(rec.length), ...rec, ...leb(run.length), ...run]),
  ]);
}

describe("a throw is priced for the engine's stack walk", () => {
  const bytes = deepThrower();

  test("fuel counts the throw price, and the counting build agrees with the meter", () => {
    const meter = createMeter({ fuel: null, deadline: null });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
    meter.attach(inst.exports);
    (inst.exports.run as (a: number, b: number, c: number) => void)(0, 10, 1_000);
    expect(meter.used()).toBeGreaterThanOrEqual(1_000n * BigInt(THROW_UNITS));
    const counted = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(bytes)), {});
    (counted.exports.run as (a: number, b: number, c: number) => void)(0, 10, 1_000);
    expect((counted.exports[COUNT_EXPORT] as () => bigint)()).toBe(meter.used());
  });

  test("throwing forever 8,000 frames deep after a fast phase stops at an in-process deadline, not seconds later", () => {
    const meter = createMeter({ fuel: null, deadline: performance.now() + 300 });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports as never);
    meter.attach(inst.exports);
    const t0 = performance.now();
    let error: unknown;
    try {
      (inst.exports.run as (a: number, b: number, c: number) => void)(30_000_000, 8_000, 0);
    } catch (e) {
      error = e;
    }
    const elapsed = performance.now() - t0;
    expect(meter.isStop(error)).toBe(true);
    expect(meter.reason()).toBe("deadline");
    // Priced at one unit, one largest slice of such throws took 1.5 s here (0.3 s now).
    expect(elapsed).toBeLessThan(300 + 1_000);
  }, 30_000);
});
