/**
 * Fuel means instructions (issue 10 item 7): the fuel charged for a run must be within
 * 10% of the wasm instructions it executed. The executed count comes from an
 * independent build (src/wasm/count.ts: `counter += 1` before every instruction, no
 * block analysis), run on the same inputs. The workloads are the shapes that broke
 * the old per-loop-body charge: br_table dispatch (an interpreter), loops with early
 * exits, recursion, calls with early returns, exceptions caught mid-block, and a C
 * bytecode VM with a 128-arm switch.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { createMeter, instrument } from "../../src/wasm/index.ts";
import { ROOT } from "../helpers/cli.ts";
import { fixture } from "./helpers.ts";

type Imports = Record<string, Record<string, unknown>>;

/** Charged fuel / executed instructions for one call of `fn`, plus both results (which must agree). */
export function ratio(raw: Uint8Array, imports: Imports, fn: string, args: number[], init?: string): { ratio: number; same: boolean } {
  const meter = createMeter({ fuel: null, deadline: null });
  const metered = new WebAssembly.Instance(new WebAssembly.Module(instrument(raw, { fuel: true, maxMemoryBytes: null }).bytes), { ...imports, ...meter.imports } as never);
  meter.attach(metered.exports);
  const counting = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(raw)), imports as never);
  const call = (i: WebAssembly.Instance, name: string, a: number[] = []): unknown => (i.exports[name] as (...x: number[]) => unknown)(...a);
  if (init) {
    call(metered, init);
    call(counting, init);
  }
  const before = meter.used();
  const c0 = call(counting, COUNT_EXPORT) as bigint;
  const r1 = call(metered, fn, args);
  const r2 = call(counting, fn, args);
  const executed = (call(counting, COUNT_EXPORT) as bigint) - c0;
  const charged = meter.used() - before;
  return { ratio: Number(charged) / Number(executed), same: r1 === r2 };
}

const throwing: Imports = {
  env: {
    maybe_throw(i: number) {
      if (i % 3 === 0) throw new Error("from the host");
    },
  },
};

describe("fuel charged / instructions executed", () => {
  const wat = fixture("fuel/accuracy");
  const cases: [string, number[]][] = [
    ["loops", [100_000]],
    ["dispatch", [100_000]],
    ["fib", [20]],
    ["calls", [100_000]],
    ["eh", [10_000]],
    ["longjmp", [10_000]],
  ];
  for (const [fn, args] of cases) {
    test(`${fn}: within 10%`, () => {
      const r = ratio(wat, throwing, fn, args);
      expect(r.same).toBe(true);
      expect(r.ratio).toBeGreaterThanOrEqual(0.9);
      expect(r.ratio).toBeLessThanOrEqual(1.1);
    });
  }

  test("a C bytecode VM with a 128-arm dispatch switch: within 10%", () => {
    const vm = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wasi", "vm.wasm")));
    const stub = new Proxy({}, { get: () => () => 0 });
    const r = ratio(vm, { wasi_snapshot_preview1: stub }, "vm_run", [2000], "vm_init");
    expect(r.same).toBe(true);
    expect(r.ratio).toBeGreaterThanOrEqual(0.9);
    expect(r.ratio).toBeLessThanOrEqual(1.1);
  });
});
