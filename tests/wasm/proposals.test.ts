import { describe, expect, test } from "bun:test";
import { createMeter, decodeCode, instrument, parseModule, type Instr } from "../../src/wasm/index.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { fixture } from "./helpers.ts";

function allInstrs(name: string): Instr[] {
  const m = parseModule(fixture(name));
  return m.codes.flatMap((c) => decodeCode(c.code));
}

const has = (instrs: Instr[], op: number, sub?: number): boolean => instrs.some((i) => i.op === op && (sub === undefined || i.sub === sub));

describe("decoding each proposal's instructions", () => {
  test("MVP", () => {
    const i = allInstrs("mvp");
    expect(i.find((x) => x.op === 0x0e)).toEqual({ op: 0x0e, targets: [0, 1, 2], idx: 3 });
    expect(i.find((x) => x.op === 0x11)).toEqual({ op: 0x11, idx: 0, idx2: 0 });
    expect(i.find((x) => x.op === 0x36)).toEqual({ op: 0x36, align: 1, offset: 4 }); // align=2 bytes is log2 1
    expect(i.find((x) => x.op === 0x42 && x.big === 255n)).toBeTruthy();
    const f32 = i.find((x) => x.op === 0x43 && x.bytes![3] === 0x7f);
    expect(f32?.bytes).toEqual(new Uint8Array([0x00, 0x00, 0xa0, 0x7f])); // nan:0x200000 payload preserved
    for (const op of [0x00, 0x01, 0x04, 0x05, 0x0f, 0x1b, 0x3f, 0x40, 0x89, 0x99, 0x9f, 0xbb]) expect(has(i, op)).toBe(true);
  });

  test("sign-extension", () => {
    const i = allInstrs("sign-ext");
    for (const op of [0xc0, 0xc1, 0xc2, 0xc3, 0xc4]) expect(has(i, op)).toBe(true);
  });

  test("non-trapping float-to-int (0xFC 0-7)", () => {
    const i = allInstrs("sat-trunc");
    for (let sub = 0; sub <= 7; sub++) expect(has(i, 0xfc, sub)).toBe(true);
  });

  test("multi-value (type-index block types)", () => {
    const i = allInstrs("multi-value");
    const blocks = i.filter((x) => x.op === 0x02 || x.op === 0x03);
    expect(blocks.every((b) => b.idx! >= 0)).toBe(true); // type indices, not value types
    expect(parseModule(fixture("multi-value")).types.some((t) => t.results.length === 2)).toBe(true);
  });

  test("bulk memory and table ops (0xFC 8-17)", () => {
    const i = allInstrs("bulk-memory");
    for (let sub = 8; sub <= 17; sub++) if (sub !== 16) expect(has(i, 0xfc, sub)).toBe(true);
    expect(has(i, 0xfc, 16)).toBe(true);
    expect(i.find((x) => x.op === 0xfc && x.sub === 8)).toEqual({ op: 0xfc, sub: 8, idx: 0, idx2: 0 });
    const m = parseModule(fixture("bulk-memory"));
    expect(m.elements.map((e) => e.mode)).toEqual(["passive", "declarative"]);
    expect(m.datas.map((d) => d.flags)).toEqual([1, 0]);
    expect(m.dataCount).toBe(2);
  });

  test("reference types", () => {
    const i = allInstrs("reference-types");
    for (const op of [0xd0, 0xd1, 0xd2, 0x25, 0x26, 0x1c]) expect(has(i, op)).toBe(true);
    expect(i.find((x) => x.op === 0x1c)).toEqual({ op: 0x1c, types: [0x6f] });
    expect(has(i, 0xfc, 15) && has(i, 0xfc, 16) && has(i, 0xfc, 17)).toBe(true);
  });

  test("SIMD: memarg, lane, v128.const, shuffle, load/store lane", () => {
    const i = allInstrs("simd");
    const c = i.find((x) => x.op === 0xfd && x.sub === 0x0c)!;
    expect(Array.from(c.bytes!.slice(0, 8))).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    expect(i.find((x) => x.op === 0xfd && x.sub === 0x0d)?.bytes?.length).toBe(16);
    expect(i.find((x) => x.op === 0xfd && x.sub === 0x00)).toEqual({ op: 0xfd, sub: 0, align: 3, offset: 16 });
    expect(i.find((x) => x.op === 0xfd && x.sub === 0x1c)).toEqual({ op: 0xfd, sub: 0x1c, lane: 2 }); // i32x4.replace_lane
    expect(i.find((x) => x.op === 0xfd && x.sub === 0x56)).toEqual({ op: 0xfd, sub: 0x56, align: 2, offset: 0, lane: 1 });
    expect(i.find((x) => x.op === 0xfd && x.sub === 0x5b)).toEqual({ op: 0xfd, sub: 0x5b, align: 3, offset: 0, lane: 0 });
    expect(has(i, 0xfd, 0x5c) && has(i, 0xfd, 0x62) && has(i, 0xfd, 0xf8)).toBe(true);
  });

  test("tail calls", () => {
    const i = allInstrs("tail-call");
    expect(i.find((x) => x.op === 0x12)).toEqual({ op: 0x12, idx: 0 });
    expect(i.find((x) => x.op === 0x13)).toEqual({ op: 0x13, idx: 0, idx2: 0 });
  });

  test("extended-const in global, element and data offsets", () => {
    const m = parseModule(fixture("extended-const"));
    const g = decodeCode(m.globals[0]!.init);
    expect(g.map((x) => x.op)).toEqual([0x23, 0x41, 0x41, 0x6c, 0x6a, 0x0b]);
    expect(decodeCode(m.globals[1]!.init).map((x) => x.op)).toEqual([0x42, 0x42, 0x42, 0x7e, 0x7d, 0x0b]);
    expect(decodeCode(m.elements[0]!.offset!).map((x) => x.op)).toEqual([0x23, 0x41, 0x6a, 0x0b]);
    expect(decodeCode(m.datas[0]!.offset!).map((x) => x.op)).toEqual([0x23, 0x41, 0x6a, 0x0b]);
  });
});

describe("refused proposals", () => {
  const refusal = (bytes: Uint8Array): string => {
    try {
      instrument(bytes, { fuel: true, maxMemoryBytes: 1 << 28 });
    } catch (e) {
      expect(e).toBeInstanceOf(FledgeError);
      return (e as FledgeError).message;
    }
    throw new Error("module was not refused");
  };
  test("threads: shared memory", () => {
    expect(refusal(fixture("refused/threads"))).toBe("module uses the threads proposal (shared memory), which fledge does not run");
  });
  test("threads: atomics without shared memory", () => {
    expect(refusal(fixture("refused/atomics-unshared"))).toMatch(/threads proposal \(atomics\), which fledge does not run/);
  });
  test("exception handling is no longer refused: it runs metered (its stop stays a trap, see eh-stop.test.ts)", () => {
    const meter = createMeter({ fuel: 1_000_000n, deadline: null });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(instrument(fixture("refused/exceptions"), { fuel: true, maxMemoryBytes: 1 << 28 }).bytes), meter.imports as never);
    meter.attach(inst.exports);
    expect((inst.exports.f as () => number)()).toBe(1);
    expect(meter.used()).toBeGreaterThan(0n);
  });
  test("memory64", () => {
    expect(refusal(fixture("refused/memory64"))).toBe("module uses the memory64 proposal, which fledge does not run");
  });
  test("multi-memory", () => {
    expect(refusal(fixture("refused/multi-memory"))).toMatch(/^module uses the multi-memory proposal.*which fledge does not run$/);
  });
  test("GC: struct types and 0xFB opcodes", () => {
    // (type (struct (field i32))) — hand-written: wabt cannot assemble GC.
    const structType = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x5f, 1, 0x7f, 0]);
    expect(() => parseModule(structType)).toThrow("module uses the GC proposal (struct/array/recursive types), which fledge does not run");
    // A function whose body starts with a 0xFB-prefixed opcode (ref.i31).
    const gcOp = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 0x41, 0, 0xfb, 0x1c, 0x0b]);
    expect(() => instrument(gcOp, { fuel: true, maxMemoryBytes: null, validate: false })).toThrow(/GC proposal, which fledge does not run/);
    // GC value types (anyref) in a signature.
    const anyref = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 1, 0x6e, 0]);
    expect(() => parseModule(anyref)).toThrow(/GC proposal/);
  });
});
