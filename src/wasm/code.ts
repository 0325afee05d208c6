/**
 * Instruction-level decoding and encoding of function bodies and constant
 * expressions. `skipInstr` is the allocation-free walker used everywhere; `decodeCode`
 * and `encodeCode` give a full structured form (used by tests and tools, not by the
 * instrumenter's hot path).
 */
import { lebEnd, malformed, readS32, readS33, readS64, readU32 } from "./leb128.ts";
import { FC_IMM, FD_MAX, fdImm, Imm, ImmFC, ImmFD, MAIN_IMM, REFUSED_OPS } from "./opcodes.ts";
import { refuseFeature } from "./errors.ts";
import { Writer } from "./writer.ts";

/** Reads a memarg at p, refusing the multi-memory form; returns the end position. */
function skipMemarg(b: Uint8Array, p: number): number {
  const align = readU32(b, p);
  if (align & 0x40) throw refuseFeature("the multi-memory proposal (memory index in memarg)");
  return lebEnd(b, lebEnd(b, p));
}

function checkMemIdx(b: Uint8Array, p: number): number {
  if (readU32(b, p) !== 0) throw refuseFeature("the multi-memory proposal");
  return lebEnd(b, p);
}

/** Returns the position just after the instruction that starts at `p`. */
export function skipInstr(b: Uint8Array, p: number): number {
  const op = b[p];
  if (op === undefined) throw malformed("unexpected end of code", p);
  p++;
  switch (MAIN_IMM[op]) {
    case Imm.none:
      return p;
    case Imm.block:
    case Imm.label:
    case Imm.func:
    case Imm.local:
    case Imm.global:
    case Imm.table:
    case Imm.i32:
    case Imm.i64:
      return lebEnd(b, p);
    case Imm.mem:
      return checkMemIdx(b, p);
    case Imm.refNull:
      return skipHeapType(b, p);
    case Imm.brTable: {
      const n = readU32(b, p);
      p = lebEnd(b, p);
      for (let i = 0; i <= n; i++) p = lebEnd(b, p);
      return p;
    }
    case Imm.callIndirect:
      return lebEnd(b, lebEnd(b, p));
    case Imm.memarg:
      return skipMemarg(b, p);
    case Imm.f32:
      return p + 4;
    case Imm.f64:
      return p + 8;
    case Imm.selectT: {
      const n = readU32(b, p);
      return lebEnd(b, p) + n;
    }
    case Imm.prefixFC:
      return skipFC(b, p);
    case Imm.prefixFD:
      return skipFD(b, p);
    case Imm.refused:
      throw refuseFeature(REFUSED_OPS.get(op)!);
    default:
      throw malformed(`unknown opcode 0x${op.toString(16)}`, p - 1);
  }
}

function skipHeapType(b: Uint8Array, p: number): number {
  const t = b[p];
  if (t === 0x70 || t === 0x6f) return p + 1;
  if (t === 0x69 || t === 0x74) throw refuseFeature("the exception-handling proposal");
  throw refuseFeature("the GC proposal (heap types)");
}

function skipFC(b: Uint8Array, p: number): number {
  const sub = readU32(b, p);
  p = lebEnd(b, p);
  const imm = FC_IMM[sub];
  switch (imm) {
    case ImmFC.none:
      return p;
    case ImmFC.memInit:
      return checkMemIdx(b, lebEnd(b, p));
    case ImmFC.dataDrop:
    case ImmFC.elemDrop:
    case ImmFC.table:
      return lebEnd(b, p);
    case ImmFC.memCopy:
      return checkMemIdx(b, checkMemIdx(b, p));
    case ImmFC.memFill:
      return checkMemIdx(b, p);
    case ImmFC.tableInit:
    case ImmFC.tableCopy:
      return lebEnd(b, lebEnd(b, p));
    default:
      if (sub === 19 || sub === 20 || sub === 21 || sub === 22 || sub === 23)
        throw refuseFeature("the GC/stringref proposals");
      throw malformed(`unknown opcode 0xfc ${sub}`, p);
  }
}

function skipFD(b: Uint8Array, p: number): number {
  const sub = readU32(b, p);
  p = lebEnd(b, p);
  if (sub > FD_MAX) throw malformed(`unknown SIMD opcode 0xfd ${sub}`, p);
  switch (fdImm(sub)) {
    case ImmFD.none:
      return p;
    case ImmFD.memarg:
      return skipMemarg(b, p);
    case ImmFD.v128:
    case ImmFD.shuffle:
      return p + 16;
    case ImmFD.lane:
      return p + 1;
    default:
      return skipMemarg(b, p) + 1;
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
      return { op, idx: readU32(b, p) };
    case Imm.refNull:
      return { op, idx: b[p]! };
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
    default: {
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
      return w.u32(need(ins.idx, "index"));
    case Imm.refNull:
      return w.byte(need(ins.idx, "heap type"));
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

/** End of the constant expression starting at `p` (just after its `end`). */
export function constExprEnd(b: Uint8Array, p: number, limit: number): number {
  while (p < limit) {
    if (b[p] === 0x0b) return p + 1;
    p = skipInstr(b, p);
  }
  throw malformed("unterminated constant expression", p);
}
