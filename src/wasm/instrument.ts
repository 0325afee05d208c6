/**
 * Fuel and deadline metering by rewriting the module's code (no engine hook exists in
 * JavaScriptCore), plus the memory and table caps.
 *
 * Fuel counts wasm instructions executed. Each basic block is charged its own
 * instruction count on entry (blocks.ts); the counter lives in a local of each
 * function. A function that only direct calls reach (or the clone of one also reached
 * otherwise) takes it as an extra last parameter and gives it back as an extra last
 * result (passing.ts); every other function exchanges it with an internal i64 global
 * at entry and exit, around calls that are not to a passing function, around throws,
 * and at exception landings. The `fuel < 0` check runs at
 * every function entry, after every call, at loop headers, exception landings and
 * after size-dependent charges (bulk memory/table operations and memory.grow, charged
 * by their size operand; table.grow also by the table's current size): the soundness
 * invariant is written at the top of blocks.ts. Host calls are charged by the host
 * gate (meter.hostCall), not here.
 *
 * When the counter goes negative the injected code calls one shared helper per module
 * (blocks.ts slowPathBody), which calls the imported
 * `fledge:meter.refuel(remaining: i64) -> i64`, which returns the next slice, or a
 * negative value to end the run: the guest then executes `unreachable`. A trap, unlike
 * a JS exception, passes through the guest's own `catch_all` / `try_table` handlers,
 * so exception handling cannot keep a stopped guest alive. When the host gate stops a
 * run from inside an import (a JS exception the guest could catch), the meter first
 * calls HALT_EXPORT, which sets the global far below zero; every landing re-reads the
 * global and checks, so the handler traps at once.
 *
 * The global stays internal (exporting it made JSC box it); FUEL_EXPORT is a getter.
 * GROW_EXPORT reads the page delta of the last memory.grow that returned -1, so a
 * trap that follows a refused growth is reported as the memory limit.
 */
import { FledgeError } from "../core/index.ts";
import { localsEntryCost, meterBody, MIN_BYTES_PER_LOOP, slowPathBody, type BodyEdits, type MeterContext } from "./blocks.ts";
import { finishBodies, leastFinishedSize, planChecks, settleCharges } from "./checks.ts";
import { remapNameSection } from "./names.ts";
import { escapedFunctions, lebBytes, remapConst } from "./func-refs.ts";
import { encodeModule } from "./encode.ts";
import { limitError, MAX_PAGES, PAGE_SIZE } from "./limits.ts";
import { EXTERNAL, importedCount, type Limits, type Module } from "./module.ts";
import { OP } from "./opcodes.ts";
import { decodeModule, type BodyCounts } from "./decoder.ts";
import { planPassing, PassingTypes, thunkBody, type PassingPlan } from "./passing.ts";
import { capTables, checkCap } from "./caps.ts";
import { handlerScan } from "./eh.ts";
import { Writer } from "./writer.ts";
import { collectYoung, COLLECT_STRIDE_BYTES } from "./collect.ts";
import { preparedSizeCap, preparedSizeError } from "./size-cap.ts";
import { PARALLEL_VALIDATE_MIN_BYTES, validateInParallel } from "./validate-async.ts";

// The meter's names and INSTRUMENTER_VERSION (bump it whenever the rewrite changes) live
// in ./abi.ts, which a cached start loads without this module.
import { FUEL_EXPORT, GROW_EXPORT, HALT_EXPORT, INSTRUMENTER_VERSION, METER_MODULE, REFUEL_NAME } from "./abi.ts";
export { FUEL_EXPORT, GROW_EXPORT, HALT_EXPORT, INSTRUMENTER_VERSION, METER_MODULE, REFUEL_NAME };
/** Default cap on table sizes (elements). A funcref slot costs the engine ~8-16 bytes, so this bounds tables at ~16 MiB. */
export const DEFAULT_MAX_TABLE_ELEMENTS = 1 << 20;
export { BYTES_PER_UNIT_SHIFT } from "./blocks.ts";
const RESERVED_EXPORTS = new Set([FUEL_EXPORT, HALT_EXPORT, GROW_EXPORT]);

export interface InstrumentOptions {
  /** Inject fuel/deadline metering. */
  fuel: boolean;
  /** Memory cap in bytes (rounded down to whole pages); null = no cap beyond 4 GiB. */
  maxMemoryBytes: number | null;
  /** Cap on all tables' elements together; defaults to DEFAULT_MAX_TABLE_ELEMENTS, at most TABLE_ELEMENTS_HARD. */
  maxTableElements?: number;
  /** Validate the input with WebAssembly.validate first (default true). */
  validate?: boolean;
}

export interface ImportInfo {
  module: string;
  name: string;
  kind: "func" | "table" | "memory" | "global" | "tag";
}

export interface ExportInfo {
  name: string;
  kind: "func" | "table" | "memory" | "global" | "tag";
}

export interface InstrumentStats {
  inputBytes: number;
  outputBytes: number;
  functions: number;
  loops: number;
  /** Bulk/grow operations charged by their size operand. */
  dynamicCharges: number;
  /** Functions whose entry check was dropped (checks.ts). */
  uncheckedLeaves?: number;
  /** After-call checks dropped (checks.ts). */
  droppedAfterCallChecks?: number;
  /** Functions that take and return the fuel counter (passing.ts), clones included. */
  passingFunctions?: number;
  /** Of those, clones behind a thunk (functions reached both directly and otherwise). */
  passingClones?: number;
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

const KIND_NAMES = ["func", "table", "memory", "global", "tag"] as const;

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
  // Caps and the strict decode come first: nothing expensive (the engine's validator
  // included) runs on a module over a cap, and every body is known to the decoder.
  const { module: m, counts, called } = decodeModule(bytes);
  if (opts.fuel) refuseLoopsOverCap(counts, bytes.length);
  // A large module validates on another thread while this one rewrites it; the answer
  // is awaited before anything of the rewrite is returned (and decides over any error
  // the rewrite of an invalid module may throw).
  const pending = opts.validate !== false && bytes.length >= PARALLEL_VALIDATE_MIN_BYTES ? validateInParallel(bytes) : undefined;
  if (opts.validate !== false && !pending && !WebAssembly.validate(bytes)) throw notValid();
  let result: InstrumentResult;
  try {
    result = rewrite(m, bytes, opts, counts, called);
  } catch (e) {
    // A module over one of fledge's caps (the instrumented size cap above all) is
    // refused whether or not it validates: the refusal does not wait for the
    // validation, whose memory would add to the rewrite's, which the cap bounds.
    if (pending && e instanceof FledgeError && e.code === "wasm_cap") pending.abandon();
    else if (pending && !pending()) throw notValid();
    throw e;
  }
  if (pending && !pending()) throw notValid();
  return result;
}

/**
 * The size cap, decided from the decoder's counts alone when the loops settle it:
 * metering adds at least MIN_BYTES_PER_LOOP to every loop, so a module of that many
 * tiny loops is refused before the validator and the rewrite spend hundreds of MB on
 * it (30 MB of empty loops: 485 MB for the engine's validation alone).
 */
function refuseLoopsOverCap(counts: readonly BodyCounts[], sourceBytes: number): void {
  let loops = 0;
  for (const c of counts) loops += c.loops;
  const least = loops * MIN_BYTES_PER_LOOP;
  if (least > preparedSizeCap(sourceBytes)) throw preparedSizeError(sourceBytes, least, true);
}

function notValid(): FledgeError {
  return new FledgeError("invalid wasm module: it does not validate", { code: "wasm_invalid" });
}

/** Caps and (optionally) meters a decoded module; the input is validated by the caller. */
function rewrite(m: Module, bytes: Uint8Array, opts: InstrumentOptions, counts: readonly BodyCounts[], called: Uint8Array): InstrumentResult {
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
    }
  }
  for (const mem of m.memories) capLimits(mem, capPages, "memory", opts.maxMemoryBytes);
  // All tables together stay within tableCap elements (caps.ts).
  const tables = m.tables.map((t) => t.limits);
  for (const imp of m.imports) if (imp.desc.kind === "table") tables.unshift(imp.desc.table.limits);
  capTables(tables, tableCap);

  const stats: InstrumentStats = { inputBytes: bytes.length, outputBytes: 0, functions: m.codes.length, loops: 0, dynamicCharges: 0 };
  if (opts.fuel) injectFuel(m, stats, counts, called, bytes.length);
  const out = encodeModule(m);
  stats.outputBytes = out.length;
  const result: InstrumentResult = { bytes: out, imports, exports, stats };
  if (importedMemory) result.importedMemory = importedMemory;
  return result;
}

/** Custom sections whose contents refer to code offsets or old indices: dropped. */
function dropsWithRewrite(name: string): boolean {
  return name === "linking" || name.startsWith("reloc.") || name.startsWith(".debug_") || name === "sourceMappingURL" || name === "external_debug_info";
}

function injectFuel(m: Module, stats: InstrumentStats, counts: readonly BodyCounts[], called: Uint8Array, sourceBytes: number): void {
  for (const imp of m.imports) {
    if (imp.module === METER_MODULE) throw new FledgeError(`module imports from the reserved module "${METER_MODULE}"`, { code: "wasm_reserved" });
  }
  for (const e of m.exports) {
    if (RESERVED_EXPORTS.has(e.name)) throw new FledgeError(`module exports the reserved name "${e.name}"`, { code: "wasm_reserved" });
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
  const hasMemory = m.memories.length > 0 || m.imports.some((i) => i.desc.kind === "memory");
  const growGlobal = hasMemory ? fuelGlobal + 1 : -1;
  if (hasMemory) m.globals.push({ type: { valType: 0x7f, mutable: true }, init: new Uint8Array([OP.i32Const, 0, OP.end]) });

  // Before the indices shift: the defined functions only direct calls cannot reach.
  const escaped = escapedFunctions(m);
  // Clones of functions reached both ways follow the shared slow path.
  const nDefined = m.codes.length;
  const slowIndex = nImportedFuncs + 1 + nDefined;
  const pass = planPassing(m, nImportedFuncs, escaped, counts, called, slowIndex + 1);
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
    const data = c.name === "name" ? remapNameSection(c.data, nImportedFuncs, (f) => localNames(pass, m, nImportedFuncs, f)) : c.data;
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
  // The shared slow path is the first function appended after the original ones.
  const ctx: MeterContext = { refuelBlockType, nImportedFuncs, refuelIndex, slowIndex, fuelGlobal, growGlobal, loops: 0, dynamic: 0, passTo: pass.passTo };
  const types = new PassingTypes(m);
  let total = 0;
  for (const c of m.codes) total += c.code.length;
  // Room for the largest metered code fledge accepts (size-cap.ts caps it at 4x the
  // source) in pages that cost memory only once written (writer.ts).
  const w = Writer.reserved(4 * total + 1024);
  // The rewrite stops as soon as the bodies written so far are bound to pass the size
  // cap once finished: completing a module that is refused anyway cost a 63 MB module
  // of tiny loops 2.7 GB of host memory and 9 s.
  const cap = preparedSizeCap(sourceBytes);
  let least = 0;
  const edits: BodyEdits[] = [];
  const ends: number[] = [];
  let collectAt = COLLECT_STRIDE_BYTES;
  for (let i = 0; i < m.codes.length; i++) {
    const body = m.codes[i]!;
    const type = m.types[m.functions[i]!];
    if (!type) throw new FledgeError(`function ${i} has an invalid type index`, { code: "wasm_invalid" });
    let nLocals = type.params.length;
    for (const [count] of body.locals) nLocals += count;
    // Local nLocals is the fuel counter; two i32 scratch locals follow when a
    // size-dependent charge used them.
    ctx.entryCost = localsEntryCost(body.locals);
    const passes = pass.passes[i] === 1;
    ctx.self = passes ? { nParams: type.params.length, wrapType: types.wrap(type.results) } : null;
    // One engine search of this body's handlers is bounded by the cap; the meter prices each (eh.ts).
    const scan = handlerScan(body.code);
    checkCap("handlers", scan.handlers, `function ${nImportedFuncs + i}`);
    const e = meterBody(body.code, nLocals, w, ctx, scan);
    // A passing function's counter is its last parameter; the others declare it.
    const counter: [number, number][] = passes ? [] : [[1, 0x7e]];
    body.locals = e.usedScratch ? [...body.locals, ...counter, [2, 0x7f]] : [...body.locals, ...counter];
    // The body shrinks in place and the next one goes after its old end: writing it over
    // the bytes given back made the rewrite of a module of large bodies ~50% slower.
    const end = settleCharges(w.buf, e, w.pos);
    edits.push(e);
    ends.push(end);
    least += leastFinishedSize(e, end);
    if (least > cap) throw preparedSizeError(sourceBytes, least, true);
    if (w.pos >= collectAt) {
      collectYoung(); // collect.ts: the per-body garbage would otherwise pile up
      collectAt = w.pos + COLLECT_STRIDE_BYTES;
    }
  }
  const buf = w.buf;
  const plan = planChecks(edits, nImportedFuncs, escaped);
  const spans = finishBodies(buf, edits, ends, plan);
  stats.uncheckedLeaves = plan.uncheckedLeaf.filter(Boolean).length;
  stats.passingFunctions = pass.passes.reduce((n, x) => n + x, 0);
  stats.passingClones = pass.cloned.length;
  stats.droppedAfterCallChecks = plan.droppedAfterCalls.reduce((n, d) => n + d.length, 0);
  for (let i = 0; i < m.codes.length; i++) m.codes[i]!.code = buf.subarray(spans[2 * i]!, spans[2 * i + 1]!);
  // Passing functions take their new type; a cloned one moves to its clone's index
  // (after the slow path) and leaves a thunk of the original type behind.
  const clones: { type: number; body: (typeof m.codes)[number] }[] = [];
  for (let i = 0; i < nDefined; i++) {
    if (pass.passes[i] !== 1) continue;
    const t = m.functions[i]!;
    if (pass.passTo[nImportedFuncs + i] === nImportedFuncs + i + 1) m.functions[i] = types.of(t);
    else {
      clones.push({ type: types.of(t), body: m.codes[i]! });
      m.codes[i] = { locals: [], code: thunkBody(m.types[t]!.params.length, fuelGlobal, pass.passTo[nImportedFuncs + i]!) };
    }
  }
  // The fuel global stays internal: JavaScriptCore boxes exported mutable globals, and
  // the extra indirection made call-heavy code (recursive fib) 2.0x slower instead of
  // 1.3x. The meter reads the remaining fuel through this getter instead. Appended
  // after all functions, so no index shifts; not metered itself.
  const addExport = (name: string, params: number[], results: number[], code: number[]): void => {
    m.types.push({ params, results });
    m.functions.push(m.types.length - 1);
    m.codes.push({ locals: [], code: new Uint8Array(code) });
    m.exports.push({ name, kind: EXTERNAL.func, index: nImportedFuncs + 1 + m.functions.length - 1 });
  };
  m.functions.push(refuelType);
  m.codes.push({ locals: [], code: slowPathBody(refuelIndex, fuelGlobal) });
  for (const c of clones) {
    m.functions.push(c.type);
    m.codes.push(c.body);
  }
  const g = [...lebBytes(fuelGlobal)];
  addExport(FUEL_EXPORT, [], [0x7e], [OP.globalGet, ...g, OP.end]);
  // -2^62: far enough below zero that no refuel slice brings it back.
  addExport(HALT_EXPORT, [], [], [OP.i64Const, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, OP.globalSet, ...g, OP.end]);
  if (growGlobal >= 0) addExport(GROW_EXPORT, [], [0x7f], [OP.globalGet, ...lebBytes(growGlobal), OP.end]);
  stats.loops = ctx.loops;
  stats.dynamicCharges = ctx.dynamic;
}

/** How a function's local names move: a passing function's locals shift past the counter; a cloned one's index keeps only its parameters' names (the thunk). */
function localNames(pass: PassingPlan, m: Module, nImportedFuncs: number, f: number): ((local: number) => number) | null {
  const i = f - nImportedFuncs;
  if (i < 0 || pass.passes[i] !== 1) return null;
  const nParams = m.types[m.functions[i]!]?.params.length ?? 0;
  if (pass.passTo[f] === f + 1) return (l) => (l >= nParams ? l + 1 : l);
  return (l) => (l < nParams ? l : -1);
}
