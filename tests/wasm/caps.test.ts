/**
 * Module-level caps (src/wasm/caps.ts): a module built to make the host allocate
 * before any limit applies (deep nesting, huge counts, huge tables) is refused with
 * a message naming the cap, before the engine validates or compiles it.
 */
import { describe, expect, test } from "bun:test";
import { DECODER_VERSION, MODULE_CAPS, TABLE_ELEMENTS_HARD } from "../../src/wasm/caps.ts";
import { instrument } from "../../src/wasm/instrument.ts";
import { parseModule } from "../../src/wasm/parse.ts";
import { hostVersionString } from "../../src/wasm/prepared.ts";
import { buildModule, oneFunc, section, uleb } from "./build-bytes.ts";

const HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

function outcome(bytes: Uint8Array): string {
  try {
    instrument(bytes, { fuel: true, maxMemoryBytes: 1 << 20 });
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
}

/** n functions of type 0 with empty bodies. */
function manyFunctions(n: number): Uint8Array {
  const funcs = new Uint8Array(n); // all type 0
  const bodies: number[] = [];
  const parts: Uint8Array[] = [new Uint8Array([...HEADER, ...section(1, [1, 0x60, 0, 0])])];
  const fs = [3, ...uleb(uleb(n).length + n), ...uleb(n)];
  parts.push(new Uint8Array(fs), funcs);
  for (let i = 0; i < n; i++) bodies.push(2, 0, 0x0b);
  const code = [...uleb(n), ...bodies];
  parts.push(new Uint8Array([10, ...uleb(code.length)]), new Uint8Array(code));
  return new Uint8Array(Buffer.concat(parts));
}

describe("each cap is refused by name", () => {
  test("module size over 64 MiB", () => {
    const big = new Uint8Array(MODULE_CAPS.moduleBytes + 1);
    big.set(HEADER);
    expect(outcome(big)).toMatch(/^module exceeds fledge's module size cap of 67,108,864: found 67,108,865 \(bytes\)$/);
  });
  test("999,999 functions are refused at the function section, quickly", () => {
    const m = manyFunctions(999_999);
    const t0 = performance.now();
    expect(outcome(m)).toMatch(/function count cap of 200,000: found 999,999/);
    // Not a timing assertion on speed, only that it finished without compiling anything.
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
  test("200,000 functions are within the cap", () => {
    expect(() => parseModule(manyFunctions(200_000))).not.toThrow();
  });
  test("a function body over 1 MiB", () => {
    const body = new Array(MODULE_CAPS.bodyBytes).fill(0x01); // nops
    expect(outcome(oneFunc(body))).toMatch(/function body size cap of 1,048,576/);
  });
  test("nesting deeper than 10,000 blocks; 10,000 is fine", () => {
    const nest = (d: number): number[] => {
      const b: number[] = [];
      for (let i = 0; i < d; i++) b.push(0x02, 0x40);
      for (let i = 0; i < d; i++) b.push(0x0b);
      return b;
    };
    expect(outcome(oneFunc(nest(10_001)))).toMatch(/block nesting depth cap of 10,000/);
    expect(outcome(oneFunc(nest(10_000)))).toBe("accepted");
    // The 4.5 MB of nested blocks.
    expect(outcome(oneFunc(nest(750_000)))).toMatch(/function body size cap|block nesting depth cap/);
  });
  test("locals over 49,997 in one function (the engine's 50,000 less the meter's 3), also when split into runs", () => {
    expect(outcome(buildModule({ bodies: [[]], locals: [[[49_998, 0x7f]]] }))).toMatch(/locals per function cap of 49,997/);
    expect(outcome(buildModule({ bodies: [[]], locals: [[[30_000, 0x7f], [30_000, 0x7e]]] }))).toMatch(/locals per function cap of 49,997: found 60,000/);
    // At the cap, the metered body (3 more locals) still compiles.
    const atCap = instrument(buildModule({ bodies: [[]], locals: [[[49_997, 0x7f]]] }), { fuel: true, maxMemoryBytes: 1 << 20 });
    expect(WebAssembly.validate(atCap.bytes)).toBe(true);
    expect(outcome(buildModule({ bodies: [[]], locals: [[[0xffffffff, 0x7f], [0xffffffff, 0x7f]]] }))).toMatch(/locals per function cap/);
  });
  test("more than 1000 parameters or results", () => {
    expect(outcome(buildModule({ types: [[new Array(1001).fill(0x7f), []]], bodies: [[]] }))).toMatch(/parameters per function type cap of 1,000: found 1,001/);
    expect(outcome(buildModule({ types: [[[], new Array(1001).fill(0x7f)]], bodies: [[0x00]] }))).toMatch(/parameters per function type cap/);
  });
  test("more than 100 tables", () => {
    const tables = [...uleb(101), ...new Array(101).fill([0x70, 0x00, 0x00]).flat()];
    expect(outcome(buildModule({ bodies: [[]], before: [[4, tables]] }))).toMatch(/table count cap of 100: found 101/);
  });
  test("br_table with more than 100,000 targets", () => {
    const targets = [0x0e, ...uleb(100_001), ...new Array(100_002).fill(0)];
    expect(outcome(oneFunc([0x02, 0x40, 0x41, 0x00, ...targets, 0x0b]))).toMatch(/br_table target count cap of 100,000/);
  });
  test("more than 10,000 imports; more than 100,000 types", () => {
    const imp = [0x01, 0x6d, 0x01, 0x66, 0x03, 0x7f, 0x00]; // "m" "f" global i32 const
    expect(outcome(buildModule({ bodies: [[]], before: [[2, [...uleb(10_001), ...new Array(10_001).fill(imp).flat()]]] }))).toMatch(/import count cap of 10,000/);
    const types = [...uleb(100_001), ...new Array(100_001).fill([0x60, 0, 0]).flat()];
    expect(outcome(new Uint8Array([...HEADER, ...section(1, types)]))).toMatch(/type count cap of 100,000/);
  });
});

describe("totals that a small module could otherwise multiply", () => {
  test("a passive element segment of more than 1M items (no table bounds it)", () => {
    const n = 1_000_001;
    const seg = [1, ...uleb(1), 0x00, ...uleb(n)];
    const payload = new Array(seg.length + n).fill(0);
    payload.splice(0, seg.length, ...seg);
    expect(outcome(buildModule({ bodies: [[]], before: [[9, payload]] }))).toMatch(/element segment item count cap of 1,000,000: found 1,000,001/);
  });
  test("more than 10,000 custom sections (3 bytes each)", () => {
    const customs: number[] = [];
    for (let i = 0; i < 10_001; i++) customs.push(0, 1, 0);
    expect(outcome(new Uint8Array([...HEADER, ...customs]))).toMatch(/custom section count cap of 10,000: found 10,001/);
  });
  test("more than 1M parameters and results over all types", () => {
    const t = [0x60, ...uleb(1000), ...new Array(1000).fill(0x7f), 0];
    const types: number[] = [...uleb(1001)];
    for (let i = 0; i < 1001; i++) for (const x of t) types.push(x);
    expect(outcome(new Uint8Array([...HEADER, ...section(1, types)]))).toMatch(/total function type entries cap of 1,000,000/);
  });
});

describe("tables: all tables together stay within the element limit", () => {
  const table = (min: number, max?: number): number[] => (max === undefined ? [0x70, 0x00, ...uleb(min)] : [0x70, 0x01, ...uleb(min), ...uleb(max)]);
  test("16 tables of 1M elements (the issue's 680 MiB) are refused", () => {
    const tables = [...uleb(16), ...new Array(16).fill(table(1 << 20)).flat()];
    expect(outcome(buildModule({ bodies: [[]], before: [[4, tables]] }))).toMatch(/table limit: the module's tables start with 16,777,216 elements in all, more than the limit of 1,048,576/);
  });
  test("growth room is shared: the maxima of 64 growable tables sum to at most the limit", () => {
    const tables = [...uleb(64), ...new Array(64).fill(table(0)).flat()];
    const r = instrument(buildModule({ bodies: [[]], before: [[4, tables]] }), { fuel: true, maxMemoryBytes: null });
    const m = parseModule(r.bytes);
    const sum = m.tables.reduce((a, t) => a + (t.limits.max ?? Infinity), 0);
    expect(sum).toBeLessThanOrEqual(1 << 20);
    expect(m.tables.every((t) => t.limits.max !== null && t.limits.max > 0)).toBe(true);
  });
  test("one table keeps its declared maximum; the option cannot pass the hard limit", () => {
    const one = buildModule({ bodies: [[]], before: [[4, [1, ...table(10, 5000)]]] });
    expect(parseModule(instrument(one, { fuel: true, maxMemoryBytes: null }).bytes).tables[0]!.limits.max).toBe(5000);
    const open = buildModule({ bodies: [[]], before: [[4, [1, ...table(10)]]] });
    const r = instrument(open, { fuel: true, maxMemoryBytes: null, maxTableElements: 1e9 });
    expect(parseModule(r.bytes).tables[0]!.limits.max).toBe(TABLE_ELEMENTS_HARD);
  });
});

test("the prepared-cache key names the decoder version, so a decoder change rebuilds every cache", () => {
  expect(hostVersionString(null)).toContain(`decoder ${DECODER_VERSION}`);
});
