/**
 * Hostile encodings against the strict decoder. The attack: make fledge's decoder
 * and the engine's disagree about where instructions start, so that bytes fledge
 * skipped as an immediate run unmetered (issue 10 item 1: `02 63 fd 0c ...` read
 * as a one-byte block type, then a v128.const swallowing 16 bytes that held a loop).
 * Rule under test: an encoding outside the table in opcodes.ts is refused with the
 * feature or opcode and a byte offset, before the engine sees the module.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeCode, encodeCode } from "../../src/wasm/code.ts";
import { decodeModule } from "../../src/wasm/decoder.ts";
import { instrument } from "../../src/wasm/instrument.ts";
import { FEATURES, Imm, isKnownFD, MAIN_IMM } from "../../src/wasm/opcodes.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { buildModule, oneFunc, uleb } from "./build-bytes.ts";

function refusal(bytes: Uint8Array): string {
  try {
    decodeModule(bytes);
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
}

function meter(bytes: Uint8Array): string {
  try {
    instrument(bytes, { fuel: true, maxMemoryBytes: 1 << 20 });
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
}

// A loop that would spin 2^32 times: what an attacker hides inside "immediates".
const LOOP = [0x03, 0x40, 0x0c, 0x00, 0x0b];
const FUNCREF = /function-references proposal/;

describe("the issue's instance and its class: reference types with heap-type immediates", () => {
  // The issue's module: `block (result (ref null 1661))` is `02 63 fd 0c`, and 1661's
  // LEB `fd 0c` reads as v128.const to a lax decoder, which then skips the next 16
  // bytes: a loop the engine runs. The engine validates this module (1662 types).
  const types: Array<[number[], number[]]> = new Array(1662).fill([[], []]);
  const hidden = [0x02, 0x63, 0xfd, 0x0c, ...LOOP, 0xd0, 0xfd, 0x0c, ...new Array(8).fill(0x01), 0x0b, 0x1a];
  test("`02 63 fd 0c ...` is valid to the engine, and fledge refuses it naming the proposal and the byte", () => {
    const m = buildModule({ types, bodies: [hidden] });
    expect(WebAssembly.validate(m)).toBe(true);
    expect(refusal(m)).toMatch(/^module uses the function-references proposal, which fledge does not run \(value type 0x63 at byte \d+\) \(function 0\)$/);
    expect(meter(m)).toMatch(FUNCREF);
  });
  for (const [name, op] of [["block", 0x02], ["loop", 0x03], ["if", 0x04]] as const) {
    for (const t of [0x63, 0x64]) {
      test(`${name} with result (ref${t === 0x63 ? " null" : ""} ht) is refused`, () => {
        const pre = op === 0x04 ? [0x41, 0x00] : [];
        expect(refusal(oneFunc([...pre, op, t, 0x70, 0x00, 0x0b]))).toMatch(FUNCREF);
        expect(refusal(oneFunc([...pre, op, t, 0x00, 0x0b]))).toMatch(FUNCREF);
      });
    }
  }
  test("select (result (ref null ht)) and (ref ht) are refused", () => {
    // Valid to the engine: fledge's refusal is what stands between it and the rewriter.
    const valid = oneFunc([0xd0, 0x00, 0xd0, 0x00, 0x41, 0x00, 0x1c, 0x01, 0x63, 0x00, 0x1a]);
    expect(WebAssembly.validate(valid)).toBe(true);
    expect(refusal(valid)).toMatch(FUNCREF);
    for (const t of [0x63, 0x64]) {
      expect(refusal(oneFunc([0xd0, 0x70, 0xd0, 0x70, 0x41, 0x00, 0x1c, 0x01, t, 0x70, 0x1a]))).toMatch(FUNCREF);
    }
  });
  test("select with GC and EH reference types is refused", () => {
    expect(refusal(oneFunc([0x41, 0, 0x41, 0, 0x41, 0, 0x1c, 0x01, 0x6e, 0x1a]))).toMatch(/GC proposal/);
    // exnref is a one-byte value type now that exception handling runs: the decoder
    // reads it exactly (the engine's validation judges the operand types).
    expect(refusal(oneFunc([0x41, 0, 0x41, 0, 0x41, 0, 0x1c, 0x01, 0x69, 0x1a]))).toBe("accepted");
  });
  test("typed select with 0 or 2 types is malformed", () => {
    expect(refusal(oneFunc([0x41, 0, 0x41, 0, 0x41, 0, 0x1c, 0x00, 0x1a]))).toMatch(/typed select with 0 types/);
    expect(refusal(oneFunc([0x41, 0, 0x41, 0, 0x41, 0, 0x1c, 0x02, 0x7f, 0x7f, 0x1a]))).toMatch(/typed select with 2 types/);
  });
  test("ref.null with a concrete or GC heap type is refused", () => {
    expect(refusal(oneFunc([0xd0, 0x00, 0x1a]))).toMatch(/function-references proposal/);
    expect(refusal(oneFunc([0xd0, 0x6e, 0x1a]))).toMatch(/GC proposal/);
    expect(refusal(oneFunc([0xd0, 0x73, 0x1a]))).toMatch(/GC proposal/);
  });
  test("(ref null ht) as a local, a parameter, a result or a global is refused", () => {
    expect(refusal(buildModule({ bodies: [[]], locals: [[[1, 0x63]]] }))).toMatch(FUNCREF);
    expect(refusal(buildModule({ types: [[[0x64], []]], bodies: [[]] }))).toMatch(FUNCREF);
    expect(refusal(buildModule({ types: [[[], [0x63]]], bodies: [[0x00]] }))).toMatch(FUNCREF);
    expect(refusal(buildModule({ bodies: [[]], before: [[6, [1, 0x63, 0x70, 0x00, 0xd0, 0x70, 0x0b]]] }))).toMatch(FUNCREF);
  });
});

describe("every immediate-carrying opcode next to unknown prefixes and sub-opcodes", () => {
  // Opcodes whose immediates a lax decoder skips by length; each is followed by an
  // unknown encoding that must be refused rather than skipped.
  const carriers: Array<[string, number[]]> = [
    ["v128.const", [0xfd, 0x0c, ...new Array(16).fill(0), 0x1a]],
    ["i8x16.shuffle", [0xfd, 0x0c, ...new Array(16).fill(0), 0xfd, 0x0c, ...new Array(16).fill(0), 0xfd, 0x0d, ...new Array(16).fill(0), 0x1a]],
    ["f32.const", [0x43, 0, 0, 0, 0, 0x1a]],
    ["f64.const", [0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a]],
    ["i64.const", [0x42, 0x80, 0x80, 0x01, 0x1a]],
    ["i32.load", [0x41, 0, 0x28, 0x02, 0x00, 0x1a]],
  ];
  const unknown: Array<[string, number[], RegExp]> = [
    ["GC prefix 0xfb", [0xfb, 0x1c], /GC proposal, which fledge does not run \(opcode 0xfb at byte \d+\)/],
    ["threads prefix 0xfe", [0xfe, 0x00, 0x02, 0x00], /threads proposal/],
    ["unassigned SIMD 0xfd 0x9a", [0xfd, 0x9a, 0x01], /unknown SIMD opcode 0xfd 154/],
    ["SIMD beyond the table 0xfd 0x114", [0xfd, 0x94, 0x02], /unknown SIMD opcode 0xfd 276/],
    ["unknown 0xfc 18", [0xfc, 0x12], /unknown opcode 0xfc 18/],
    ["stringref 0xfc 19", [0xfc, 0x13], /GC\/stringref/],
    ["unknown opcode 0x27", [0x27], /unknown opcode 0x27/],
    ["unknown opcode 0xc5", [0xc5], /unknown opcode 0xc5/],
    ["call_ref 0x14", [0x14, 0x00], FUNCREF],
    ["br_on_null 0xd5", [0xd5, 0x00], FUNCREF],
  ];
  for (const [cname, carrier] of carriers) {
    for (const [uname, bytes, re] of unknown) {
      test(`${cname} then ${uname}`, () => {
        const m = oneFunc([...carrier, ...bytes], { before: [[5, [1, 0, 1]]] });
        expect(refusal(m)).toMatch(re);
        expect(meter(m)).toMatch(re);
      });
    }
  }
  test("the same bytes with known encodings are accepted and the loop is found", () => {
    for (const [, carrier] of carriers) {
      const m = oneFunc([...carrier, ...LOOP], { before: [[5, [1, 0, 1]]] });
      const { counts } = decodeModule(m);
      expect(counts[0]!.loops).toBe(1);
    }
  });
});

describe("the table is closed: every encoding outside it is refused", () => {
  test("each main-space opcode byte with no table entry is refused by name", () => {
    const known = new Set<number>();
    for (let op = 0; op < 256; op++) if (MAIN_IMM[op] !== Imm.unknown) known.add(op);
    let refused = 0;
    for (let op = 0; op < 256; op++) {
      if (known.has(op)) continue;
      expect(refusal(oneFunc([op]))).toMatch(new RegExp(`unknown opcode 0x${op.toString(16).padStart(2, "0")} at byte \\d+`));
      refused++;
    }
    expect(refused).toBeGreaterThan(30);
  });
  test("each SIMD sub-opcode outside the table (gaps and past 0x113) is refused", () => {
    for (let sub = 0; sub < 0x200; sub++) {
      if (isKnownFD(sub)) continue;
      expect(refusal(oneFunc([0xfd, ...uleb(sub), ...new Array(17).fill(0)]))).toMatch(new RegExp(`unknown SIMD opcode 0xfd ${sub}\\b`));
    }
  });
  test("each 0xFC sub-opcode past the table is refused", () => {
    for (let sub = 18; sub < 300; sub++) expect(refusal(oneFunc([0xfc, ...uleb(sub), 0, 0]))).toMatch(/unknown opcode 0xfc|GC\/stringref/);
  });
  test("each one-byte value type outside the accepted set is refused in a block type", () => {
    for (let t = 0x41; t < 0x80; t++) {
      if ([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69].includes(t)) continue; // 0x69 exnref: exception handling runs
      expect(refusal(oneFunc([0x02, t, 0x0b]))).toMatch(/which fledge does not run|invalid value type/);
    }
  });
});

describe("LEB encodings outside their width or range", () => {
  test("a u32 longer than 5 bytes or with high bits set in the 5th is malformed", () => {
    expect(refusal(oneFunc([0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a], { locals: [[[1, 0x7f]]] }))).toMatch(/u32 too long/);
    expect(refusal(oneFunc([0x20, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a], { locals: [[[1, 0x7f]]] }))).toMatch(/u32 out of range/);
  });
  test("padded (non-minimal) LEBs within the width are accepted, as the spec allows", () => {
    expect(refusal(oneFunc([0x20, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a], { locals: [[[1, 0x7f]]] }))).toBe("accepted");
    expect(refusal(oneFunc([0x41, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x1a]))).toBe("accepted");
  });
  test("s32, s64 and s33 block types with bad sign extension or length are malformed", () => {
    expect(refusal(oneFunc([0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x1a]))).toMatch(/s32 out of range/);
    expect(refusal(oneFunc([0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a]))).toMatch(/s32 too long/);
    expect(refusal(oneFunc([0x42, ...new Array(10).fill(0x80), 0x00, 0x1a]))).toMatch(/s64 too long/);
    expect(refusal(oneFunc([0x42, ...new Array(9).fill(0x80), 0x02, 0x1a]))).toMatch(/s64 out of range/);
    // A multi-byte negative s33 is not a block type (value types are one byte).
    expect(refusal(oneFunc([0x02, 0xff, 0x7f, 0x0b]))).toMatch(/invalid block type/);
    expect(refusal(oneFunc([0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b]))).toMatch(/s33 too long/);
  });
  test("a block type index past the type section is invalid", () => {
    expect(refusal(oneFunc([0x02, 0x05, 0x0b]))).toMatch(/block type index 5 out of range/);
  });
});

describe("truncated bodies and broken structure", () => {
  const truncated: Array<[string, number[]]> = [
    ["f64.const", [0x44, 0, 0, 0, 0x0b]],
    ["f32.const", [0x43, 0x0b]],
    ["v128.const", [0xfd, 0x0c, 0, 0, 0, 0x0b]],
    ["i8x16.shuffle", [0xfd, 0x0d, 0, 0x0b]],
    ["br_table", [0x41, 0, 0x0e, 0x05, 0x00, 0x0b]],
    ["i32.const LEB", [0x41, 0x80, 0x0b]],
    ["memarg", [0x41, 0, 0x28, 0x82, 0x0b]],
  ];
  for (const [name, body] of truncated) {
    test(`${name} running past the body's end is malformed`, () => {
      const m = buildModule({ bodies: [body], rawBodies: true, before: [[5, [1, 0, 1]]] });
      expect(refusal(m)).toMatch(/malformed wasm module|invalid wasm module/);
      expect(meter(m)).toMatch(/malformed wasm module|invalid wasm module/);
    });
  }
  test("the final `end` must be the body's last byte; no stray `end` or `else`", () => {
    expect(refusal(buildModule({ bodies: [[0x0b, 0x0b]], rawBodies: true }))).toMatch(/code after the function's final `end`/);
    expect(refusal(buildModule({ bodies: [[0x02, 0x40, 0x0b]], rawBodies: true }))).toMatch(/ends before its final `end`/);
    expect(refusal(oneFunc([0x05]))).toMatch(/`else` outside an `if`/);
    expect(refusal(oneFunc([0x02, 0x40, 0x05, 0x0b]))).toMatch(/`else` outside an `if`/);
    expect(refusal(oneFunc([0x41, 0, 0x04, 0x40, 0x05, 0x05, 0x0b]))).toMatch(/`else` outside an `if`/);
  });
  test("branch depths past the enclosing blocks are invalid", () => {
    expect(refusal(oneFunc([0x0c, 0x01]))).toMatch(/branch depth 1 out of range/);
    expect(refusal(oneFunc([0x41, 0, 0x0e, 0x01, 0x00, 0x02]))).toMatch(/branch depth 2 out of range/);
  });
  test("constant expressions allow only constant opcodes", () => {
    // global i32 = (loop ... ) : a loop in an initializer is refused by the decoder.
    expect(refusal(buildModule({ bodies: [[]], before: [[6, [1, 0x7f, 0x00, 0x03, 0x40, 0x0b, 0x41, 0, 0x0b]]] }))).toMatch(/opcode 0x03 in a constant expression/);
    expect(refusal(buildModule({ bodies: [[]], before: [[6, [1, 0x7f, 0x00, 0x10, 0x00, 0x0b]]] }))).toMatch(/opcode 0x10 in a constant expression/);
  });
  test("multi-memory memargs are refused", () => {
    expect(refusal(oneFunc([0x41, 0, 0x28, 0x42, 0x01, 0x00, 0x1a], { before: [[5, [1, 0, 1]]] }))).toMatch(/multi-memory/);
  });
});

describe("exception handling: decoded exactly, gated by FEATURES.exceptions (on)", () => {
  // tag section: one tag of type 0 (() -> ()).
  const tags: [number, number[]] = [13, [1, 0x00, 0x00]];
  const legacy = [0x06, 0x40, 0x08, 0x00, 0x07, 0x00, ...LOOP, 0x19, 0x09, 0x00, 0x0b, 0x06, 0x40, 0x18, 0x00];
  // try_table with catch 0 0, catch_ref 0 0 (refused by the engine, decodable here), catch_all 0, catch_all_ref 0.
  const tryTable = [0x02, 0x40, 0x1f, 0x40, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, ...LOOP, 0x0b, 0x0b];
  test("with the feature switched off, refused naming the proposal", () => {
    const saved = FEATURES.exceptions;
    FEATURES.exceptions = false;
    try {
      expect(refusal(oneFunc(legacy, { before: [tags] }))).toMatch(/^module uses the exception-handling proposal, which fledge does not run \(tag section at byte \d+\)$/);
      expect(refusal(oneFunc([0x06, 0x40, 0x0b]))).toMatch(/exception-handling proposal, which fledge does not run \(opcode 0x06 at byte \d+\)/);
      expect(refusal(oneFunc([0x1f, 0x40, 0x00, 0x0b]))).toMatch(/exception-handling proposal.*opcode 0x1f/);
    } finally {
      FEATURES.exceptions = saved;
    }
  });
  describe("with the feature on", () => {
    const saved = FEATURES.exceptions;
    afterAll(() => {
      FEATURES.exceptions = saved;
    });
    test("legacy try/catch/catch_all/rethrow/delegate and try_table decode with their loops", () => {
      FEATURES.exceptions = true;
      expect(decodeModule(oneFunc(legacy, { before: [tags] })).counts[0]!.loops).toBe(1);
      expect(decodeModule(oneFunc(tryTable, { before: [tags] })).counts[0]!.loops).toBe(1);
    });
    test("decodeCode/encodeCode round-trip every EH instruction", () => {
      FEATURES.exceptions = true;
      for (const body of [[...legacy, 0x0b], [...tryTable, 0x0a, 0x0b]]) {
        const bytes = new Uint8Array(body);
        expect(Array.from(encodeCode(decodeCode(bytes)).finish())).toEqual(body);
      }
    });
    test("misplaced handlers and bad catch clauses are refused", () => {
      FEATURES.exceptions = true;
      expect(refusal(oneFunc([0x07, 0x00], { before: [tags] }))).toMatch(/`catch` outside a `try`/);
      expect(refusal(oneFunc([0x02, 0x40, 0x19, 0x0b], { before: [tags] }))).toMatch(/`catch` outside a `try`/);
      expect(refusal(oneFunc([0x06, 0x40, 0x19, 0x18, 0x00], { before: [tags] }))).toMatch(/`delegate` outside a `try`/);
      expect(refusal(oneFunc([0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b], { before: [tags] }))).toMatch(/invalid try_table catch kind 4/);
      expect(refusal(oneFunc([0x08, 0x03], { before: [tags] }))).toMatch(/tag index 3 out of range/);
      expect(refusal(oneFunc([0x1f, 0x40, 0x01, 0x02, 0x01, 0x0b], { before: [tags] }))).toMatch(/branch depth 1 out of range/);
    });
  });
});

describe("end to end: fledge wasm run refuses the hidden loop instead of running it", () => {
  const dir = tempDir("fledge-hostile-");
  afterAll(() => dir.cleanup());
  test("exit code and message name the feature; nothing runs", () => {
    // _start: the module, a loop hidden in what a lax decoder takes for v128.const.
    const types: Array<[number[], number[]]> = new Array(1662).fill([[], []]);
    const body = [0x02, 0x63, 0xfd, 0x0c, ...LOOP, 0xd0, 0xfd, 0x0c, ...new Array(8).fill(0x01), 0x0b, 0x1a];
    const path = join(dir.path, "hidden.wasm");
    writeFileSync(path, buildModule({ types, bodies: [body], exportStart: 0, before: [[5, [1, 0, 1]]] }));
    const r = runFledge(["wasm", "run", "--fuel", "1000", "--timeout", "1", path], { env: { FLEDGE_CONFIG_DIR: join(dir.path, "cfg"), HOME: dir.path } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/function-references proposal, which fledge does not run \(value type 0x63 at byte \d+\)/);
  });
});

