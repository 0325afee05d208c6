/**
 * Limits (fuel, deadline, memory, tables), run in-process against instrumented modules with
 * JS-provided imports. Every run must end with the named limit (or a trap), never
 * hang, crash or be caught by the guest.
 */
import { describe, expect, test } from "bun:test";
import { createMeter, instrument, limitError, parseSize, formatSize, type Meter, type StopReason } from "../../src/wasm/index.ts";
import { EXIT, FledgeError } from "../../src/ui/index.ts";
import { fixture, instantiate } from "./helpers.ts";

const MiB = 1 << 20;

interface Run {
  meter: Meter;
  result: unknown;
  error: unknown;
  /** ms past the deadline when the run ended (deadline runs only). */
  late: number | null;
}

/** Instruments a fixture and calls `fn` with `args` under the given limits. */
function run(
  name: string,
  fn: string | null,
  args: unknown[],
  limits: { fuel: bigint | null; timeoutMs?: number; maxMemoryBytes?: number },
  imports: (meter: Meter) => Record<string, Record<string, unknown>> = () => ({}),
): Run {
  const prepared = instrument(fixture(name), { fuel: true, maxMemoryBytes: limits.maxMemoryBytes ?? 256 * MiB });
  const deadline = limits.timeoutMs === undefined ? null : performance.now() + limits.timeoutMs;
  const meter = createMeter({ fuel: limits.fuel, deadline });
  let result: unknown;
  let error: unknown;
  try {
    const inst = instantiate(prepared.bytes, { ...imports(meter), ...meter.imports });
    meter.attach(inst.exports);
    if (fn) result = (inst.exports[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    error = e;
  }
  const late = deadline === null ? null : performance.now() - deadline;
  return { meter, result, error, late };
}

function expectStop(r: Run, reason: StopReason): void {
  expect(r.error).toBeDefined();
  expect(r.meter.isStop(r.error)).toBe(true);
  expect(r.meter.reason()).toBe(reason);
}

const lateness: string[] = [];
function noteLate(what: string, r: Run): void {
  if (r.late !== null) lateness.push(`${what}: deadline fired ${r.late.toFixed(2)} ms late`);
}

describe("F. limits", () => {
  test("F1 (loop (br 0)) stops on fuel", () => {
    const r = run("limits/spin", "run", [], { fuel: 50_000_000n });
    expectStop(r, "fuel");
    expect(r.meter.used()).toBeGreaterThanOrEqual(50_000_000n);
    expect(r.meter.used()).toBeLessThan(50_000_100n);
    // The meter ends the run with a trap (uncatchable by wasm handlers), never a JS exception.
    expect(r.error).toBeInstanceOf(WebAssembly.RuntimeError);
    const e = limitError(r.meter.reason()!, { fuel: 50_000_000n });
    expect(e.exitCode).toBe(EXIT.fuelExhausted);
    expect(e.message).toBe("fuel exhausted: the module used up its fuel budget of 50,000,000 units");
  });

  test("F1 (loop (br 0)) with unlimited fuel stops at the deadline", () => {
    const r = run("limits/spin", "run", [], { fuel: null, timeoutMs: 150 });
    expectStop(r, "deadline");
    noteLate("spin loop, unlimited fuel", r);
    expect(r.late).toBeGreaterThanOrEqual(0);
  });

  test("F2 a loop-free call tree (10 calls per level, nine levels) stops on fuel", () => {
    const r = run("limits/calltree", "run", [], { fuel: 20_000_000n });
    expectStop(r, "fuel");
  });

  test("F2 the call tree with unlimited fuel stops at the deadline", () => {
    const r = run("limits/calltree", "run", [], { fuel: null, timeoutMs: 100 });
    expectStop(r, "deadline");
    noteLate("call tree, unlimited fuel", r);
  });

  test("F3 infinite recursion overflows the stack as a trap, not a crash", () => {
    const r = run("limits/recursion", "recurse", [0], { fuel: null });
    expect(r.error).toBeInstanceOf(RangeError);
    expect(r.meter.isStop(r.error)).toBe(false);
    expect(r.meter.reason()).toBeNull();
  });

  test("F3 infinite return_call is stopped by fuel (and by the deadline)", () => {
    expectStop(run("limits/recursion", "tail", [0], { fuel: 10_000_000n }), "fuel");
    const r = run("limits/recursion", "tail", [0], { fuel: null, timeoutMs: 100 });
    expectStop(r, "deadline");
    noteLate("infinite return_call", r);
  });

  test("F4 memory.fill / memory.copy of the whole memory in a loop is charged by length", () => {
    // 16 pages = 1 MiB per fill = 65536 units; a 10M budget allows ~150 iterations.
    for (const fn of ["fill", "copy"]) {
      const r = run("limits/bulk", fn, [], { fuel: 10_000_000n });
      expectStop(r, "fuel");
    }
    const r = run("limits/bulk", "fill", [], { fuel: null, timeoutMs: 150 });
    expectStop(r, "deadline");
    noteLate("memory.fill loop", r);
  });

  test("F5 loops of cheap host calls stop on fuel and at the deadline", () => {
    const plain = () => ({ wasi_snapshot_preview1: { sched_yield: () => 0, clock_time_get: () => 0 } });
    expectStop(run("limits/hostcalls", "yield", [], { fuel: 5_000_000n }, plain), "fuel");
    const r = run("limits/hostcalls", "clock", [], { fuel: null, timeoutMs: 150 }, plain);
    expectStop(r, "deadline");
    noteLate("host-call loop (in-band checks only)", r);
    // Host functions that report to the meter are charged and checked in JS too.
    let calls = 0;
    const metered = (m: Meter) => ({
      wasi_snapshot_preview1: {
        sched_yield: () => {
          calls++;
          m.hostCall(100);
          return 0;
        },
        clock_time_get: () => 0,
      },
    });
    const charged = run("limits/hostcalls", "yield", [], { fuel: 5_000_000n }, metered);
    expectStop(charged, "fuel");
    expect(calls).toBeLessThan(5_000_000 / 100 + 10);
  });

  test("F6 a start section that loops forever stops during instantiation", () => {
    expectStop(run("limits/start-loop", null, [], { fuel: 10_000_000n }), "fuel");
    const r = run("limits/start-loop", null, [], { fuel: null, timeoutMs: 100 });
    expectStop(r, "deadline");
    noteLate("start section", r);
  });

  test("F7 memory.grow past the cap returns -1 instead of trapping", () => {
    const prepared = instrument(fixture("limits/grow"), { fuel: true, maxMemoryBytes: 4 * 65536 });
    const meter = createMeter({ fuel: 1_000_000_000n, deadline: null });
    const inst = instantiate(prepared.bytes, meter.imports);
    const grow = inst.exports.grow as (n: number) => number;
    expect(grow(2)).toBe(1);
    expect(grow(2)).toBe(-1);
    expect(grow(1)).toBe(3);
    expect(grow(1)).toBe(-1);
    // A huge delta simply fails; its charge is clamped so it does not exhaust the budget.
    expect(grow(-1)).toBe(-1);
    expect((inst.exports.size as () => number)()).toBe(4);
    expect(meter.reason()).toBeNull();
  });

  test("F7 a module declaring a 4 GiB minimum is refused with the memory message", () => {
    expect(() => instrument(fixture("limits/huge-min"), { fuel: true, maxMemoryBytes: 256 * MiB })).toThrow(
      "memory limit: the module needs 4 GiB, more than the memory limit of 256 MiB",
    );
  });

  test("F8 sleeps can be bounded: timeLeft() shrinks and host checks fire after the deadline", async () => {
    const meter = createMeter({ fuel: null, deadline: performance.now() + 30 });
    const before = meter.timeLeft();
    expect(before).toBeLessThanOrEqual(30);
    await Bun.sleep(before + 5);
    expect(meter.timeLeft()).toBe(0);
    let thrown: unknown;
    try {
      meter.hostCall();
    } catch (e) {
      thrown = e;
    }
    expect(meter.isStop(thrown)).toBe(true);
    expect(meter.reason()).toBe("deadline");
  });

  test("a stopped meter keeps refusing, so a guest cannot resume after a limit", () => {
    const r = run("limits/spin", "run", [], { fuel: 1_000_000n });
    expectStop(r, "fuel");
    expect(() => r.meter.hostCall()).toThrow();
  });

  test("report: how late the deadline fired", () => {
    // Reported, not asserted: wall-clock times depend on the machine.
    for (const line of lateness) console.log(`  ${line}`);
    expect(lateness.length).toBeGreaterThan(0);
  });
});

describe("limit errors", () => {
  test("fuel exhausted names the budget and --fuel", () => {
    const e = limitError("fuel", { fuel: 10_000_000_000n });
    expect(e).toBeInstanceOf(FledgeError);
    expect(e.exitCode).toBe(EXIT.fuelExhausted);
    expect(e.message).toBe("fuel exhausted: the module used up its fuel budget of 10,000,000,000 units");
    expect(e.hint).toBe("raise the limit with --fuel N, or remove it with --fuel none");
  });

  test("time limit names the timeout and --timeout", () => {
    const e = limitError("deadline", { timeoutMs: 60_000 });
    expect(e.exitCode).toBe(EXIT.timeLimit);
    expect(e.message).toBe("time limit reached: the module ran past its time limit of 60 s");
    expect(e.hint).toContain("--timeout SECONDS");
  });

  test("memory limit names the limit and --max-memory", () => {
    const e = limitError("memory", { maxMemoryBytes: 256 * MiB });
    expect(e.exitCode).toBe(EXIT.memoryLimit);
    expect(e.message).toBe("memory limit: the module needs more memory than the memory limit of 256 MiB");
    expect(e.hint).toContain("--max-memory SIZE");
  });

  test("parseSize", () => {
    expect(parseSize("256MiB")).toBe(256 * MiB);
    expect(parseSize("1GiB")).toBe(2 ** 30);
    expect(parseSize("1.5GiB")).toBe(1.5 * 2 ** 30);
    expect(parseSize("64k")).toBe(65536);
    expect(parseSize("64KiB")).toBe(65536);
    expect(parseSize("1MB")).toBe(1_000_000);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize(" 2 G ")).toBe(2 * 2 ** 30);
    for (const bad of ["", "abc", "-1MiB", "12 parsecs", "1e3"]) {
      expect(() => parseSize(bad)).toThrow(/invalid size/);
    }
    try {
      parseSize("lots");
    } catch (e) {
      expect((e as FledgeError).exitCode).toBe(EXIT.usage);
    }
    expect(formatSize(256 * MiB)).toBe("256 MiB");
    expect(formatSize(1000)).toBe("1000 bytes");
  });
});
