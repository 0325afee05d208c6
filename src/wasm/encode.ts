/**
 * Module → binary. Uses minimal LEBs everywhere, so a module parsed from canonical
 * bytes encodes back to the same bytes. Sections present in the input keep their
 * position (including custom sections and empty sections); sections that gained
 * content are slotted into their canonical place.
 */
import { u32Size } from "./leb128.ts";
import { SEC, SECTION_ORDER, type FunctionBody, type Limits, type Module, type TableType } from "./module.ts";
import { Writer } from "./writer.ts";

function limits(w: Writer, l: Limits): void {
  const flags = l.max === null ? l.flags & ~1 : l.flags | 1;
  w.byte(flags);
  w.u32(l.min);
  if (l.max !== null) w.u32(l.max);
}

function tableType(w: Writer, t: TableType): void {
  w.byte(t.refType);
  limits(w, t.limits);
}

function hasContent(m: Module, id: number): boolean {
  switch (id) {
    case SEC.type:
      return m.types.length > 0;
    case SEC.import:
      return m.imports.length > 0;
    case SEC.function:
      return m.functions.length > 0;
    case SEC.table:
      return m.tables.length > 0;
    case SEC.memory:
      return m.memories.length > 0;
    case SEC.tag:
      return m.tags.length > 0;
    case SEC.global:
      return m.globals.length > 0;
    case SEC.export:
      return m.exports.length > 0;
    case SEC.start:
      return m.start !== null;
    case SEC.element:
      return m.elements.length > 0;
    case SEC.dataCount:
      return m.dataCount !== null;
    case SEC.code:
      return m.codes.length > 0;
    case SEC.data:
      return m.datas.length > 0;
    default:
      return false;
  }
}

function bodySize(b: FunctionBody): number {
  let n = u32Size(b.locals.length);
  for (const [count] of b.locals) n += u32Size(count) + 1;
  return n + b.code.length;
}

function payload(m: Module, id: number, w: Writer): void {
  switch (id) {
    case SEC.type:
      w.u32(m.types.length);
      for (const t of m.types) {
        w.byte(0x60);
        w.u32(t.params.length);
        for (const p of t.params) w.byte(p);
        w.u32(t.results.length);
        for (const r of t.results) w.byte(r);
      }
      return;
    case SEC.import:
      w.u32(m.imports.length);
      for (const imp of m.imports) {
        w.name(imp.module);
        w.name(imp.name);
        const d = imp.desc;
        switch (d.kind) {
          case "func":
            w.byte(0);
            w.u32(d.type);
            break;
          case "table":
            w.byte(1);
            tableType(w, d.table);
            break;
          case "memory":
            w.byte(2);
            limits(w, d.limits);
            break;
          case "global":
            w.byte(3);
            w.byte(d.global.valType);
            w.byte(d.global.mutable ? 1 : 0);
            break;
          case "tag":
            w.byte(4);
            w.byte(d.tag.attribute);
            w.u32(d.tag.type);
            break;
        }
      }
      return;
    case SEC.function:
      w.u32(m.functions.length);
      for (const f of m.functions) w.u32(f);
      return;
    case SEC.table:
      w.u32(m.tables.length);
      for (const t of m.tables) tableType(w, t);
      return;
    case SEC.memory:
      w.u32(m.memories.length);
      for (const l of m.memories) limits(w, l);
      return;
    case SEC.tag:
      w.u32(m.tags.length);
      for (const t of m.tags) {
        w.byte(t.attribute);
        w.u32(t.type);
      }
      return;
    case SEC.global:
      w.u32(m.globals.length);
      for (const g of m.globals) {
        w.byte(g.type.valType);
        w.byte(g.type.mutable ? 1 : 0);
        w.bytes(g.init);
      }
      return;
    case SEC.export:
      w.u32(m.exports.length);
      for (const e of m.exports) {
        w.name(e.name);
        w.byte(e.kind);
        w.u32(e.index);
      }
      return;
    case SEC.start:
      w.u32(m.start ?? 0);
      return;
    case SEC.element:
      w.u32(m.elements.length);
      for (const e of m.elements) {
        w.u32(e.flags);
        if (e.mode === "active") {
          if (e.flags & 2) w.u32(e.table);
          w.bytes(e.offset ?? new Uint8Array([0x41, 0, 0x0b]));
        }
        if (e.flags & 3) w.byte(e.elemType);
        if (e.exprs) {
          w.u32(e.exprs.length);
          for (const x of e.exprs) w.bytes(x);
        } else {
          const funcs = e.funcs ?? [];
          w.u32(funcs.length);
          for (const f of funcs) w.u32(f);
        }
      }
      return;
    case SEC.dataCount:
      w.u32(m.dataCount ?? 0);
      return;
    case SEC.code:
      w.u32(m.codes.length);
      for (const b of m.codes) {
        w.u32(bodySize(b));
        w.u32(b.locals.length);
        for (const [count, type] of b.locals) {
          w.u32(count);
          w.byte(type);
        }
        w.bytes(b.code);
      }
      return;
    case SEC.data:
      w.u32(m.datas.length);
      for (const d of m.datas) {
        w.u32(d.flags);
        if (d.flags === 2) w.u32(d.memory);
        if (d.flags !== 1) w.bytes(d.offset ?? new Uint8Array([0x41, 0, 0x0b]));
        w.u32(d.data.length);
        w.bytes(d.data);
      }
      return;
  }
}

/** Bytes of the code section's payload (the bodies are most of a module: written once, straight into the output). */
function codeSize(m: Module): number {
  let size = u32Size(m.codes.length);
  for (const b of m.codes) {
    const n = bodySize(b);
    size += u32Size(n) + n;
  }
  return size;
}

/** At least the data section's payload size: its buffer is never grown (a large one was copied at every doubling). */
function dataSize(m: Module): number {
  let n = 5;
  for (const d of m.datas) n += 15 + (d.offset?.length ?? 3) + d.data.length;
  return n;
}

/** One section's payload, or the code section's size (written last, straight into the output). */
type Part = { id: number; payload: Uint8Array } | { id: typeof SEC.code; size: number };

function part(m: Module, id: number, customIndex: number): Part {
  if (id === SEC.code) return { id, size: codeSize(m) };
  const inner = new Writer(id === SEC.data ? dataSize(m) : 256);
  if (id === SEC.custom) {
    const c = m.customs[customIndex]!;
    inner.name(c.name);
    inner.bytes(c.data);
  } else payload(m, id, inner);
  return { id, payload: inner.buf.subarray(0, inner.pos) };
}

/**
 * The module's bytes in one buffer of exactly their size: the sections are laid out
 * first and the output allocated once, so no grown or trimmed copy of a large module
 * is ever made.
 */
export function encodeModule(m: Module): Uint8Array {
  const parts: Part[] = [];
  const present = new Set(m.order);
  const needed = SECTION_ORDER.filter((id) => present.has(id) || hasContent(m, id));
  const done = new Set<number>();
  let custom = 0;
  const emitUpTo = (id: number): void => {
    for (const k of needed) {
      if (k === id) break;
      if (!done.has(k)) {
        done.add(k);
        parts.push(part(m, k, 0));
      }
    }
  };
  for (const id of m.order) {
    if (id === SEC.custom) {
      if (custom < m.customs.length) parts.push(part(m, SEC.custom, custom++));
      continue;
    }
    if (done.has(id)) continue;
    emitUpTo(id);
    done.add(id);
    parts.push(part(m, id, 0));
  }
  for (const k of needed) if (!done.has(k)) parts.push(part(m, k, 0));
  while (custom < m.customs.length) parts.push(part(m, SEC.custom, custom++));
  let total = 8;
  for (const p of parts) {
    const n = "payload" in p ? p.payload.length : p.size;
    total += 1 + u32Size(n) + n;
  }
  const out = new Writer(total);
  out.list([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  for (const p of parts) {
    out.byte(p.id);
    if ("payload" in p) {
      out.u32(p.payload.length);
      out.bytes(p.payload);
    } else {
      out.u32(p.size);
      payload(m, SEC.code, out);
    }
  }
  if (out.pos !== total || out.buf.length !== total) throw new Error(`encodeModule: wrote ${out.pos} bytes, laid out ${total}`);
  return out.buf;
}
