/**
 * Binary → Module. Sections are parsed eagerly except code bodies, which stay as
 * byte views (their instructions are walked by the instrumenter or by decodeCode).
 * Proposals fledge does not run are refused here when they show at section level
 * (shared or 64-bit limits, tags, GC types, several memories); opcode-level
 * refusals happen when code is walked.
 */
import { constExprEnd } from "./code.ts";
import { malformed, refuseFeature } from "./errors.ts";
import { CapCounter, checkCap, exceptionRuleError, type ModuleCap } from "./caps.ts";
import { EH, EXNREF, featureEnabled, isAcceptedValType, valTypeFeature } from "./opcodes.ts";
import { Reader } from "./reader.ts";
import { readU32 } from "./leb128.ts";
import {
  emptyModule,
  SEC,
  SECTION_ORDER,
  type ConstExpr,
  type ElementSegment,
  type FuncType,
  type Limits,
  type Module,
  type TableType,
  type TagType,
  type ValType,
} from "./module.ts";

const MAGIC = [0x00, 0x61, 0x73, 0x6d];

function valType(r: Reader): ValType {
  const t = r.byte();
  if (!isAcceptedValType(t)) {
    if ((t & 0xc0) === 0x40) throw refuseFeature(valTypeFeature(t), `value type 0x${t.toString(16)} at byte ${r.pos - 1}`);
    throw malformed(`invalid value type 0x${t.toString(16)}`, r.pos - 1);
  }
  return t;
}

/** Refuses a tag section/import/export unless exception handling is enabled. */
function gateTags(what: string, pos: number): void {
  if (!featureEnabled("exceptions")) throw refuseFeature(EH, `${what} at byte ${pos}`);
}

function tagType(r: Reader): TagType {
  const attribute = r.byte();
  if (attribute !== 0) throw malformed(`invalid tag attribute ${attribute}`, r.pos - 1);
  return { attribute, type: r.u32() };
}

function refType(r: Reader): ValType {
  const t = r.byte();
  // Tables and element segments could hoard exceptions outside the memory limit (caps.ts).
  if (t === EXNREF && featureEnabled("exceptions")) throw exceptionRuleError("exnref may not be stored in a table or element segment", `byte ${r.pos - 1}`);
  if (t !== 0x70 && t !== 0x6f) throw refuseFeature(valTypeFeature(t));
  return t;
}

function limits(r: Reader, what: "memory" | "table"): Limits {
  const flags = r.byte();
  if (flags === 0x02 || flags === 0x03) throw refuseFeature("the threads proposal (shared memory)");
  if (flags >= 0x04 && flags <= 0x07) throw refuseFeature(what === "memory" ? "the memory64 proposal" : "the memory64 proposal (64-bit tables)");
  if (flags > 0x01) throw malformed(`invalid limits flags 0x${flags.toString(16)}`, r.pos - 1);
  const min = r.u32();
  const max = flags & 1 ? r.u32() : null;
  return { flags, min, max };
}

function tableType(r: Reader): TableType {
  if (r.peek() === 0x40) throw refuseFeature("the function-references proposal (table initializer)");
  const rt = refType(r);
  return { refType: rt, limits: limits(r, "table") };
}

function constExpr(r: Reader): ConstExpr {
  const start = r.pos;
  r.pos = constExprEnd(r.bytes, start, r.end);
  return r.bytes.subarray(start, r.pos);
}

/** Totals for the current parseModule call (parsing is synchronous, one module at a time). */
let typeEntries = new CapCounter("typeEntries");
let elemItems = new CapCounter("elemItems");

function funcType(r: Reader): FuncType {
  const form = r.byte();
  if (form !== 0x60) {
    if (form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f)
      throw refuseFeature("the GC proposal (struct/array/recursive types)");
    throw malformed(`invalid type form 0x${form.toString(16)}`, r.pos - 1);
  }
  const np = r.u32();
  checkCap("params", np, "parameters");
  typeEntries.add(np);
  const params: ValType[] = [];
  for (let i = 0; i < np; i++) params.push(valType(r));
  const nr = r.u32();
  checkCap("params", nr, "results");
  typeEntries.add(nr);
  const results: ValType[] = [];
  for (let i = 0; i < nr; i++) results.push(valType(r));
  return { params, results };
}

function vec<T>(r: Reader, item: (r: Reader) => T, cap?: ModuleCap): T[] {
  const n = r.u32();
  if (cap) checkCap(cap, n);
  // Each item is at least one byte, so a huge count in a small section is malformed.
  if (n > r.end - r.pos) throw malformed("vector count exceeds section size", r.pos);
  const out: T[] = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = item(r);
  return out;
}

function element(r: Reader): ElementSegment {
  const flags = r.u32();
  if (flags > 7) throw malformed(`invalid element segment flags ${flags}`, r.pos);
  const mode = flags & 1 ? (flags & 2 ? "declarative" : "passive") : "active";
  let table = 0;
  let offset: ConstExpr | null = null;
  if (mode === "active") {
    if (flags & 2) table = r.u32();
    offset = constExpr(r);
  }
  const usesExprs = (flags & 4) !== 0;
  let elemType = 0x70;
  if (flags & 3) {
    // passive, declarative or explicit table index: an elemkind/reftype byte follows
    if (usesExprs) elemType = refType(r);
    else {
      elemType = r.byte();
      if (elemType !== 0x00) throw malformed("invalid elemkind", r.pos - 1);
    }
  }
  elemItems.add(readU32(r.bytes, r.pos)); // the item count, checked before the items are read
  if (usesExprs) return { flags, mode, table, offset, elemType, funcs: null, exprs: vec(r, constExpr) };
  return { flags, mode, table, offset, elemType, funcs: vec(r, (x) => x.u32()), exprs: null };
}

/** Parses a module. Throws FledgeError (malformed / unsupported) on bad input. */
export function parseModule(bytes: Uint8Array): Module {
  if (bytes.length < 8 || MAGIC.some((v, i) => bytes[i] !== v)) throw malformed("not a wasm module (bad magic)", 0);
  const version = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
  if (version !== 1) {
    if (version === 0x0001000d) throw refuseFeature("the component model");
    throw malformed(`unsupported wasm version ${version}`, 4);
  }
  const m = emptyModule();
  typeEntries = new CapCounter("typeEntries");
  elemItems = new CapCounter("elemItems");
  const r = new Reader(bytes, 8);
  let lastRank = -1;
  let funcCount: number | null = null;
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw malformed(`section ${id} runs past the end`, start);
    const s = new Reader(bytes, start, end);
    if (id !== SEC.custom) {
      if (id === SEC.tag) gateTags("tag section", start - 1);
      const rank = SECTION_ORDER.indexOf(id);
      if (rank < 0) throw malformed(`unknown section id ${id}`, start - 1);
      if (rank <= lastRank) throw malformed(`section ${id} out of order or repeated`, start - 1);
      lastRank = rank;
    }
    m.order.push(id);
    switch (id) {
      case SEC.custom:
        checkCap("customSections", m.customs.length + 1);
        m.customs.push({ name: s.name(), data: bytes.subarray(s.pos, end) });
        s.pos = end;
        break;
      case SEC.type:
        m.types = vec(s, funcType, "types");
        break;
      case SEC.import:
        m.imports = vec(s, (x) => {
          const module = x.name();
          const name = x.name();
          const kind = x.byte();
          switch (kind) {
            case 0:
              return { module, name, desc: { kind: "func" as const, type: x.u32() } };
            case 1:
              return { module, name, desc: { kind: "table" as const, table: tableType(x) } };
            case 2:
              return { module, name, desc: { kind: "memory" as const, limits: limits(x, "memory") } };
            case 3: {
              const valT = valType(x);
              const mut = x.byte();
              if (mut > 1) throw malformed("invalid global mutability", x.pos - 1);
              return { module, name, desc: { kind: "global" as const, global: { valType: valT, mutable: mut === 1 } } };
            }
            case 4:
              gateTags("tag import", x.pos - 1);
              return { module, name, desc: { kind: "tag" as const, tag: tagType(x) } };
            default:
              throw malformed(`invalid import kind ${kind}`, x.pos - 1);
          }
        }, "imports");
        break;
      case SEC.function:
        m.functions = vec(s, (x) => x.u32(), "functions");
        break;
      case SEC.table:
        m.tables = vec(s, tableType, "tables");
        break;
      case SEC.memory:
        m.memories = vec(s, (x) => limits(x, "memory"));
        break;
      case SEC.tag:
        m.tags = vec(s, tagType, "tags");
        break;
      case SEC.global:
        m.globals = vec(s, (x) => {
          const valT = valType(x);
          const mut = x.byte();
          if (mut > 1) throw malformed("invalid global mutability", x.pos - 1);
          return { type: { valType: valT, mutable: mut === 1 }, init: constExpr(x) };
        }, "globals");
        break;
      case SEC.export:
        m.exports = vec(s, (x) => {
          const name = x.name();
          const kind = x.byte();
          if (kind === 4) gateTags("tag export", x.pos - 1);
          if (kind > 4) throw malformed(`invalid export kind ${kind}`, x.pos - 1);
          return { name, kind, index: x.u32() };
        }, "exports");
        break;
      case SEC.start:
        m.start = s.u32();
        break;
      case SEC.element:
        m.elements = vec(s, element, "elemSegments");
        break;
      case SEC.dataCount:
        m.dataCount = s.u32();
        break;
      case SEC.code:
        m.codes = vec(s, (x) => {
          const bodySize = x.u32();
          checkCap("bodyBytes", bodySize, `a function body at byte ${x.pos}`);
          const bodyEnd = x.pos + bodySize;
          if (bodyEnd > x.end) throw malformed("code body runs past the section", x.pos);
          const b = new Reader(bytes, x.pos, bodyEnd);
          let nLocals = 0;
          const locals: Array<[number, ValType]> = vec(b, (y) => {
            const count = y.u32();
            nLocals += count;
            checkCap("locals", nLocals, `a function body at byte ${x.pos}`);
            return [count, valType(y)] as [number, ValType];
          });
          if (b.pos >= bodyEnd || bytes[bodyEnd - 1] !== 0x0b) throw malformed("code body does not end with `end`", bodyEnd - 1);
          x.pos = bodyEnd;
          return { locals, code: bytes.subarray(b.pos, bodyEnd) };
        }, "functions");
        funcCount = m.codes.length;
        break;
      case SEC.data:
        m.datas = vec(s, (x) => {
          const flags = x.u32();
          if (flags > 2) throw malformed(`invalid data segment flags ${flags}`, x.pos);
          const memory = flags === 2 ? x.u32() : 0;
          if (memory !== 0) throw refuseFeature("the multi-memory proposal");
          const offset = flags === 1 ? null : constExpr(x);
          const n = x.u32();
          return { flags, memory, offset, data: x.take(n) };
        }, "dataSegments");
        break;
    }
    if (s.pos !== end) throw malformed(`section ${id} size mismatch`, s.pos);
    r.pos = end;
  }
  if ((funcCount ?? 0) !== m.functions.length) throw malformed("function and code section counts differ", bytes.length);
  const memCount = m.memories.length + m.imports.filter((i) => i.desc.kind === "memory").length;
  if (memCount > 1) throw refuseFeature("the multi-memory proposal (several memories)");
  return m;
}
