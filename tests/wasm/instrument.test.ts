import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wasiClangTargetFlags } from "../../src/core/guest-toolchain.ts";
import { createMeter, decodeCode, emptyModule, encodeCode, encodeModule, FUEL_EXPORT, instrument, METER_MODULE, parseModule, type Instr } from "../../src/wasm/index.ts";
import { EXIT, FledgeError } from "../../src/ui/index.ts";
import { fixture, have, instantiate, outcome, rel, repoWasmFiles } from "./helpers.ts";

const MiB = 1 << 20;

/** Ample fuel, plus a deadline so a broken instrumenter cannot hang the suite. */
function meterFor(fuel: bigint | null = 100_000_000_000n) {
  return createMeter({ fuel, deadline: performance.now() + 30_000 });
}

/**
 * wasm-validate (wabt) agrees the bytes are valid. Not --enable-all: with
 * function-references on, wabt types ref.func as (ref $t) and then rejects valid
 * funcref code.
 */
function wabtValid(bytes: Uint8Array): boolean {
  const dir = mkdtempSync(join(tmpdir(), "fledge-val-"));
  const p = join(dir, "m.wasm");
  writeFileSync(p, bytes);
  return Bun.spawnSync(["wasm-validate", "--enable-tail-call", "--enable-extended-const", "--enable-exceptions", p], { stderr: "pipe" }).exitCode === 0;
}

interface Case {
  name: string;
  imports: () => Record<string, Record<string, unknown>>;
  calls: Array<[string, unknown[]]>;
}

const cases: Case[] = [
  {
    name: "mvp",
    imports: () => ({ env: { log: () => {} } }),
    calls: [
      ["dispatch", [0, 5, 3]],
      ["dispatch", [1, 5, 3]],
      ["dispatch", [3, 5, 3]],
      ["control", [0]],
      ["control", [1]],
      ["control", [2]],
      ["control", [3]],
      ["control", [9]],
      ["mem", [100]],
      ["mem", [70000]],
      ["floats", [-16]],
      ["ints", [-99n]],
      ["nop_unreachable", [0]],
      ["nop_unreachable", [1]],
    ],
  },
  { name: "sign-ext", imports: () => ({}), calls: [["ext", [0x1ff80, 0x12345678ff80n]]] },
  { name: "sat-trunc", imports: () => ({}), calls: [["sat", [1e20, -1e300]], ["sat", [NaN, 3.7]]] },
  { name: "multi-value", imports: () => ({}), calls: [["f", [100]], ["f", [6]]] },
  { name: "bulk-memory", imports: () => ({}), calls: [["bulk", []], ["bulk", []]] },
  { name: "reference-types", imports: () => ({}), calls: [["refs", [{ a: 1 }]], ["refs", [null]]] },
  { name: "simd", imports: () => ({}), calls: [["simd", [7]], ["simd", [-1]]] },
  { name: "tail-call", imports: () => ({}), calls: [["fact", [20n]], ["fact", [0n]]] },
  { name: "extended-const", imports: () => ({ env: { base: 1 } }), calls: [["g", []]] },
  {
    name: "branches",
    imports: () => ({}),
    calls: [
      ["nested", [10]],
      ["nested", [1000]],
      ["table", [0]],
      ["table", [1]],
      ["table", [2]],
      ["table", [4]],
      ["table", [5]],
      ["params", [10]],
      ["ret", [9]],
      ["value_loop", [5]],
    ],
  },
  { name: "limits/loops", imports: () => ({}), calls: [["intloop", [1000]], ["hash", [2]], ["floatloop", [1000]]] },
];

describe("instrumented modules", () => {
  for (const c of cases) {
    test(`${c.name}: validates and computes the same results`, () => {
      const original = fixture(c.name);
      const r = instrument(original, { fuel: true, maxMemoryBytes: 256 * MiB });
      expect(WebAssembly.validate(r.bytes)).toBe(true);
      if (have("wasm-validate")) expect(wabtValid(r.bytes)).toBe(true);
      const a = instantiate(original, c.imports());
      const meter = meterFor();
      const b = instantiate(r.bytes, { ...c.imports(), ...meter.imports });
      meter.attach(b.exports);
      for (const [fn, args] of c.calls) {
        const fa = a.exports[fn] as (...x: unknown[]) => unknown;
        const fb = b.exports[fn] as (...x: unknown[]) => unknown;
        const ra = outcome(() => fa(...args));
        const rb = outcome(() => fb(...args));
        if (typeof ra === "function") expect(typeof rb).toBe("function");
        else expect({ fn, args, r: rb }).toEqual({ fn, args, r: ra });
      }
      expect(meter.used()).toBeGreaterThan(0n);
      // The guest-facing analysis hides the meter's own import and export.
      expect(r.imports.some((i) => i.module === METER_MODULE)).toBe(false);
      expect(r.exports.some((e) => e.name === FUEL_EXPORT)).toBe(false);
    });
  }

  test("edge shapes: an empty module, imports only, a start function that is an import", () => {
    const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const r = instrument(empty, { fuel: true, maxMemoryBytes: null });
    expect(WebAssembly.validate(r.bytes)).toBe(true);
    // (module (type (func)) (import "env" "f" (func)) (start 0))
    const startImport = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 9, 1, 3, 0x65, 0x6e, 0x76, 1, 0x66, 0, 0, 8, 1, 0]);
    expect(WebAssembly.validate(startImport)).toBe(true);
    const r2 = instrument(startImport, { fuel: true, maxMemoryBytes: null });
    expect(WebAssembly.validate(r2.bytes)).toBe(true);
    let called = 0;
    const meter = meterFor();
    instantiate(r2.bytes, { env: { f: () => called++ }, ...meter.imports });
    expect(called).toBe(1);
    expect(parseModule(r2.bytes).start).toBe(0);
  });

  test("every accepted .wasm in the repository instruments to a valid module", () => {
    let n = 0;
    for (const file of repoWasmFiles()) {
      const bytes = new Uint8Array(readFileSync(file));
      let r;
      try {
        r = instrument(bytes, { fuel: true, maxMemoryBytes: null });
      } catch (e) {
        // Refused proposals, invalid-on-purpose fixtures and over-limit declarations.
        expect({ file: rel(file), e: String(e) }).toEqual({ file: rel(file), e: expect.stringMatching(/does not run|does not validate|limit/) });
        continue;
      }
      expect({ file: rel(file), valid: WebAssembly.validate(r.bytes) }).toEqual({ file: rel(file), valid: true });
      if (have("wasm-validate")) expect({ file: rel(file), wabt: wabtValid(r.bytes) }).toEqual({ file: rel(file), wabt: true });
      n++;
    }
    expect(n).toBeGreaterThan(20);
  }, 60_000);

  test("output is deterministic (the prepared-module cache relies on it)", () => {
    for (const name of ["mvp", "branches", "bulk-memory", "limits/loops"]) {
      const a = instrument(fixture(name), { fuel: true, maxMemoryBytes: 1 << 24 }).bytes;
      const b = instrument(fixture(name), { fuel: true, maxMemoryBytes: 1 << 24 }).bytes;
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
      // And its own round trip is byte-identical: every LEB it writes is minimal.
      expect(Buffer.from(encodeModule(parseModule(a))).equals(Buffer.from(a))).toBe(true);
      for (const c of parseModule(a).codes) expect(Buffer.from(encodeCode(decodeCode(c.code)).finish()).equals(Buffer.from(c.code))).toBe(true);
    }
  });

  test("without fuel, only limits change and code is untouched", () => {
    const r = instrument(fixture("mvp"), { fuel: false, maxMemoryBytes: 2 * 65536 });
    const m = parseModule(r.bytes);
    expect(m.memories[0]).toEqual({ flags: 1, min: 1, max: 2 });
    expect(m.imports.length).toBe(1);
    expect(m.codes.map((c) => Array.from(c.code))).toEqual(parseModule(fixture("mvp")).codes.map((c) => Array.from(c.code)));
  });

  test("fuel use grows with the work done", () => {
    const r = instrument(fixture("limits/loops"), { fuel: true, maxMemoryBytes: null });
    const used = (n: number): bigint => {
      const meter = meterFor();
      const inst = instantiate(r.bytes, meter.imports);
      meter.attach(inst.exports);
      (inst.exports.intloop as (n: number) => number)(n);
      return meter.used();
    };
    const small = used(1000);
    const big = used(100000);
    expect(small).toBeGreaterThanOrEqual(1000n * 10n); // ~11 instructions per iteration
    expect(big).toBeGreaterThan(small * 90n);
    expect(big).toBeLessThan(small * 110n);
  });

  test("function indices are remapped in calls, ref.func, elements, exports and start", () => {
    // start calls through the table; ref.func in a global and in code; an import shifts indices.
    const r = instrument(fixture("bulk-memory"), { fuel: true, maxMemoryBytes: null });
    const meter = meterFor();
    const inst = instantiate(r.bytes, meter.imports);
    expect((inst.exports.bulk as () => number)()).toBe((instantiate(fixture("bulk-memory")).exports.bulk as () => number)());
    const rt = instrument(fixture("reference-types"), { fuel: true, maxMemoryBytes: null });
    const m2 = meterFor();
    const i2 = instantiate(rt.bytes, m2.imports);
    const f = (i2.exports.fref as () => (x: number) => number)();
    expect(f(42)).toBe(42);
  });

  test.skipIf(!have("wat2wasm"))("the name section follows the shifted function indices", () => {
    const dir = mkdtempSync(join(tmpdir(), "fledge-names-"));
    const wat = join(dir, "n.wat");
    writeFileSync(wat, `(module (import "env" "imp" (func $imported)) (func $first (local $x i32)) (func $second (call $first)) (start $second))`);
    const wasm = join(dir, "n.wasm");
    expect(Bun.spawnSync(["wat2wasm", "--debug-names", wat, "-o", wasm]).exitCode).toBe(0);
    const r = instrument(new Uint8Array(readFileSync(wasm)), { fuel: true, maxMemoryBytes: null });
    const out = join(dir, "out.wasm");
    writeFileSync(out, r.bytes);
    const text = Bun.spawnSync(["wasm2wat", out]).stdout.toString();
    expect(text).toContain("(func $imported");
    expect(text).toMatch(/\(import "fledge:meter" "refuel" \(func \(;1;\)/);
    expect(text).toContain("(func $first (type");
    expect(text).toContain("(local $x i32)");
    expect(text).toContain("call $first");
    expect(text).toContain("(start $second)");
    let calls = 0;
    const meter = meterFor();
    instantiate(r.bytes, { env: { imp: () => calls++ }, ...meter.imports });
    expect(calls).toBe(0);
  });

  test("DWARF and linking custom sections are dropped; others are kept", () => {
    if (!have("clang")) return;
    const dir = mkdtempSync(join(tmpdir(), "fledge-dwarf-"));
    writeFileSync(join(dir, "a.c"), "int main(void) { return 0; }");
    expect(Bun.spawnSync(["clang", ...wasiClangTargetFlags(), "-O0", "-g", "-o", join(dir, "a.wasm"), join(dir, "a.c")]).exitCode).toBe(0);
    const bytes = new Uint8Array(readFileSync(join(dir, "a.wasm")));
    expect(parseModule(bytes).customs.some((c) => c.name.startsWith(".debug_"))).toBe(true);
    const names = parseModule(instrument(bytes, { fuel: true, maxMemoryBytes: null }).bytes).customs.map((c) => c.name);
    expect(names.some((n) => n.startsWith(".debug_"))).toBe(false);
    expect(names).toContain("name");
  });
});

describe("memory and table caps", () => {
  test("a defined memory's maximum is lowered to the cap, or added when missing", () => {
    const capped = parseModule(instrument(fixture("mvp"), { fuel: true, maxMemoryBytes: 2 * 65536 }).bytes);
    expect(capped.memories[0]).toEqual({ flags: 1, min: 1, max: 2 });
    const loose = parseModule(instrument(fixture("mvp"), { fuel: true, maxMemoryBytes: 100 * 65536 }).bytes);
    expect(loose.memories[0]!.max).toBe(4); // the declared max is already lower
    const noMax = parseModule(instrument(fixture("limits/grow"), { fuel: true, maxMemoryBytes: 3 * 65536 + 100 }).bytes);
    expect(noMax.memories[0]).toEqual({ flags: 1, min: 1, max: 3 });
  });

  test("a declared minimum above the cap is refused with the memory-limit error", () => {
    let err: unknown;
    try {
      instrument(fixture("limits/huge-min"), { fuel: true, maxMemoryBytes: 256 * MiB });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FledgeError);
    const fe = err as FledgeError;
    expect(fe.exitCode).toBe(EXIT.memoryLimit);
    expect(fe.code).toBe("memory_limit");
    expect(fe.message).toBe("memory limit: the module needs 4 GiB, more than the memory limit of 256 MiB");
    expect(fe.hint).toContain("--max-memory SIZE");
  });

  test("an imported memory is capped in the import and reported for the runner", () => {
    const r = instrument(fixture("limits/imported-memory"), { fuel: true, maxMemoryBytes: 5 * 65536 });
    expect(r.importedMemory).toEqual({ initial: 2, maximum: 5 });
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 5 });
    const meter = meterFor();
    const inst = instantiate(r.bytes, { env: { memory }, ...meter.imports });
    const grow = inst.exports.grow as (n: number) => number;
    expect(grow(3)).toBe(2);
    expect(grow(1)).toBe(-1);
  });

  test("tables are capped too", () => {
    const r = instrument(fixture("bulk-memory"), { fuel: true, maxMemoryBytes: null, maxTableElements: 12 });
    expect(parseModule(r.bytes).tables[0]!.limits).toEqual({ flags: 1, min: 8, max: 12 });
    expect(() => instrument(fixture("bulk-memory"), { fuel: true, maxMemoryBytes: null, maxTableElements: 4 })).toThrow(/table limit/);
  });

  test("reserved names are refused", () => {
    const meterImport = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 2, 18, 1, 12, ...new TextEncoder().encode("fledge:meter"), 1, 0x78, 0, 0]);
    expect(WebAssembly.validate(meterImport)).toBe(true);
    expect(() => instrument(meterImport, { fuel: true, maxMemoryBytes: null })).toThrow(/reserved module/);
  });
});

describe("rewrites that change an immediate's length", () => {
  const build = (nFuncs: number, bodies: (i: number) => Instr[]): Uint8Array => {
    const m = emptyModule();
    m.types.push({ params: [], results: [0x7f] });
    for (let i = 0; i < nFuncs; i++) {
      m.functions.push(0);
      m.codes.push({ locals: [], code: encodeCode(bodies(i)).finish() });
    }
    m.exports.push({ name: "main", kind: 0, index: nFuncs - 1 });
    return encodeModule(m);
  };

  test("a call index crossing 127 → 128 and a padded call index", () => {
    // f0..f127: fi returns i; f128 = main calls f127 (1-byte LEB → 2 bytes) and f5 via a 5-byte padded LEB.
    const bytes = build(129, (i) =>
      i < 128
        ? [{ op: 0x41, value: i }, { op: 0x0b }]
        : [{ op: 0x10, idx: 127 }, { op: 0x10, idx: 5 }, { op: 0x6a }, { op: 0x0b }],
    );
    // Re-pad the `call 5` as 5 bytes by hand: find 0x10 0x05 in the last body.
    const m = parseModule(bytes);
    const last = m.codes[128]!;
    const code = Array.from(last.code);
    const at = code.findIndex((b, k) => b === 0x10 && code[k + 1] === 5);
    code.splice(at + 1, 1, 0x85, 0x80, 0x80, 0x80, 0x00);
    last.code = new Uint8Array(code);
    const padded = encodeModule(m);
    expect(WebAssembly.validate(padded)).toBe(true);
    const r = instrument(padded, { fuel: true, maxMemoryBytes: null });
    const meter = meterFor();
    const inst = instantiate(r.bytes, meter.imports);
    expect((inst.exports.main as () => number)()).toBe(132);
  });

  test("a branch label crossing 127 → 130 out of an instrumented loop", () => {
    // main: 127 nested blocks, a loop inside, `br 127` from the loop to the outermost block.
    const body: Instr[] = [];
    for (let k = 0; k < 127; k++) body.push({ op: 0x02, idx: -64 });
    body.push({ op: 0x03, idx: -64 }, { op: 0x0c, idx: 127 }, { op: 0x0b });
    for (let k = 0; k < 127; k++) body.push({ op: 0x0b });
    body.push({ op: 0x41, value: 9 }, { op: 0x0b });
    const bytes = build(1, () => body);
    expect(WebAssembly.validate(bytes)).toBe(true);
    const r = instrument(bytes, { fuel: true, maxMemoryBytes: null });
    expect(WebAssembly.validate(r.bytes)).toBe(true);
    const meter = meterFor();
    expect((instantiate(r.bytes, meter.imports).exports.main as () => number)()).toBe(9);
    const br = parseModule(r.bytes).codes.flatMap((c) => decodeCode(c.code)).find((x) => x.op === 0x0c);
    expect(br?.idx).toBe(130);
  });
});
