/**
 * Load-time work is bounded (red-team finding: a 9 MB module of tiny loops took 13 s
 * and 2 GB to instrument and compile under --timeout 1, then ran). The attacker's
 * levers: a module whose metered form is many times its size (compile cost grows with
 * it), and a module that is simply slow to prepare and compile. Bounds: the
 * instrumented size cap (src/wasm/size-cap.ts, also checked while instrumenting) and the run's
 * deadline counted from the command's start, enforced during preparing (watchdog
 * thread, src/wasm/load-watchdog.ts) and compiling (withinDeadline).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { PLUGIN_LIMIT_DEFAULTS, preparePluginModule } from "../../src/host/index.ts";
import { abandonedLoadWork, checkPreparedSize, instrument, preparedSizeCap, withinDeadline } from "../../src/wasm/index.ts";
import { MIN_BYTES_PER_LOOP } from "../../src/wasm/blocks.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { section, uleb, vec } from "./build-bytes.ts";

const tmp = tempDir("fledge-load-bounds-");
afterAll(() => tmp.cleanup());
const env = { FLEDGE_CONFIG_DIR: join(tmp.path, "config"), HOME: tmp.path };
const MiB = 2 ** 20;

/**
 * `funcs` functions (one i32 local), each `loops` loops whose body adds 1 to the local
 * `adds` times, then `tail`; function 0 is `_start`, memory exported. Built into one
 * buffer (tens of MB).
 */
function loopsModule(funcs: number, loops: number, adds: number, tail: number[] = []): Uint8Array {
  const unit = [0x03, 0x40, ...Array.from({ length: adds }, () => [0x20, 0, 0x41, 1, 0x6a, 0x21, 0]).flat(), 0x0b];
  const bodyLen = 3 + unit.length * loops + tail.length + 1;
  const head = [
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 0, 0]])),
    ...section(3, vec(Array.from({ length: funcs }, () => [0]))),
    ...section(5, vec([[0, 1]])),
    ...section(7, vec([[...uleb(6), ...new TextEncoder().encode("_start"), 0, 0], [...uleb(6), ...new TextEncoder().encode("memory"), 2, 0]])),
  ];
  const oneBody = [...uleb(bodyLen), 1, 1, 0x7f];
  const codeLen = uleb(funcs).length + funcs * (oneBody.length + unit.length * loops + tail.length + 1);
  const codeHead = [10, ...uleb(codeLen), ...uleb(funcs)];
  const out = new Uint8Array(head.length + codeHead.length + codeLen - uleb(funcs).length);
  let p = 0;
  const put = (b: number[] | Uint8Array): void => {
    out.set(b, p);
    p += b.length;
  };
  put(head);
  put(codeHead);
  const u = new Uint8Array(unit);
  for (let f = 0; f < funcs; f++) {
    put(oneBody);
    for (let i = 0; i < loops; i++) put(u);
    put([...tail, 0x0b]);
  }
  expect(p).toBe(out.length);
  return out;
}

describe("instrumented size cap", () => {
  test("the cap is 4x the source, at least 16 MiB, at most 128 MiB", () => {
    expect(preparedSizeCap(1000)).toBe(16 * MiB);
    expect(preparedSizeCap(10 * MiB)).toBe(40 * MiB);
    expect(preparedSizeCap(64 * MiB)).toBe(128 * MiB);
    expect(() => checkPreparedSize(10 * MiB, 40 * MiB)).not.toThrow();
    expect(() => checkPreparedSize(10 * MiB, 40 * MiB + 1)).toThrow(/instrumented size cap of 40\.0 MiB/);
  });

  test("a module of tiny loops whose metered form passes the cap is refused before compiling", () => {
    // Empty loops: metering adds a charge per loop, many times the 3 bytes of `loop end`.
    const bytes = loopsModule(3, 300_000, 0);
    const file = join(tmp.path, "tiny-loops.wasm");
    writeFileSync(file, bytes);
    const r = runFledge(["wasm", "run", "--no-cache", file], { env });
    expect(r.stderr).toMatch(/module exceeds fledge's instrumented size cap of 16\.0 MiB/);
    expect(r.code).toBe(1);
  }, 60_000);

  test("the instrumenter itself stops once the bodies written so far must pass the cap", () => {
    // 3 bodies of 250,000 empty loops: each one meters to ~9 MiB, so the second one
    // already passes the 16 MiB cap and the third is never rewritten. (Their loops
    // alone, 750,000 x MIN_BYTES_PER_LOOP = 15.7 MiB, do not settle it before the rewrite.)
    const bytes = loopsModule(3, 250_000, 0);
    expect(3 * 250_000 * MIN_BYTES_PER_LOOP).toBeLessThan(16 * MiB);
    let message = "";
    try {
      instrument(bytes, { fuel: true, maxMemoryBytes: null });
    } catch (e) {
      message = String(e);
    }
    const m = /instrumented size cap of 16\.0 MiB .*metering made it more than ([\d.]+) MiB/.exec(message);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(16);
    expect(Number(m![1])).toBeLessThan(2 * 9.5);
  });

  test("a module that meters to just under the cap is still accepted (the early stop counts only bytes that stay)", () => {
    // ~37 bytes per metered empty loop once finished, more while charges still carry
    // their 5-byte placeholders: the unfinished rewrite passes 16 MiB, the result does not.
    const bytes = loopsModule(3, 146_000, 0);
    const grown = instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes.length;
    expect(grown).toBeGreaterThan(0.9 * preparedSizeCap(bytes.length));
    expect(() => checkPreparedSize(bytes.length, grown)).not.toThrow();
  });
});

describe("refusals come before the memory is spent", () => {
  const ok = (bytes: Uint8Array) => instrument(bytes, { fuel: true, maxMemoryBytes: null, validate: false }).bytes.length;
  const refusal = (bytes: Uint8Array): string => {
    try {
      instrument(bytes, { fuel: true, maxMemoryBytes: null });
    } catch (e) {
      return String(e);
    }
    return "accepted";
  };

  test("metering adds at least MIN_BYTES_PER_LOOP to every loop (the bound the early refusal relies on)", () => {
    for (const [funcs, loops, adds] of [[1, 1000, 0], [3, 500, 1], [2, 300, 4]] as const) {
      const bytes = loopsModule(funcs, loops, adds);
      expect(ok(bytes) - bytes.length).toBeGreaterThanOrEqual(funcs * loops * MIN_BYTES_PER_LOOP);
    }
    // Loops in unreachable code (after unreachable, br, return) are metered all the same.
    for (const dead of [[0x00], [0x0c, 0x00], [0x0f]]) {
      const body = [0, ...dead, ...Array.from({ length: 1000 }, () => [0x03, 0x40, 0x0b]).flat(), 0x0b];
      const bytes = new Uint8Array([
        ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
        ...section(1, vec([[0x60, 0, 0]])),
        ...section(3, vec([[0]])),
        ...section(7, vec([[1, 0x66, 0, 0]])),
        ...section(10, vec([[...uleb(body.length), ...body]])),
      ]);
      expect(ok(bytes) - bytes.length).toBeGreaterThanOrEqual(1000 * MIN_BYTES_PER_LOOP);
    }
  });

  test("a module whose loops alone pass the size cap is refused before the engine validates it", () => {
    // 3 x 270,000 empty loops, each body ending in `i32.add` on an empty stack: the
    // decoder takes it, the engine's validator does not. The refusal is the cap's, with
    // the loops' bound: nothing ran after decoding (the rewrite's bound would be higher).
    const fixed = loopsModule(3, 270_000, 0, [0x6a]);
    expect(WebAssembly.validate(fixed)).toBe(false);
    const least = (3 * 270_000 * MIN_BYTES_PER_LOOP) / MiB;
    expect(refusal(fixed)).toContain(`instrumented size cap of 16.0 MiB (4x the ${(fixed.length / MiB).toFixed(1)} MiB source, at least 16 MiB, at most 128 MiB): metering made it more than ${least.toFixed(1)} MiB`);
  });

  test("instrumenting holds no charge records, grown copies or piled-up garbage: its peak host memory stays under 4.2x the output", () => {
    // ~8 MB of loops with bodies, metered to ~24 MB. The floor is about 2.3x (the
    // rewrite before its gaps close, and the output it is encoded into); measured
    // 2.9-3.5x. Holding every body's charge records and garbage until the end (as the
    // instrumenter did) measured 4.7-4.9x.
    const file = join(tmp.path, "eight-mb.wasm");
    writeFileSync(file, loopsModule(20, 23_500, 2));
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "load-memory-child.ts"), file], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const { output, rise } = JSON.parse(r.stdout.toString()) as { output: number; rise: number };
    expect(output).toBeGreaterThan(20 * MiB);
    expect(rise).toBeLessThan(4.2 * output);
  }, 60_000);
});

describe("the deadline covers preparing and compiling", () => {
  // ~10 MB of loops with bodies: within the size cap, but a second or more to load.
  const file = join(tmp.path, "slow-load.wasm");
  writeFileSync(file, loopsModule(12, 20_000, 6));

  test("fledge wasm run: a load still running at the deadline ends with the time limit (exit 124)", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--timeout", "0.2", file], { env, timeoutMs: 60_000 });
    expect(r.stderr).toMatch(/time limit reached: the module ran past its time limit of 0\.2 s/);
    expect(r.code).toBe(EXIT.timeLimit);
  }, 60_000);

  test("the same module runs with enough time", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--timeout", "60", file], { env, timeoutMs: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  }, 120_000);

  test("plugins: preparing past the deadline is the plugin's time limit", async () => {
    const bytes = loopsModule(1, 10, 1);
    const limits = { ...PLUGIN_LIMIT_DEFAULTS, timeoutMs: 50 };
    // The run started a second ago: its 50 ms are long gone when preparing ends.
    const p = preparePluginModule(join(tmp.path, "p.wasm"), bytes, { limits, warn: () => {}, noCache: true, startedAt: performance.now() - 1000 });
    await expect(p).rejects.toMatchObject({ code: "time_limit", exitCode: EXIT.timeLimit });
  });

  test("withinDeadline: a compile still running at the deadline loses the race and is marked abandoned", async () => {
    let finish!: () => void;
    const work = new Promise<void>((resolve) => (finish = resolve));
    const stop = new Error("stopped at the deadline");
    await expect(withinDeadline(work, performance.now() + 20, () => stop)).rejects.toBe(stop);
    expect(abandonedLoadWork()).toBe(true);
    finish();
    await work;
    await Promise.resolve();
    expect(abandonedLoadWork()).toBe(false);
    // Work that ends in time is returned.
    expect(await withinDeadline(Promise.resolve(7), performance.now() + 1000, () => stop)).toBe(7);
    expect(await withinDeadline(Promise.resolve(8), null, () => stop)).toBe(8);
  });
});
