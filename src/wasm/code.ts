/**
 * Instruction-level decoding and encoding of function bodies and constant
 * expressions. `skipInstr` is the allocation-free walker used everywhere; `decodeCode`
 * and `encodeCode` give a full structured form (used by tests and tools, not by the
 * instrumenter's hot path).
 */
import { lebEnd, malformed, readS32, readS33, readS64, readU32 } from "./leb128.ts";
import { capError, MODULE_CAPS } from "./caps.ts";
import {
  CATCH_KINDS,
  EH,
  FC_IMM,
  fdImm,
  featureEnabled,
  Imm,
  ImmFC,
  ImmFD,
  isAcceptedHeapType,
  isAcceptedValType,
  isKnownFD,
  MAIN_IMM,
  REFUSED_OPS,
  valTypeFeature,
} from "./opcodes.ts";
import { refuseFeature } from "./errors.ts";
import { Writer } from "./writer.ts";

/*
 * Strict decoding. Every immediate is read exactly as the spec reads it (LEBs within
 * their width and range, block types among the forms in opcodes.ts, fixed-size
 * immediates inside the body), and anything outside the table is refused, so the
 * instruction boundaries found here are the ones the engine finds. A lenient skip
 * here is how metering was once bypassed: `02 63 fd 0c ...` was read as a one-byte
 * block type followed by a v128.const that hid 16 bytes the engine then ran.
 */

/** End of an unsigned 32-bit LEB at p (at most 5 bytes, value < 2^32). */
export function u32End(b: Uint8Array, p: number): number {
  if (b[p]! < 0x80) return p + 1; // one byte: always in range (undefined falls through)
  for (let i = 0; i < 5; i++) {
    const byte = b[p + i];
    if (byte === undefined) throw malformed("unexpected end (u32)", p + i);
    if ((byte & 0x80) === 0) {
      if (i === 4 && byte > 0x0f) throw malformed("u32 out of range", p);
      return p + i + 1;
    }
  }
  throw malformed("u32 too long", p);
}

/** End of a signed LEB of `bits` width at p (range-checked like the spec). */
function sEnd(b: Uint8Array, p: number, bits: 32 | 33 | 64): number {
  if (b[p]! < 0x80) return p + 1; // one byte: always in range (undefined falls through)
  const max = Math.ceil(bits / 7);
  for (let i = 0; i < max; i++) {
    const byte = b[p + i];
    if (byte === undefined) throw malformed(`unexpected end (s${bits})`, p + i);
    if ((byte & 0x80) === 0) {
      if (i === max - 1) {
        // Unused high bits of the last byte must sign-extend the value's top bit.
        const used = bits - 7 * (max - 1); // value bits in this byte
        const mask = (0x7f >> (used - 1)) << (used - 1); // sign bit and the unused bits
        const top = byte & mask;
        if (top !== 0 && top !== mask) throw malformed(`s${bits} out of range`, p);
      }
      return p + i + 1;
    }
  }
  throw malformed(`s${bits} too long`, p);
}

function fixedEnd(b: Uint8Array, p: number, n: number): number {
  if (p + n > b.length) throw malformed("unexpected end (immediate)", b.length);
  return p + n;
}

const hex = (v: number): string => `0x${v.toString(16).padStart(2, "0")}`;

/** A value type byte: accepted, or refused naming its proposal. */
export function checkValType(t: number | undefined, p: number): void {
  if (t === undefined) throw malformed("unexpected end (value type)", p);
  if (isAcceptedValType(t)) return;
  if ((t >= 0x63 && t <= 0x74) || t === 0x5e || t === 0x5f || t === 0x60 || t === 0x4e || t === 0x4f || t === 0x50) {
    throw refuseFeature(valTypeFeature(t), `value type ${hex(t)} at byte ${p}`);
  }
  throw malformed(`invalid value type ${hex(t)}`, p);
}

/**
 * End of a block type at p: 0x40 (empty), one accepted value type byte, or a
 * non-negative s33 type index (`typeIndex` receives it for range checks). Any other
 * negative s33 is a value type from a proposal fledge does not run (e.g. 0x63/0x64
 * `(ref null? ht)`, which carry a heap-type immediate of their own).
 */
export function blockTypeEnd(b: Uint8Array, p: number): number {
  const t = b[p];
  if (t === undefined) throw malformed("unexpected end (block type)", p);
  if (t === 0x40) return p + 1;
  if ((t & 0xc0) === 0x40) {
    // one-byte negative s33: a value type
    checkValType(t, p);
    return p + 1;
  }
  // A type index: positive s33. A multi-byte negative s33 is not a block type.
  const end = sEnd(b, p, 33);
  if (readS33(b, p) < 0) throw malformed("invalid block type", p);
  return end;
}

/** Reads a memarg at p, refusing the multi-memory form; returns the end position. */
function skipMemarg(b: Uint8Array, p: number): number {
  const align = readU32(b, p);
  if (align & 0x40) throw refuseFeature("the multi-memory proposal (memory index in memarg)", `at byte ${p}`);
  return u32End(b, u32End(b, p));
}

function checkMemIdx(b: Uint8Array, p: number): number {
  if (readU32(b, p) !== 0) throw refuseFeature("the multi-memory proposal", `memory index at byte ${p}`);
  return u32End(b, p);
}

function skipHeapType(b: Uint8Array, p: number): number {
  const t = b[p];
  if (t === undefined) throw malformed("unexpected end (heap type)", p);
  if (isAcceptedHeapType(t)) return p + 1;
  if (t === 0x69 || t === 0x74) throw refuseFeature(EH, `heap type ${hex(t)} at byte ${p}`);
  if ((t & 0xc0) === 0x40) throw refuseFeature("the GC proposal", `heap type ${hex(t)} at byte ${p}`);
  throw refuseFeature("the function-references proposal", `concrete heap type at byte ${p}`);
}

/**
 * Returns the position just after the instruction that starts at `p`. Strict: see
 * above. Structure (balanced blocks, label depths, index ranges) is checked by
 * validateBody in decoder.ts, which every body passes before it is rewritten.
 */
export function skipInstr(b: Uint8Array, p: number): number {
  const op = b[p];
  if (op === undefined) throw malformed("unexpected end of code", p);
  const at = p;
  p++;
  switch (MAIN_IMM[op]) {
    case Imm.none:
      if (op === 0x0a || op === 0x19) gateEH(op, at);
      return p;
    case Imm.block:
      if (op === 0x06) gateEH(op, at);
      return blockTypeEnd(b, p);
    case Imm.label:
      if (op === 0x09 || op === 0x18) gateEH(op, at);
      return u32End(b, p);
    case Imm.func:
    case Imm.local:
    case Imm.global:
    case Imm.table:
      return u32End(b, p);
    case Imm.tag:
      gateEH(op, at);
      return u32End(b, p);
    case Imm.i32:
      return sEnd(b, p, 32);
    case Imm.i64:
      return sEnd(b, p, 64);
    case Imm.mem:
      return checkMemIdx(b, p);
    case Imm.refNull:
      return skipHeapType(b, p);
    case Imm.brTable: {
      const n = readU32(b, p);
      if (n > MODULE_CAPS.brTableTargets) throw capError("brTableTargets", n, `br_table at byte ${at}`);
      p = u32End(b, p);
      for (let i = 0; i <= n; i++) p = u32End(b, p);
      return p;
    }
    case Imm.callIndirect:
      return u32End(b, u32End(b, p));
    case Imm.memarg:
      return skipMemarg(b, p);
    case Imm.f32:
      return fixedEnd(b, p, 4);
    case Imm.f64:
      return fixedEnd(b, p, 8);
    case Imm.selectT: {
      const n = readU32(b, p);
      if (n !== 1) throw malformed(`typed select with ${n} types`, p);
      p = u32End(b, p);
      checkValType(b[p], p);
      return p + 1;
    }
    case Imm.tryTable: {
      gateEH(op, at);
      p = blockTypeEnd(b, p);
      const n = readU32(b, p);
      p = u32End(b, p);
      for (let i = 0; i < n; i++) {
        const kind = b[p];
        if (kind === undefined || kind >= CATCH_KINDS) throw malformed(`invalid try_table catch kind ${kind ?? "(end)"}`, p);
        p++;
        if (kind < 2) p = u32End(b, p); // tag
        p = u32End(b, p); // label
      }
      return p;
    }
    case Imm.prefixFC:
      return skipFC(b, p);
    case Imm.prefixFD:
      return skipFD(b, p);
    case Imm.refused:
      throw refuseFeature(REFUSED_OPS.get(op)!, `opcode ${hex(op)} at byte ${at}`);
    default:
      throw malformed(`unknown opcode ${hex(op)}`, at);
  }
}

function gateEH(op: number, at: number): void {
  if (!featureEnabled("exceptions")) throw refuseFeature(EH, `opcode ${hex(op)} at byte ${at}`);
}

function skipFC(b: Uint8Array, p: number): number {
  const sub = readU32(b, p);
  p = u32End(b, p);
  const imm = FC_IMM[sub];
  switch (imm) {
    case ImmFC.none:
      return p;
    case ImmFC.memInit:
      return checkMemIdx(b, u32End(b, p));
    case ImmFC.dataDrop:
    case ImmFC.elemDrop:
    case ImmFC.table:
      return u32End(b, p);
    case ImmFC.memCopy:
      return checkMemIdx(b, checkMemIdx(b, p));
    case ImmFC.memFill:
      return checkMemIdx(b, p);
    case ImmFC.tableInit:
    case ImmFC.tableCopy:
      return u32End(b, u32End(b, p));
    default:
      if (sub >= 19 && sub <= 23) throw refuseFeature("the GC/stringref proposals", `opcode 0xfc ${sub} at byte ${p}`);
      throw malformed(`unknown opcode 0xfc ${sub}`, p);
  }
}

function skipFD(b: Uint8Array, p: number): number {
  const sub = readU32(b, p);
  p = u32End(b, p);
  if (!isKnownFD(sub)) throw malformed(`unknown SIMD opcode 0xfd ${sub}`, p);
  switch (fdImm(sub)) {
    case ImmFD.none:
      return p;
    case ImmFD.memarg:
      return skipMemarg(b, p);
    case ImmFD.v128:
    case ImmFD.shuffle:
      return fixedEnd(b, p, 16);
    case ImmFD.lane:
      return fixedEnd(b, p, 1);
    default:
      return fixedEnd(b, skipMemarg(b, p), 1);
  }
}

/**
 * One decoded instruction. `op` is the opcode byte; prefixed instructions (0xFC,
 * 0xFD) carry the sub-opcode in `sub`. Which other fields are set follows the
 * opcode's immediate shape (see opcodes.ts).
 */
export interface Instr {
  op: number;
  sub?: number;
  /** block type (s33: -64 empty, negative value type, or a type index), label, function, local, global, table, type, data or element index */
  idx?: number;
  /** second index: table of call_indirect, memory/table of bulk ops */
  idx2?: number;
  align?: number;
  offset?: number;
  lane?: number;
  /** i32.const value */
  value?: number;
  /** i64.const value */
  big?: bigint;
  /** f32/f64 const bits, v128.const bytes, shuffle lanes (kept raw so NaN payloads survive) */
  bytes?: Uint8Array;
  /** br_table targets (the default is `idx`) */
  targets?: number[];
  /** select t* value types, or ref.null heap type as one element */
  types?: number[];
  /** try_table catch clauses (kind 0 catch, 1 catch_ref, 2 catch_all, 3 catch_all_ref; tag for kinds 0 and 1) */
  catches?: Array<{ kind: number; tag?: number; label: number }>;
}

/** Decodes instructions from `start` to `end` (a body's code or a const expression). */
export function decodeCode(b: Uint8Array, start = 0, end = b.length): Instr[] {
  const out: Instr[] = [];
  let p = start;
  while (p < end) {
    const next = skipInstr(b, p); // validates shape and refuses features first
    out.push(decodeOne(b, p));
    p = next;
  }
  if (p !== end) throw malformed("instruction runs past the end of the body", end);
  return out;
}

function u32At(b: Uint8Array, p: number): [number, number] {
  return [readU32(b, p), lebEnd(b, p)];
}

function decodeOne(b: Uint8Array, p: number): Instr {
  const op = b[p++]!;
  switch (MAIN_IMM[op]) {
    case Imm.none:
      return { op };
    case Imm.block:
      return { op, idx: readS33(b, p) };
    case Imm.label:
    case Imm.func:
    case Imm.local:
    case Imm.global:
    case Imm.table:
    case Imm.mem:
    case Imm.tag:
      return { op, idx: readU32(b, p) };
    case Imm.refNull:
      return { op, idx: b[p]! };
    case Imm.tryTable: {
      const idx = readS33(b, p);
      let [n, q] = u32At(b, blockTypeEnd(b, p));
      const catches: NonNullable<Instr["catches"]> = [];
      for (let i = 0; i < n; i++) {
        const kind = b[q++]!;
        let tag: number | undefined;
        if (kind < 2) [tag, q] = u32At(b, q);
        const [label, r] = u32At(b, q);
        q = r;
        catches.push(tag === undefined ? { kind, label } : { kind, tag, label });
      }
      return { op, idx, catches };
    }
    case Imm.brTable: {
      let [n, q] = u32At(b, p);
      const targets: number[] = [];
      for (let i = 0; i < n; i++) {
        targets.push(readU32(b, q));
        q = lebEnd(b, q);
      }
      return { op, targets, idx: readU32(b, q) };
    }
    case Imm.callIndirect: {
      const [t, q] = u32At(b, p);
      return { op, idx: t, idx2: readU32(b, q) };
    }
    case Imm.memarg: {
      const [align, q] = u32At(b, p);
      return { op, align, offset: readU32(b, q) };
    }
    case Imm.i32:
      return { op, value: readS32(b, p) };
    case Imm.i64:
      return { op, big: readS64(b, p) };
    case Imm.f32:
      return { op, bytes: b.slice(p, p + 4) };
    case Imm.f64:
      return { op, bytes: b.slice(p, p + 8) };
    case Imm.selectT: {
      let [n, q] = u32At(b, p);
      const types: number[] = [];
      for (let i = 0; i < n; i++) types.push(b[q++]!);
      return { op, types };
    }
    case Imm.prefixFC: {
      const [sub, q] = u32At(b, p);
      switch (FC_IMM[sub]) {
        case ImmFC.none:
          return { op, sub };
        case ImmFC.dataDrop:
        case ImmFC.elemDrop:
        case ImmFC.table:
        case ImmFC.memFill:
          return { op, sub, idx: readU32(b, q) };
        default: {
          const [a, r] = u32At(b, q);
          return { op, sub, idx: a, idx2: readU32(b, r) };
        }
      }
    }
    case Imm.prefixFD: {
      const [sub, q] = u32At(b, p);
      switch (fdImm(sub)) {
        case ImmFD.none:
          return { op, sub };
        case ImmFD.v128:
        case ImmFD.shuffle:
          return { op, sub, bytes: b.slice(q, q + 16) };
        case ImmFD.lane:
          return { op, sub, lane: b[q]! };
        default: {
          const [align, r] = u32At(b, q);
          const offset = readU32(b, r);
          const ins: Instr = { op, sub, align, offset };
          if (fdImm(sub) === ImmFD.memargLane) ins.lane = b[lebEnd(b, r)]!;
          return ins;
        }
      }
    }
    default:
      throw malformed(`cannot decode opcode 0x${op.toString(16)}`, p - 1);
  }
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new TypeError(`instruction is missing its ${what}`);
  return v;
}

/** Encodes instructions with minimal LEBs. */
export function encodeCode(instrs: readonly Instr[], w: Writer = new Writer()): Writer {
  for (const ins of instrs) encodeOne(ins, w);
  return w;
}

function encodeOne(ins: Instr, w: Writer): void {
  const op = ins.op;
  w.byte(op);
  switch (MAIN_IMM[op]) {
    case Imm.none:
      return;
    case Imm.block:
      return w.s33(need(ins.idx, "block type"));
    case Imm.label:
    case Imm.func:
    case Imm.local:
    case Imm.global:
    case Imm.table:
    case Imm.mem:
    case Imm.tag:
      return w.u32(need(ins.idx, "index"));
    case Imm.refNull:
      return w.byte(need(ins.idx, "heap type"));
    case Imm.tryTable: {
      w.s33(need(ins.idx, "block type"));
      const c = need(ins.catches, "catch clauses");
      w.u32(c.length);
      for (const x of c) {
        w.byte(x.kind);
        if (x.kind < 2) w.u32(need(x.tag, "catch tag"));
        w.u32(x.label);
      }
      return;
    }
    case Imm.brTable: {
      const t = need(ins.targets, "targets");
      w.u32(t.length);
      for (const x of t) w.u32(x);
      return w.u32(need(ins.idx, "default target"));
    }
    case Imm.callIndirect:
      w.u32(need(ins.idx, "type index"));
      return w.u32(need(ins.idx2, "table index"));
    case Imm.memarg:
      w.u32(need(ins.align, "align"));
      return w.u32(need(ins.offset, "offset"));
    case Imm.i32:
      return w.s32(need(ins.value, "value"));
    case Imm.i64:
      return w.s64(need(ins.big, "value"));
    case Imm.f32:
    case Imm.f64:
      return w.bytes(need(ins.bytes, "bytes"));
    case Imm.selectT: {
      const t = need(ins.types, "types");
      w.u32(t.length);
      for (const x of t) w.byte(x);
      return;
    }
    case Imm.prefixFC: {
      const sub = need(ins.sub, "sub-opcode");
      w.u32(sub);
      switch (FC_IMM[sub]) {
        case ImmFC.none:
          return;
        case ImmFC.dataDrop:
        case ImmFC.elemDrop:
        case ImmFC.table:
        case ImmFC.memFill:
          return w.u32(need(ins.idx, "index"));
        default:
          w.u32(need(ins.idx, "index"));
          return w.u32(need(ins.idx2, "second index"));
      }
    }
    case Imm.prefixFD: {
      const sub = need(ins.sub, "sub-opcode");
      w.u32(sub);
      const shape = fdImm(sub);
      if (shape === ImmFD.none) return;
      if (shape === ImmFD.v128 || shape === ImmFD.shuffle) return w.bytes(need(ins.bytes, "bytes"));
      if (shape === ImmFD.lane) return w.byte(need(ins.lane, "lane"));
      w.u32(need(ins.align, "align"));
      w.u32(need(ins.offset, "offset"));
      if (shape === ImmFD.memargLane) w.byte(need(ins.lane, "lane"));
      return;
    }
    default:
      throw new TypeError(`cannot encode opcode 0x${op.toString(16)}`);
  }
}

/**
 * Opcodes allowed in constant expressions: t.const, ref.null, ref.func, global.get,
 * and extended-const i32/i64 add, sub, mul (0x6a 0x6b 0x6c 0x7c 0x7d 0x7e).
 */
function isConstOp(op: number, sub: number): boolean {
  if (op === 0xfd) return sub === 0x0c; // v128.const
  return op === 0x41 || op === 0x42 || op === 0x43 || op === 0x44 || op === 0xd0 || op === 0xd2 || op === 0x23 || op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e;
}

/** End of the constant expression starting at `p` (just after its `end`). */
export function constExprEnd(b: Uint8Array, p: number, limit: number): number {
  while (p < limit) {
    const op = b[p]!;
    if (op === 0x0b) return p + 1;
    if (!isConstOp(op, op === 0xfd ? readU32(b, p + 1) : 0)) throw malformed(`opcode ${hex(op)} in a constant expression`, p);
    p = skipInstr(b, p);
  }
  throw malformed("unterminated constant expression", p);
}
