/**
 * A fuel unit cannot be made to cost unbounded time through exception handlers (deadline
 * class). A `throw` is one instruction, but on every throw the engine searches the whole
 * handler table of each frame the exception reaches, including handlers that never run:
 * a try_table of K clauses in an `if 0` arm made every cheap throw/catch elsewhere in the
 * function cost K clause tests. So a function's handler count H is charged at its entry
 * and at every landing in it (src/wasm/eh.ts, handlerScan), H is capped per function
 * (src/wasm/caps.ts), the counting build counts the same (charged == counted), and the
 * meter's own deadline check comes as often as the work warrants, with no hard stop.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FledgeError } from "../../src/core/index.ts";
import { EXIT } from "../../src/ui/index.ts";
import { MODULE_CAPS } from "../../src/wasm/caps.ts";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
import { THROW_UNITS } from "../../src/wasm/eh.ts";
import { createMeter, instrument, runModuleFile } from "../../src/wasm/index.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";
import { uleb } from "./build-bytes.ts";

const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, payload: number[]): number[] => [id, ...uleb(payload.length), ...payload];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const repeat = (bytes: number[], k: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < k; i++) for (const b of bytes) out.push(b);
  return out;
};

/**
 * The red team's shapes. Each is one pass of a throwing loop (label 0 is the loop):
 *   try_table  try_table (catch $t -> the loop) throw $t end   (the landing is the loop header)
 *   legacy     try throw $t catch $t end; br 0                   (the landing is the catch body)
 *   callee     block try_table (catch $t -> the block) call $g end end; br 0   ($g throws)
 *   delegate   try (try ... throw $t delegate 0)*K catch $t end; br 0
 * and K never-entered handlers (an `if 0` arm) in the function that holds the throw:
 * the looping function for the first two, $g for callee. delegate has no dead arm: its
 * K delegates are the handlers.
 */
type Shape = "try_table" | "legacy" | "callee" | "delegate";

function deadArm(shape: Shape, k: number): number[] {
  if (shape === "delegate" || k === 0) return [];
  // legacy: try / catch $u / end, K times; otherwise one try_table of K `catch $u 0` clauses
  const inner = shape === "legacy" ? repeat([0x06, 0x40, 0x07, 0x01, 0x0b], k) : [0x1f, 0x40, ...uleb(k), ...repeat([0x00, 0x01, 0x00], k), 0x0b];
  return [0x41, 0x00, 0x04, 0x40, ...inner, 0x0b];
}

function throwPass(shape: Shape, k: number): number[] {
  switch (shape) {
    case "try_table":
      return [0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x0b];
    case "legacy":
      return [0x06, 0x40, 0x08, 0x00, 0x07, 0x00, 0x0b, 0x0c, 0x00];
    case "callee":
      return [0x02, 0x40, 0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, 0x10, 0x03, 0x0b, 0x0b, 0x0c, 0x00];
    case "delegate":
      return [0x06, 0x40, ...repeat([0x06, 0x40], k), 0x08, 0x00, ...repeat([0x18, 0x00], k), 0x07, 0x00, 0x0b, 0x0c, 0x00];
  }
}

/**
 * A WASI command: `_start` runs `fast` passes of a tight loop (so the meter's slice grows
 * to its maximum), then calls $spin, which throws forever. Also exports `run(n)`: n
 * passes of the throwing loop, then returns (for charged == counted). Functions:
 * 0 $spin, 1 $run, 2 _start, 3 $g (throws $t after its dead arm).
 */
function attackModule(shape: Shape, k: number, fast: number): Uint8Array {
  const dead = shape === "callee" ? [] : deadArm(shape, k);
  const pass = throwPass(shape, k);
  const spin = [0x00, ...dead, 0x03, 0x40, ...pass, 0x0b, 0x0b];
  // $run (n): loop; if n == 0 leave; n -= 1; <pass> end
  const run = [0x00, ...dead, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, ...pass, 0x0b, 0x0b];
  // _start: local i; loop i += 1; br_if i < fast; end; call $spin
  const start = [0x01, 0x01, 0x7f, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00, 0x41, ...sleb(fast), 0x49, 0x0d, 0x00, 0x0b, 0x10, 0x00, 0x0b];
  const g = [0x00, ...(shape === "callee" ? deadArm("try_table", k) : []), 0x08, 0x00, 0x0b];
  const body = (b: number[]): number[] => [...uleb(b.length), ...b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 0, 0], [0x60, 1, 0x7f, 0]])),
    ...section(3, vec([[0], [1], [0], [0]])),
    ...section(5, vec([[0x00, 0x01]])),
    ...section(13, vec([[0x00, 0x00], [0x00, 0x00]])),
    ...section(7, vec([[...name("memory"), 0x02, 0x00], [...name("_start"), 0x00, 0x02], [...name("run"), 0x00, 0x01]])),
    ...section(10, vec([body(spin), body(run), body(start), body(g)])),
  ]);
}

/** Fuel the meter charges and instructions the counting build counts for run(n). */
function chargedAndCounted(bytes: Uint8Array, n: number): { charged: bigint; counted: bigint } {
  const meter = createMeter({ fuel: null, deadline: null });
  const metered = new WebAssembly.Instance(new WebAssembly.Module(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes), meter.imports);
  meter.attach(metered.exports);
  const counting = new WebAssembly.Instance(new WebAssembly.Module(countingBuild(bytes)));
  const before = meter.used();
  (metered.exports.run as (n: number) => void)(n);
  (counting.exports.run as (n: number) => void)(n);
  return { charged: meter.used() - before, counted: (counting.exports[COUNT_EXPORT] as () => bigint)() };
}

const SHAPES: Shape[] = ["try_table", "legacy", "callee", "delegate"];

describe("a throw pays for the handlers the engine searches", () => {
  for (const shape of SHAPES) {
    test(`${shape}: charged == counted, and each throw pays the K handlers of the function it leaves or lands in`, () => {
      const k = shape === "delegate" ? 50 : 500;
      const n = 200;
      const { charged, counted } = chargedAndCounted(attackModule(shape, k, 10), n);
      expect(charged).toBe(counted);
      expect(charged).toBeGreaterThanOrEqual(BigInt(n * k));
      // Without handlers the same loop costs its throw and a handful of units a pass: the price is the handlers.
      if (shape !== "delegate") expect(chargedAndCounted(attackModule(shape, 0, 10), n).charged).toBeLessThan(BigInt(n * (20 + THROW_UNITS)));
    });
  }

  test("nested trys, delegate, catch and catch_all together: charged == counted", () => {
    // run(n): loop; if n == 0 leave; n -= 1;
    //   try (try (try throw $t delegate 0) catch $u catch_all end) catch $t catch_all end; br 0
    const pass = [0x06, 0x40, 0x06, 0x40, 0x06, 0x40, 0x08, 0x00, 0x18, 0x00, 0x07, 0x01, 0x19, 0x0b, 0x07, 0x00, 0x19, 0x0b, 0x0c, 0x00];
    const run = [0x00, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, ...pass, 0x0b, 0x0b];
    const body = (b: number[]): number[] => [...uleb(b.length), ...b];
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
      ...section(1, vec([[0x60, 1, 0x7f, 0], [0x60, 0, 0]])),
      ...section(3, vec([[0]])),
      ...section(13, vec([[0x00, 0x01], [0x00, 0x01]])),
      ...section(7, vec([[...name("run"), 0x00, 0x00]])),
      ...section(10, vec([body(run)])),
    ]);
    const { charged, counted } = chargedAndCounted(bytes, 1000);
    expect(charged).toBe(counted);
  });
});

describe("one function's handlers are capped", () => {
  const cap = MODULE_CAPS.handlers;

  test(`exactly ${cap.toLocaleString("en-US")} handlers are accepted`, () => {
    // The dead arm holds cap - 1 clauses; the throwing loop's try_table adds one.
    expect(() => instrument(attackModule("try_table", cap - 1, 10), { fuel: true, maxMemoryBytes: null })).not.toThrow();
  });

  for (const shape of ["try_table", "legacy", "callee"] as const) {
    test(`${shape}: one more is refused, naming the cap and the function`, () => {
      let err: unknown;
      try {
        instrument(attackModule(shape, cap + 1, 10), { fuel: true, maxMemoryBytes: null });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FledgeError);
      expect((err as FledgeError).code).toBe("wasm_cap");
      const fn = shape === "callee" ? 3 : 0;
      expect((err as FledgeError).message).toContain(`exception handler clauses per function cap of 10,000: found ${(cap + (shape === "callee" ? 1 : 2)).toLocaleString("en-US")} (function ${fn})`);
    });
  }
});

describe("throwing past dead handlers cannot outrun the deadline", () => {
  const dir = tempDir("fledge-eh-clauses-");
  afterAll(() => dir.cleanup());
  const env = { FLEDGE_CONFIG_DIR: join(dir.path, "cfg"), HOME: dir.path };
  const k = MODULE_CAPS.handlers - 1;

  for (const shape of ["try_table", "legacy", "callee"] as const) {
    const file = join(dir.path, `${shape}.wasm`);
    writeFileSync(file, attackModule(shape, k, 3_000_000));

    test(`${shape}, in process (the meter alone, no hard stop): stopped by the time limit`, async () => {
      const run = runModuleFile(file, { args: ["x"], env: [], preopens: [], fuel: null, timeoutMs: 500, maxMemoryBytes: null });
      await expect(run).rejects.toMatchObject({ code: "time_limit" });
    }, 30_000);
  }

  test("fledge wasm run --timeout 1: ends with the time-limit exit code", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--fuel", "none", "--timeout", "1", join(dir.path, "try_table.wasm")], { env, cwd: ROOT, timeoutMs: 60_000 });
    expect(r.code).toBe(EXIT.timeLimit);
    expect(r.stderr).toContain("time limit reached: the module ran past its time limit of 1 s");
  }, 90_000);

  test("fledge wasm run refuses a function over the handler cap before running it", () => {
    const file = join(dir.path, "over.wasm");
    writeFileSync(file, attackModule("try_table", MODULE_CAPS.handlers, 10));
    const r = runFledge(["wasm", "run", "--no-cache", file], { env, cwd: ROOT, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("exception handler clauses per function cap of 10,000: found 10,001 (function 0)");
  }, 90_000);
});
