/**
 * Fuel and deadline metering by rewriting (reference §3.6), plus the memory and
 * table caps (§3.7).
 *
 * Fuel lives in a mutable i64 global appended to the module. It is decremented at
 * every function entry and right after every `loop` header by the static cost of
 * the instructions of that region (the instructions whose innermost enclosing loop
 * is that loop, or the function body). Between two checks each instruction of the
 * current region runs at most once (backward branches only reach loop headers, and
 * calls charge in the callee), so the charged fuel bounds the executed instructions
 * from above without basic-block analysis. Bulk memory/table operations and
 * memory.grow/table.grow additionally charge by their size operand at run time.
 *
 * When the global goes negative the injected code calls the imported
 * `fledge:meter.refuel(remaining: i64) -> i64`, which either returns a new slice or
 * throws the meter's private sentinel. The sentinel unwinds through wasm frames as
 * a trap would: guests cannot catch it because exception-handling modules are
 * refused.
 *
 * The body rewrite works on byte ranges: straight-line code is copied as is, and only
 * block structure, function indices (`call`, `return_call`, `ref.func`) and bulk
 * operations are decoded.
 */
import { FledgeError } from "../ui/index.ts";
import { lebEnd, readS33, readU32, writeU32 } from "./leb128.ts";
import { constExprEnd, skipInstr } from "./code.ts";
import { encodeModule } from "./encode.ts";
import { limitError, MAX_PAGES, PAGE_SIZE } from "./limits.ts";
import { EXTERNAL, importedCount, type ConstExpr, type Limits, type Module } from "./module.ts";
import { Imm, MAIN_IMM, OP } from "./opcodes.ts";
import { parseModule } from "./parse.ts";
import { Writer } from "./writer.ts";

/** Import module and name of the refuel function the meter provides. */
export const METER_MODULE = "fledge:meter";
export const REFUEL_NAME = "refuel";
/** An exported getter `() -> i64` for the remaining fuel, so a runner can read exact usage. */
export const FUEL_EXPORT = "fledge:fuel";
/** Bumped whenever the rewrite changes; part of the prepared-module cache key. */
export const INSTRUMENTER_VERSION = "2";
/** Default cap on table sizes (elements). A funcref slot costs the engine ~8-16 bytes, so this bounds tables at ~16 MiB. */
export const DEFAULT_MAX_TABLE_ELEMENTS = 1 << 20;
/**
 * Static cost of calling an imported (host) function, on top of the call itself. A
 * host call costs ~100x a wasm instruction, and charging it keeps a loop of host calls
 * from running a whole slice's worth of calls between deadline checks.
 */
export const HOST_CALL_COST = 100;
/** Bulk memory operations cost one unit per this many bytes (2^4 = 16). */
export const BYTES_PER_UNIT_SHIFT = 4;

export interface InstrumentOptions {
  /** Inject fuel/deadline metering. */
  fuel: boolean;
  /** Memory cap in bytes (rounded down to whole pages); null = no cap beyond 4 GiB. */
  maxMemoryBytes: number | null;
  /** Table cap in elements; defaults to DEFAULT_MAX_TABLE_ELEMENTS. */
  maxTableElements?: number;
  /** Validate the input with WebAssembly.validate first (default true). */
  validate?: boolean;
}

export interface ImportInfo {
  module: string;
  name: string;
  kind: "func" | "table" | "memory" | "global";
}

export interface ExportInfo {
  name: string;
  kind: "func" | "table" | "memory" | "global";
}

export interface InstrumentStats {
  inputBytes: number;
  outputBytes: number;
  functions: number;
  loops: number;
  /** Bulk/grow operations charged by their size operand. */
  dynamicCharges: number;
}

export interface InstrumentResult {
  bytes: Uint8Array;
  /** The guest's imports (the meter's own import is not listed). */
  imports: ImportInfo[];
  /** The guest's exports (the fuel global is not listed). */
  exports: ExportInfo[];
  /** Present when the module imports its memory: supply `new WebAssembly.Memory({initial, maximum})`. */
  importedMemory?: { initial: number; maximum: number };
  stats: InstrumentStats;
}

const KIND_NAMES = ["func", "table", "memory", "global"] as const;

function capLimits(l: Limits, cap: number, what: "memory" | "table", maxMemoryBytes: number | null): void {
  if (l.min > cap) {
    if (what === "memory") throw limitError("memory", { maxMemoryBytes, requestedBytes: l.min * PAGE_SIZE });
    throw new FledgeError(`table limit: the module declares a table of ${l.min} elements, more than the limit of ${cap}`, {
      code: "table_limit",
      exitCode: limitError("memory").exitCode,
    });
  }
  l.max = l.max === null ? cap : Math.min(l.max, cap);
  l.flags |= 1;
}

/** Parses, checks, caps and (optionally) meters a module. */
export function instrument(bytes: Uint8Array, opts: InstrumentOptions): InstrumentResult {
  if (opts.validate !== false && !WebAssembly.validate(bytes)) {
    // Find a more precise reason (refused feature, malformed) when our parser can.
    parseModule(bytes);
    throw new FledgeError("invalid wasm module: it does not validate", { code: "wasm_invalid" });
  }
  const m = parseModule(bytes);
  const imports: ImportInfo[] = m.imports.map((i) => ({ module: i.module, name: i.name, kind: i.desc.kind }));
  const exports: ExportInfo[] = m.exports.map((e) => ({ name: e.name, kind: KIND_NAMES[e.kind]! }));

  // Memory and table caps.
  const capPages = opts.maxMemoryBytes === null ? MAX_PAGES : Math.min(MAX_PAGES, Math.floor(opts.maxMemoryBytes / PAGE_SIZE));
  const tableCap = opts.maxTableElements ?? DEFAULT_MAX_TABLE_ELEMENTS;
  let importedMemory: InstrumentResult["importedMemory"];
  for (const imp of m.imports) {
    if (imp.desc.kind === "memory") {
      capLimits(imp.desc.limits, capPages, "memory", opts.maxMemoryBytes);
      importedMemory = { initial: imp.desc.limits.min, maximum: imp.desc.limits.max! };
    } else if (imp.desc.kind === "table") capLimits(imp.desc.table.limits, tableCap, "table", null);
  }
  for (const mem of m.memories) capLimits(mem, capPages, "memory", opts.maxMemoryBytes);
  for (const t of m.tables) capLimits(t.limits, tableCap, "table", null);

  const stats: InstrumentStats = { inputBytes: bytes.length, outputBytes: 0, functions: m.codes.length, loops: 0, dynamicCharges: 0 };
  if (opts.fuel) injectFuel(m, stats);
  else for (const c of m.codes) checkBody(c.code);
  const out = encodeModule(m);
  stats.outputBytes = out.length;
  const result: InstrumentResult = { bytes: out, imports, exports, stats };
  if (importedMemory) result.importedMemory = importedMemory;
  return result;
}

/** Walks a body only to refuse unsupported opcodes (when not metering). */
function checkBody(code: Uint8Array): void {
  let p = 0;
  while (p < code.length) p = skipInstr(code, p);
}

/** Custom sections whose contents refer to code offsets or old indices: dropped. */
function dropsWithRewrite(name: string): boolean {
  return name === "linking" || name.startsWith("reloc.") || name.startsWith(".debug_") || name === "sourceMappingURL" || name === "external_debug_info";
}

function injectFuel(m: Module, stats: InstrumentStats): void {
  for (const imp of m.imports) {
    if (imp.module === METER_MODULE) throw new FledgeError(`module imports from the reserved module "${METER_MODULE}"`, { code: "wasm_reserved" });
  }
  for (const e of m.exports) {
    if (e.name === FUEL_EXPORT) throw new FledgeError(`module exports the reserved name "${FUEL_EXPORT}"`, { code: "wasm_reserved" });
  }
  const nImportedFuncs = importedCount(m, "func");
  const refuelType = m.types.length;
  m.types.push({ params: [0x7e], results: [0x7e] });
  // Appended after the existing imports, the refuel function takes index nImportedFuncs
  // and every defined function shifts up by one.
  m.imports.push({ module: METER_MODULE, name: REFUEL_NAME, desc: { kind: "func", type: refuelType } });
  const refuelIndex = nImportedFuncs;
  const fuelGlobal = importedCount(m, "global") + m.globals.length;
  // Starts at 0: the first check goes negative and asks the meter for a slice, so the
  // prepared bytes do not depend on the meter's settings.
  m.globals.push({ type: { valType: 0x7e, mutable: true }, init: new Uint8Array([OP.i64Const, 0, OP.end]) });

  const shift = (f: number): number => (f >= nImportedFuncs ? f + 1 : f);
  for (const e of m.exports) if (e.kind === EXTERNAL.func) e.index = shift(e.index);
  if (m.start !== null) m.start = shift(m.start);
  for (const g of m.globals) g.init = remapConst(g.init, nImportedFuncs);
  for (const seg of m.elements) {
    if (seg.funcs) seg.funcs = seg.funcs.map(shift);
    if (seg.exprs) seg.exprs = seg.exprs.map((x) => remapConst(x, nImportedFuncs));
    if (seg.offset) seg.offset = remapConst(seg.offset, nImportedFuncs);
  }
  for (const d of m.datas) if (d.offset) d.offset = remapConst(d.offset, nImportedFuncs);
  // Drop custom sections that the rewrite would make stale, and keep `order` in step.
  const keptCustoms: typeof m.customs = [];
  const newOrder: number[] = [];
  let customIndex = 0;
  for (const id of m.order) {
    if (id !== 0) {
      newOrder.push(id);
      continue;
    }
    const c = m.customs[customIndex++];
    if (!c || dropsWithRewrite(c.name)) continue;
    const data = c.name === "name" ? remapNameSection(c.data, nImportedFuncs) : c.data;
    if (!data) continue;
    keptCustoms.push({ name: c.name, data });
    newOrder.push(0);
  }
  m.order = newOrder;
  m.customs = keptCustoms;

  const paramTypes = new Map<string, number>();
  const refuelBlockType = (bt: number): number => {
    if (bt < 0) return -64; // empty or single-result block types have no params
    const params = m.types[bt]?.params ?? [];
    if (params.length === 0) return -64;
    const key = params.join(",");
    let idx = paramTypes.get(key);
    if (idx === undefined) {
      idx = m.types.length;
      m.types.push({ params: [...params], results: [...params] });
      paramTypes.set(key, idx);
    }
    return idx;
  };
  const ctx: BodyContext = { refuelBlockType, nImportedFuncs, refuelIndex, fuelGlobal, scratch: 0, loops: 0, dynamic: 0 };
  let total = 0;
  for (const c of m.codes) total += c.code.length;
  const w = new Writer(Math.ceil(total * 1.25) + 1024);
  const spans: number[] = [];
  for (let i = 0; i < m.codes.length; i++) {
    const body = m.codes[i]!;
    const type = m.types[m.functions[i]!];
    if (!type) throw new FledgeError(`function ${i} has an invalid type index`, { code: "wasm_invalid" });
    let nLocals = type.params.length;
    for (const [count] of body.locals) nLocals += count;
    ctx.scratch = nLocals;
    const start = w.pos;
    const dynamicBefore = ctx.dynamic;
    instrumentBody(body.code, w, ctx);
    // The i32 scratch local is only declared when a bulk/grow charge used it.
    if (ctx.dynamic !== dynamicBefore) body.locals = [...body.locals, [1, 0x7f]];
    spans.push(start, w.pos);
  }
  const buf = w.buf;
  for (let i = 0; i < m.codes.length; i++) m.codes[i]!.code = buf.subarray(spans[2 * i]!, spans[2 * i + 1]!);
  // The fuel global stays internal: JavaScriptCore boxes exported mutable globals, and
  // the extra indirection made call-heavy code (recursive fib) 2.0x slower instead of
  // 1.3x. The meter reads the remaining fuel through this getter instead. Appended
  // after all functions, so no index shifts; not metered itself.
  m.types.push({ params: [], results: [0x7e] });
  m.functions.push(m.types.length - 1);
  const getter = new Writer(8);
  getter.byte(OP.globalGet);
  getter.u32(fuelGlobal);
  getter.byte(OP.end);
  m.codes.push({ locals: [], code: getter.finish() });
  m.exports.push({ name: FUEL_EXPORT, kind: EXTERNAL.func, index: nImportedFuncs + 1 + m.functions.length - 1 });
  stats.loops = ctx.loops;
  stats.dynamicCharges = ctx.dynamic;
}

interface BodyContext {
  /** Block type (s33) for a loop's `$refuel` block: the loop's params → the same params. */
  refuelBlockType: (loopBlockType: number) => number;
  nImportedFuncs: number;
  refuelIndex: number;
  fuelGlobal: number;
  /** Index of the i32 scratch local appended to the current function. */
  scratch: number;
  loops: number;
  dynamic: number;
}

/** Rewrites `ref.func` indices in a constant expression. */
function remapConst(expr: ConstExpr, nImportedFuncs: number): ConstExpr {
  let p = 0;
  let w: Writer | null = null;
  let from = 0;
  const end = constExprEnd(expr, 0, expr.length);
  while (p < end) {
    if (expr[p] === OP.refFunc) {
      const idx = readU32(expr, p + 1);
      const q = lebEnd(expr, p + 1);
      if (idx >= nImportedFuncs) {
        w ??= new Writer(expr.length + 8);
        w.range(expr, from, p + 1);
        w.u32(idx + 1);
        from = q;
      }
      p = q;
    } else p = skipInstr(expr, p);
  }
  if (!w) return expr;
  w.range(expr, from, expr.length);
  return w.finish();
}

/**
 * Name section: subsection 1 (function names) and 2 (local names) are keyed by
 * function index and get shifted; other subsections are kept as they are. A name
 * section we cannot parse is dropped rather than left inconsistent.
 */
function remapNameSection(data: Uint8Array, nImportedFuncs: number): Uint8Array | null {
  try {
    const w = new Writer(data.length + 64);
    let p = 0;
    while (p < data.length) {
      const id = data[p]!;
      const size = readU32(data, p + 1);
      const start = lebEnd(data, p + 1);
      const end = start + size;
      if (end > data.length) return null;
      if (id !== 1 && id !== 2) {
        w.range(data, p, end);
        p = end;
        continue;
      }
      const sub = new Writer(size + 16);
      let q = start;
      const count = readU32(data, q);
      q = lebEnd(data, q);
      sub.u32(count);
      for (let i = 0; i < count; i++) {
        const idx = readU32(data, q);
        q = lebEnd(data, q);
        sub.u32(idx >= nImportedFuncs ? idx + 1 : idx);
        const itemStart = q;
        if (id === 1) {
          const len = readU32(data, q);
          q = lebEnd(data, q) + len;
        } else {
          const n = readU32(data, q);
          q = lebEnd(data, q);
          for (let j = 0; j < n; j++) {
            q = lebEnd(data, q);
            const len = readU32(data, q);
            q = lebEnd(data, q) + len;
          }
        }
        if (q > end) return null;
        sub.range(data, itemStart, q);
      }
      if (q !== end) return null;
      w.byte(id);
      w.u32(sub.pos);
      w.range(sub.buf, 0, sub.pos);
      p = end;
    }
    return w.finish();
  } catch {
    return null;
  }
}

// --- the body rewrite -------------------------------------------------------------

/** Bytes of a charge with a 5-byte cost placeholder; returns the placeholder position. */
function emitCharge(w: Writer, ctx: BodyContext): number {
  const g = ctx.fuelGlobal;
  w.ensure(48);
  const buf = w.buf;
  let p = w.pos;
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.i64Const;
  const patch = p;
  p += 5;
  buf[p++] = OP.i64Sub;
  buf[p++] = OP.globalSet;
  p = writeU32(buf, p, g);
  w.pos = p;
  emitCheck(w, ctx);
  return patch;
}

/** `if fuel < 0 then fuel = refuel(fuel)`. */
function emitCheck(w: Writer, ctx: BodyContext): void {
  const g = ctx.fuelGlobal;
  w.ensure(32);
  const buf = w.buf;
  let p = w.pos;
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.i64Const;
  buf[p++] = 0;
  buf[p++] = OP.i64LtS;
  buf[p++] = OP.if;
  buf[p++] = 0x40;
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.call;
  p = writeU32(buf, p, ctx.refuelIndex);
  buf[p++] = OP.globalSet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.end;
  w.pos = p;
}

/** Writes a cost into a 5-byte signed-LEB placeholder (valid, non-minimal encoding). */
function patchCost(buf: Uint8Array, at: number, cost: number): void {
  if (cost >= 2 ** 34) cost = 2 ** 34 - 1;
  buf[at] = (cost & 0x7f) | 0x80;
  buf[at + 1] = ((cost >>> 7) & 0x7f) | 0x80;
  buf[at + 2] = ((cost >>> 14) & 0x7f) | 0x80;
  buf[at + 3] = ((cost >>> 21) & 0x7f) | 0x80;
  buf[at + 4] = Math.floor(cost / 2 ** 28) & 0x3f;
}

/**
 * Dynamic charge for a bulk operation whose i32 size operand is on top of the
 * stack. `shift` > 0 divides (bytes per unit), < 0 multiplies (units per page);
 * `clamp` bounds the size first, so probing growth with a huge delta (which simply
 * fails) is not mistaken for a huge allocation.
 */
function emitDynamic(w: Writer, ctx: BodyContext, shift: number, clamp: number): void {
  const g = ctx.fuelGlobal;
  const s = ctx.scratch;
  w.ensure(64);
  const buf = w.buf;
  let p = w.pos;
  buf[p++] = OP.localTee;
  p = writeU32(buf, p, s);
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  if (clamp > 0) {
    // select(clamp, n, n > clamp)
    w.pos = p;
    w.byte(OP.i64Const);
    w.s64(BigInt(clamp));
    w.ensure(48);
    p = w.pos;
    const b2 = w.buf;
    b2[p++] = OP.localGet;
    p = writeU32(b2, p, s);
    b2[p++] = OP.i64ExtendI32U;
    b2[p++] = OP.localGet;
    p = writeU32(b2, p, s);
    w.pos = p;
    w.byte(OP.i32Const);
    w.s32(clamp);
    w.byte(0x4b); // i32.gt_u
    w.byte(0x1b); // select
  } else {
    buf[p++] = OP.localGet;
    p = writeU32(buf, p, s);
    buf[p++] = OP.i64ExtendI32U;
    w.pos = p;
  }
  if (shift !== 0) {
    w.byte(OP.i64Const);
    w.byte(Math.abs(shift));
    w.byte(shift > 0 ? OP.i64ShrU : 0x86 /* i64.shl */);
  }
  w.byte(OP.i64Sub);
  w.byte(OP.globalSet);
  w.u32(g);
  emitCheck(w, ctx);
  ctx.dynamic++;
}

/** The instrumenter's view of 0xFC sub-opcodes that charge by size: [shift, clamp]. */
const FC_DYNAMIC = new Map<number, [number, number]>([
  [8, [BYTES_PER_UNIT_SHIFT, 0]], // memory.init
  [10, [BYTES_PER_UNIT_SHIFT, 0]], // memory.copy
  [11, [BYTES_PER_UNIT_SHIFT, 0]], // memory.fill
  [12, [0, 0]], // table.init
  [14, [0, 0]], // table.copy
  [15, [0, 1 << 24]], // table.grow
  [17, [0, 0]], // table.fill
]);
/** memory.grow: pages → units (65536 bytes per page at 16 bytes per unit = 2^12). */
const GROW_SHIFT = -(16 - BYTES_PER_UNIT_SHIFT);

/**
 * Loop header charge: `fuel -= cost; br_if $refuel (fuel < 0)`. The refuel call sits
 * outside the loop (see LOOP_PROLOGUE), because any call inside a hot loop makes
 * JavaScriptCore spill floating-point registers around it on every iteration
 * (measured: a float loop ran 2.3x slower with `if (call $refuel)` in the loop,
 * 1.0x with the call moved out).
 */
function emitLoopCharge(w: Writer, ctx: BodyContext): number {
  const g = ctx.fuelGlobal;
  w.ensure(40);
  const buf = w.buf;
  let p = w.pos;
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.i64Const;
  const patch = p;
  p += 5;
  buf[p++] = OP.i64Sub;
  buf[p++] = OP.globalSet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.globalGet;
  p = writeU32(buf, p, g);
  buf[p++] = OP.i64Const;
  buf[p++] = 0;
  buf[p++] = OP.i64LtS;
  buf[p++] = OP.brIf;
  buf[p++] = 1; // $refuel
  w.pos = p;
  return patch;
}

/**
 * Each `loop bt BODY end` becomes
 *
 *     block bt                      ;; $done
 *       loop bt                     ;; $retry
 *         block (params → params)   ;; $refuel
 *           loop bt                 ;; the original loop
 *             <charge; br_if $refuel when fuel < 0>
 *             BODY
 *           end
 *           br $done
 *         end
 *         fuel = refuel(fuel)
 *         br $retry                 ;; re-enters the original loop's header
 *       end
 *     end
 *
 * The loop's params ride along through br_if/br, so multi-value loops work. BODY's
 * branches to labels outside the loop gain 3 to their depth.
 */
const LOOP_FRAMES = 3;

/** Hot loop: copy byte ranges, insert charges, remap function indices and branch depths. */
function instrumentBody(code: Uint8Array, w: Writer, ctx: BodyContext): void {
  const n = code.length;
  // Region stack: one entry for the function body and one per open loop.
  const regionCost: number[] = [0];
  const regionPatch: number[] = [emitCharge(w, ctx)];
  // Control stack: kind (1 = loop, 0 = block/if) and how many frames were inserted
  // around this entry and all entries outside it (to shift branch depths).
  const ctrlKind: number[] = [];
  const ctrlFrames: number[] = [];
  let cost = 0; // cost of the innermost region so far (kept in a local for speed)
  let from = 0;
  let p = 0;
  const nImp = ctx.nImportedFuncs;
  const g = ctx.fuelGlobal;
  // New depth of a branch label given the current control stack.
  const relabel = (label: number): number => {
    const top = ctrlKind.length - 1;
    const target = top - label;
    const inner = top >= 0 ? ctrlFrames[top]! : 0;
    const outer = target >= 0 ? ctrlFrames[target]! : 0;
    return label + inner - outer;
  };
  // Same-length rewrites (shifted function indices, deeper branch labels) are patched
  // into the output after the surrounding range is copied, so most bodies are copied
  // in a few large runs instead of being split at every call.
  const patchAt: number[] = [];
  const patchVal: number[] = [];
  const patchLen: number[] = [];
  const flush = (end: number): void => {
    const base = w.pos - from;
    w.range(code, from, end);
    const k = patchAt.length;
    if (k === 0) return;
    const buf = w.buf;
    for (let i = 0; i < k; i++) writeFixedU32(buf, base + patchAt[i]!, patchVal[i]!, patchLen[i]!);
    patchAt.length = 0;
    patchVal.length = 0;
    patchLen.length = 0;
  };
  /** Rewrites the LEB at [at, end) to `value`: in place when it fits the same length. */
  const rewrite = (at: number, end: number, value: number): void => {
    const len = end - at;
    if (value < 128 ** len) {
      patchAt.push(at);
      patchVal.push(value);
      patchLen.push(len);
    } else {
      flush(at);
      w.u32(value);
      from = end;
    }
  };
  while (p < n) {
    const op = code[p]!;
    cost++;
    switch (MAIN_IMM[op]) {
      case Imm.none:
        if (op === OP.end) {
          const kind = ctrlKind.pop();
          ctrlFrames.pop();
          if (kind === 1) {
            // A loop closes: patch its charge, close the inserted frames, resume the enclosing region.
            flush(p + 1);
            from = p + 1;
            patchCost(w.buf, regionPatch.pop()!, Math.max(cost, 1));
            regionCost.pop();
            cost = regionCost[regionCost.length - 1]!;
            w.ensure(32);
            w.byte(OP.br);
            w.byte(2); // $done
            w.byte(OP.end); // $refuel
            w.byte(OP.globalGet);
            w.u32(g);
            w.byte(OP.call);
            w.u32(ctx.refuelIndex);
            w.byte(OP.globalSet);
            w.u32(g);
            w.byte(OP.br);
            w.byte(0); // $retry
            w.byte(OP.end); // $retry
            w.byte(OP.end); // $done
          } else if (kind === undefined) {
            if (p !== n - 1) throw new FledgeError("invalid wasm module: code after the final end", { code: "wasm_invalid" });
            flush(p + 1);
            from = p + 1;
            patchCost(w.buf, regionPatch.pop()!, Math.max(cost, 1));
            regionCost.pop();
          }
        }
        p++;
        break;
      case Imm.block: {
        const q = lebEnd(code, p + 1);
        const outerFrames = ctrlFrames.length ? ctrlFrames[ctrlFrames.length - 1]! : 0;
        if (op === OP.loop) {
          flush(p);
          const bt = readS33(code, p + 1);
          w.byte(OP.block);
          w.range(code, p + 1, q); // $done: the loop's own type
          w.byte(OP.loop);
          w.range(code, p + 1, q); // $retry
          w.byte(OP.block);
          w.s33(ctx.refuelBlockType(bt)); // $refuel
          w.range(code, p, q); // the original loop
          from = q;
          regionCost[regionCost.length - 1] = cost;
          regionCost.push(0);
          regionPatch.push(emitLoopCharge(w, ctx));
          cost = 0;
          ctx.loops++;
          ctrlKind.push(1);
          ctrlFrames.push(outerFrames + LOOP_FRAMES);
        } else {
          ctrlKind.push(0);
          ctrlFrames.push(outerFrames);
        }
        p = q;
        break;
      }
      case Imm.label: {
        const label = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        const nl = relabel(label);
        if (nl !== label) rewrite(p + 1, q, nl);
        p = q;
        break;
      }
      case Imm.brTable: {
        const end = skipInstr(code, p);
        if (ctrlFrames.length && ctrlFrames[ctrlFrames.length - 1]! > 0) {
          flush(p + 1);
          let q = p + 1;
          const count = readU32(code, q);
          q = lebEnd(code, q);
          w.u32(count);
          for (let i = 0; i <= count; i++) {
            w.u32(relabel(readU32(code, q)));
            q = lebEnd(code, q);
          }
          from = end;
        }
        p = end;
        break;
      }
      case Imm.func: {
        const idx = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        if (idx >= nImp) rewrite(p + 1, q, idx + 1);
        else if (op !== OP.refFunc) cost += HOST_CALL_COST;
        p = q;
        break;
      }
      case Imm.mem:
        if (op === OP.memoryGrow) {
          flush(p);
          from = p;
          emitDynamic(w, ctx, GROW_SHIFT, MAX_PAGES);
        }
        p = skipInstr(code, p);
        break;
      case Imm.prefixFC: {
        const sub = readU32(code, p + 1);
        const dyn = FC_DYNAMIC.get(sub);
        if (dyn) {
          flush(p);
          from = p;
          emitDynamic(w, ctx, dyn[0], dyn[1]);
        }
        p = skipInstr(code, p);
        break;
      }
      case Imm.local:
      case Imm.global:
      case Imm.i32:
      case Imm.i64:
      case Imm.table:
        // Single LEB immediate: skip inline (the most common case).
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        break;
      case Imm.f32:
        p += 5;
        break;
      case Imm.f64:
        p += 9;
        break;
      case Imm.callIndirect:
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        break;
      case Imm.memarg:
        // align then offset; bit 6 of align would announce a memory index (multi-memory).
        if (code[p + 1]! & 0x40) {
          p = skipInstr(code, p); // refuses with the proper message
          break;
        }
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        break;
      default:
        p = skipInstr(code, p);
    }
  }
  if (ctrlKind.length !== 0 || regionPatch.length !== 0) {
    throw new FledgeError("invalid wasm module: unbalanced blocks in a function body", { code: "wasm_invalid" });
  }
}

/** Writes `value` as an unsigned LEB of exactly `len` bytes (padded; valid wasm). */
function writeFixedU32(buf: Uint8Array, pos: number, value: number, len: number): void {
  for (let i = 0; i < len - 1; i++) {
    buf[pos + i] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos + len - 1] = value;
}
