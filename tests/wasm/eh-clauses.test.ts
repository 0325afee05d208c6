/**
 * A fuel unit cannot be made to cost unbounded time through exception handlers (issue
 * 10, deadline class). A `throw` is one instruction, but the engine tests every catch
 * clause of every handler it unwinds through, and one try_table (or legacy try) may
 * hold hundreds of thousands of clauses. The attacker's shape: a fast loop first (so
 * the meter's slice grows to its maximum), then an endless loop whose every pass
 * throws through K non-matching clauses before an outer handler catches it back to
 * the loop header. Entering a handler is charged one unit per clause (src/wasm/eh.ts),
 * so the meter's own deadline check comes as often as the work warrants, and the
 * counting build counts the same (charged == counted); over the CLI the hard stop
 * thread (src/wasm/load-watchdog.ts) holds the deadline whatever a unit costs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { COUNT_EXPORT, countingBuild } from "../../src/wasm/count.ts";
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

/**
 * One pass of the throwing loop: throw tag 0 through K clauses that catch only tag 1,
 * caught by an outer handler that branches back to the enclosing loop (label 0 there).
 */
function throwThrough(kind: "try_table" | "legacy", k: number): number[] {
  if (kind === "try_table") {
    const clauses: number[] = [];
    for (let i = 0; i < k; i++) clauses.push(0x00, 0x01, 0x00); // catch $u 0
    return [0x1f, 0x40, 0x01, 0x00, 0x00, 0x00, 0x1f, 0x40, ...uleb(k), ...clauses, 0x08, 0x00, 0x0b, 0x0b];
  }
  const clauses: number[] = [];
  for (let i = 0; i < k; i++) clauses.push(0x07, 0x01); // catch $u
  // try (try throw $t (catch $u)*K end) catch $t end; br 0 (back to the loop)
  return [0x06, 0x40, 0x06, 0x40, 0x08, 0x00, ...clauses, 0x0b, 0x07, 0x00, 0x0b, 0x0c, 0x00];
}

/**
 * The attacker's module, as a WASI command: `_start` runs `fast` passes of a tight loop,
 * then calls `$spin`, which throws through K clauses forever. Also exports `run(n)`:
 * n passes of the throwing loop, then returns (for charged == counted).
 */
function attackModule(kind: "try_table" | "legacy", k: number, fast: number): Uint8Array {
  const pass = throwThrough(kind, k);
  // $spin: loop <pass> end
  const spin = [0x00, 0x03, 0x40, ...pass, 0x0b, 0x0b];
  // $run (n): loop; if n == 0 leave; n -= 1; <pass> end
  const run = [0x00, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, ...pass, 0x0b, 0x0b];
  // _start: local i; loop i += 1; br_if i < fast; end; call $spin
  const start = [0x01, 0x01, 0x7f, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x22, 0x00, 0x41, ...sleb(fast), 0x49, 0x0d, 0x00, 0x0b, 0x10, 0x00, 0x0b];
  const body = (b: number[]): number[] => [...uleb(b.length), ...b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 0, 0], [0x60, 1, 0x7f, 0]])),
    ...section(3, vec([[0], [1], [0]])),
    ...section(5, vec([[0x00, 0x01]])),
    ...section(13, vec([[0x00, 0x00], [0x00, 0x00]])),
    ...section(7, vec([[...name("memory"), 0x02, 0x00], [...name("_start"), 0x00, 0x02], [...name("run"), 0x00, 0x01]])),
    ...section(10, vec([body(spin), body(run), body(start)])),
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

describe("entering a handler costs its catch clauses", () => {
  for (const kind of ["try_table", "legacy"] as const) {
    test(`${kind}: charged == counted, and each pass is charged at least its clauses`, () => {
      const k = 500;
      const n = 200;
      const { charged, counted } = chargedAndCounted(attackModule(kind, k, 10), n);
      expect(charged).toBe(counted);
      expect(charged).toBeGreaterThanOrEqual(BigInt(n * k));
    });
  }

  test("a try ended by delegate, nested trys and clauses of both kinds: charged == counted", () => {
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

describe("throwing through huge handlers cannot outrun the deadline", () => {
  const dir = tempDir("fledge-eh-clauses-");
  afterAll(() => dir.cleanup());
  const env = { FLEDGE_CONFIG_DIR: join(dir.path, "cfg"), HOME: dir.path };

  for (const kind of ["try_table", "legacy"] as const) {
    // 100,000 clauses (a 300 KB module): charged one unit a pass, a 1M-unit slice ran
    // 33-37 s past a 0.5 s limit in process; charged by clause, it stops in about 0.6 s.
    const file = join(dir.path, `${kind}.wasm`);
    writeFileSync(file, attackModule(kind, 100_000, 3_000_000));

    test(`${kind}, in process (the meter alone): stopped by the time limit`, async () => {
      const run = runModuleFile(file, { args: ["x"], env: [], preopens: [], fuel: null, timeoutMs: 500, maxMemoryBytes: null });
      await expect(run).rejects.toMatchObject({ code: "time_limit" });
    }, 20_000);

    test(`${kind}, fledge wasm run --timeout 1: ends with the time-limit exit code`, () => {
      const r = runFledge(["wasm", "run", "--no-cache", "--fuel", "none", "--timeout", "1", file], { env, cwd: ROOT, timeoutMs: 60_000 });
      expect(r.code).toBe(EXIT.timeLimit);
      expect(r.stderr).toContain("time limit reached: the module ran past its time limit of 1 s");
    }, 90_000);
  }
});
