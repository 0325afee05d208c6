/**
 * The meter's stop cannot be caught (issue 10 items 7 and 9). With exception handling
 * a guest's `catch_all` catches JS exceptions thrown by imports, so the meter ends a
 * run with a trap (refuel returns STOP and the guest executes `unreachable`), and when
 * the host gate must throw from inside an import it first halts the guest's counter,
 * so every handler traps on entry. Attacker guests: try/catch_all and try_table
 * catch_all / catch_all_ref around spin loops and host-call loops, in the same
 * function and one frame up. Also: a refused memory.grow followed by a trap is the
 * memory limit (exit 123), for a WAT guest and a C guest whose malloc fails.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { runCommand, WasiExit, type ImportModules } from "../../src/wasi/index.ts";
import { createMeter, instrument, type Meter } from "../../src/wasm/index.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";
import { fixture } from "./helpers.ts";

function start(bytes: Uint8Array, meter: Meter, host: () => void): WebAssembly.Instance {
  const prepared = instrument(bytes, { fuel: true, maxMemoryBytes: null });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(prepared.bytes), { env: { host }, ...meter.imports } as never);
  meter.attach(inst.exports);
  return inst;
}

/** Runs export `fn` until it throws; returns what it threw and how often a guest handler ran. */
function attack(bytes: Uint8Array, fn: string, limits: { fuel: bigint | null; timeoutMs: number | null }): { error: unknown; handled: number; meter: Meter } {
  const meter = createMeter({ fuel: limits.fuel, deadline: limits.timeoutMs === null ? null : performance.now() + limits.timeoutMs });
  const inst = start(bytes, meter, () => meter.hostCall());
  let error: unknown;
  try {
    (inst.exports[fn] as () => void)();
  } catch (e) {
    error = e;
  }
  const handled = inst.exports.handled instanceof WebAssembly.Global ? Number(inst.exports.handled.value) : 0;
  return { error, handled, meter };
}

/** A module: import env.host () -> (), one exported function `run` with `body`, an exported mutable i32 global `handled`. */
function handAssembled(body: number[]): Uint8Array {
  const sec = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
  const str = (s: string): number[] => [s.length, ...new TextEncoder().encode(s)];
  const code = [0, ...body, 0x0b]; // no locals
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...sec(1, [1, 0x60, 0, 0]),
    ...sec(2, [1, ...str("env"), ...str("host"), 0, 0]),
    ...sec(3, [1, 0]),
    ...sec(6, [1, 0x7f, 1, 0x41, 0, 0x0b]),
    ...sec(7, [2, ...str("run"), 0, 1, ...str("handled"), 3, 0]),
    ...sec(10, [1, ...leb(code.length), ...code]),
  ]);
}

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

const INC_HANDLED = [0x23, 0, 0x41, 1, 0x6a, 0x24, 0]; // handled += 1
/** loop { block $h { try_table (catch_all $h) { loop { <inner>; br 0 } } } handled += 1; br 0 } */
const TRY_TABLE_CATCH_ALL = (inner: number[]): number[] => [
  0x03, 0x40, 0x02, 0x40, 0x1f, 0x40, 1, 0x02, 0, 0x03, 0x40, ...inner, 0x0c, 0, 0x0b, 0x0b, 0x0b, ...INC_HANDLED, 0x0c, 0, 0x0b,
];
/** loop { block $h (result exnref) { try_table (catch_all_ref $h) { loop { <inner>; br 0 } } unreachable } drop; handled += 1; br 0 } */
const TRY_TABLE_CATCH_ALL_REF = (inner: number[]): number[] => [
  0x03, 0x40, 0x02, 0x69, 0x1f, 0x40, 1, 0x03, 0, 0x03, 0x40, ...inner, 0x0c, 0, 0x0b, 0x0b, 0x00, 0x0b, 0x1a, ...INC_HANDLED, 0x0c, 0, 0x0b,
];
const CALL_HOST = [0x10, 0];

describe("the stop is a trap that exception handlers cannot catch", () => {
  const wat = fixture("fuel/eh-stop");
  const guests: [string, Uint8Array, string][] = [
    ["legacy try/catch_all around a spin loop", wat, "spin"],
    ["legacy try/catch_all around a host-call loop", wat, "host_loop"],
    ["legacy try/catch_all one frame above the host-call loop", wat, "host_loop_deep"],
    ["a loop that throws and catches its own tagged exception", wat, "throw_loop"],
    ["try_table catch_all around a spin loop", handAssembled(TRY_TABLE_CATCH_ALL([])), "run"],
    ["try_table catch_all around a host-call loop", handAssembled(TRY_TABLE_CATCH_ALL(CALL_HOST)), "run"],
    ["try_table catch_all_ref around a host-call loop", handAssembled(TRY_TABLE_CATCH_ALL_REF(CALL_HOST)), "run"],
  ];
  for (const [what, bytes, fn] of guests) {
    test(`${what}: stopped by fuel`, () => {
      const r = attack(bytes, fn, { fuel: 2_000_000n, timeoutMs: null });
      expect(r.error).toBeDefined();
      expect(r.meter.isStop(r.error)).toBe(true);
      expect(r.meter.reason()).toBe("fuel");
      expect(r.handled).toBe(0);
    });
    test(`${what}: stopped by the deadline`, () => {
      const r = attack(bytes, fn, { fuel: null, timeoutMs: 100 });
      expect(r.meter.isStop(r.error)).toBe(true);
      expect(r.meter.reason()).toBe("deadline");
      expect(r.handled).toBe(0);
    });
  }

  test("a try_table whose catch_all branches back to its loop's header: no handler run after the deadline stop", () => {
    // loop $l { handled += 1; try_table (catch_all $l) { call host } }
    const bytes = handAssembled([0x03, 0x40, ...INC_HANDLED, 0x1f, 0x40, 1, 0x02, 0, ...CALL_HOST, 0x0b, 0x0b]);
    const meter = createMeter({ fuel: null, deadline: performance.now() + 100 });
    let atStop: number | null = null;
    let inst: WebAssembly.Instance | null = null;
    inst = start(bytes, meter, () => {
      try {
        meter.hostCall();
      } catch (e) {
        atStop ??= Number((inst!.exports.handled as WebAssembly.Global).value);
        throw e;
      }
      throw new Error("caught by the guest, which loops");
    });
    expect(() => (inst!.exports.run as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(meter.reason()).toBe("deadline");
    expect(atStop).not.toBeNull();
    expect(Number((inst.exports.handled as WebAssembly.Global).value)).toBe(atStop!);
  });

  test("the handlers do catch the host's own exceptions (the guests are not vacuous)", () => {
    const meter = createMeter({ fuel: 2_000_000n, deadline: null });
    const inst = start(handAssembled(TRY_TABLE_CATCH_ALL_REF(CALL_HOST)), meter, () => {
      throw new Error("caught by the guest");
    });
    expect(() => (inst.exports.run as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(meter.reason()).toBe("fuel");
    expect((inst.exports.handled as WebAssembly.Global).value).toBeGreaterThan(100);
  });
});

describe("an exit from any host import cannot be caught", () => {
  test("fledge.exit inside try/catch_all: the run ends with the guest's code, the handler never runs", async () => {
    const meter = createMeter({ fuel: null, deadline: null });
    const prepared = instrument(fixture("fuel/exit-eh"), { fuel: true, maxMemoryBytes: null });
    let escaped = 0;
    const fledge = {
      exit(code: number): never {
        throw new WasiExit(code);
      },
      escaped() {
        escaped++;
      },
    };
    // The fledge module is linked through the run's gate like every host module.
    const r = await runCommand(
      new WebAssembly.Module(prepared.bytes),
      { args: ["exit-eh"], env: [], preopens: [], budget: meter, onInstance: (i) => meter.attach(i.exports) },
      { fledge },
      meter.imports as ImportModules,
    );
    expect(r.exitCode).toBe(7);
    expect(escaped).toBe(0);
  });
});

describe("fledge wasm run: limits reach the user through exception handlers", () => {
  const dir = tempDir("fledge-eh-");
  afterAll(() => dir.cleanup());
  const env = { FLEDGE_CONFIG_DIR: join(dir.path, "cfg"), HOME: dir.path };
  const guest = (name: string): string => join(ROOT, "tests", "fixtures", "wasi", name);

  test("try/catch_all around a host-call loop: fuel, exit 122", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--fuel", "5000000", guest("eh_spin.wasm")], { env });
    expect(r.code).toBe(EXIT.fuelExhausted);
    expect(r.stderr).toContain("fuel exhausted: the module used up its fuel budget of 5,000,000 units");
    expect(r.stderr).toContain("--fuel");
  });

  test("try/catch_all around a host-call loop: time limit, exit 124", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--fuel", "none", "--timeout", "1", guest("eh_spin.wasm")], { env });
    expect(r.code).toBe(EXIT.timeLimit);
    expect(r.stderr).toContain("time limit reached");
  });

  test("memory.grow refused by --max-memory, then a trap: the memory limit, exit 123", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--max-memory", "4MiB", guest("grow_abort.wasm")], { env });
    expect(r.code).toBe(EXIT.memoryLimit);
    expect(r.stderr).toContain("memory limit: the module needs 4.0625 MiB, more than the memory limit of 4 MiB");
    expect(r.stderr).toContain("--max-memory");
  });

  test("a C program whose malloc fails and aborts: the memory limit, exit 123", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--max-memory", "16MiB", guest("malloc_abort.wasm")], { env });
    expect(r.code).toBe(EXIT.memoryLimit);
    expect(r.stderr).toContain("malloc failed");
    expect(r.stderr).toContain("memory limit of 16 MiB");
    expect(r.stderr).toContain("--max-memory");
  });

  test("a plain trap with no refused growth stays a trap (exit 121)", () => {
    const r = runFledge(["wasm", "run", "--no-cache", guest("grow_abort.wasm")], { env });
    // Without a memory cap below 4 GiB the loop grows to the wasm32 maximum: the -1
    // there is not fledge's limit.
    expect([EXIT.trap, EXIT.memoryLimit] as number[]).toContain(r.code);
  });

  test("the bytecode VM's one-second workload finishes under the default limits", () => {
    const r = runFledge(["wasm", "run", "--no-cache", guest("vm.wasm")], { env, timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vm: 700000 iterations, checksum [0-9a-f]{8}\n$/);
  });
});
