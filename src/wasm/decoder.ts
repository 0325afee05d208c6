/**
 * The strict decoder's entry points: `decodeModule` (caps, then parse, then every
 * body through `validateBody`) runs before the engine validates or compiles anything
 * and before the rewriter touches a body, so the rewriter only ever sees bodies whose
 * every instruction is in the table of opcodes.ts and whose structure is what it
 * relies on: blocks balanced, `else` only inside `if`, `catch`/`catch_all`/`delegate`
 * only inside `try`, branch labels within the enclosing blocks, indices in range, and
 * the function's final `end` as its last byte.
 */
import { FledgeError } from "../core/index.ts";
import { capError, checkCap, checkExceptionRules, checkModuleCounts, checkModuleSize, MODULE_CAPS } from "./caps.ts";
import { skipInstr } from "./code.ts";
import { malformed, readS33, readU32 } from "./leb128.ts";
import { importedCount, type FuncType, type Module } from "./module.ts";
import { Imm, MAIN_IMM } from "./opcodes.ts";
import { parseModule } from "./parse.ts";

/** What a body may refer to. */
export interface BodyEnv {
  types: readonly FuncType[];
  /** Functions, imported plus defined. */
  funcs: number;
  /** Exception tags, imported plus defined. */
  tags: number;
  /** When present, set to 1 for every function a `call` names. */
  called?: Uint8Array;
}

/** What the decoder found in one body (compared against binaryen by the fuzz). */
export interface BodyCounts {
  loops: number;
  /** call, call_indirect, return_call, return_call_indirect. */
  calls: number;
  maxDepth: number;
  instrs: number;
  /** Functions this body names in `return_call` (absent when none). */
  tailCallees?: number[];
  /** The body has a `return_call_indirect`. */
  tailIndirect?: boolean;
  /** Functions this body takes with `ref.func` (absent when none). */
  refs?: number[];
  /** The body has an exception landing (`try` or `try_table`). */
  landings?: boolean;
}

/** Frame kinds of the open blocks; one buffer reused by every body (bodies are decoded one at a time). */
const frames = new Uint8Array(MODULE_CAPS.nestingDepth + 1);

// Control frame kinds.
const BLOCK = 0;
const LOOP = 1;
const IF = 2;
const ELSE = 3;
const TRY = 4;
const CATCH = 5;
const CATCH_ALL = 6;
const TRY_TABLE = 7;

/**
 * Instructions with nothing to check beyond their encoding, by the shape of their
 * short form: no immediate, one LEB immediate (local, global, table index, i32/i64
 * constant) that fits in one byte, or a memarg of two one-byte LEBs. A one-byte LEB is
 * always in range, so skipInstr would accept exactly these bytes.
 */
const SHORT_NONE = 1;
const SHORT_LEB = 2;
const SHORT_MEMARG = 3;
const SHORT_FORM = new Uint8Array(256);
for (let op = 0; op < 256; op++) {
  const imm = MAIN_IMM[op];
  // Structure, exception handling and gated opcodes are checked below.
  if (imm === Imm.none) SHORT_FORM[op] = [0x05, 0x07, 0x0a, 0x0b, 0x18, 0x19].includes(op) ? 0 : SHORT_NONE;
  else if (imm === Imm.local || imm === Imm.global || imm === Imm.table || imm === Imm.i32 || imm === Imm.i64) SHORT_FORM[op] = SHORT_LEB;
  else if (imm === Imm.memarg) SHORT_FORM[op] = SHORT_MEMARG;
}

function invalid(what: string, p: number): FledgeError {
  return new FledgeError(`invalid wasm module: ${what} at byte ${p}`, { code: "wasm_invalid" });
}

/**
 * Decodes one function body (the bytes after its locals, ending with `end`) strictly
 * and checks its structure. Throws a FledgeError naming the opcode or feature and
 * the byte offset within the body.
 */
export function validateBody(code: Uint8Array, env: BodyEnv, start = 0, end = code.length): BodyCounts {
  const n = end;
  const stack = frames;
  let depth = 0; // open frames, not counting the function's own
  const counts: BodyCounts = { loops: 0, calls: 0, maxDepth: 0, instrs: 0 };
  const nTypes = env.types.length;
  let p = start;
  while (p < n) {
    const op = code[p]!;
    // Most instructions take the common short form below, which the strict walk
    // accepts unchanged; anything else (and anything that would end past the body)
    // goes through skipInstr.
    const fast = SHORT_FORM[op]!;
    if (fast !== 0) {
      let short = 0;
      if (fast === SHORT_NONE) short = p + 1;
      else if (fast === SHORT_LEB) short = code[p + 1]! < 0x80 ? p + 2 : 0;
      else if (code[p + 1]! < 0x40 && code[p + 2]! < 0x80) short = p + 3; // memarg: one-byte align (no memory index flag) and offset
      if (short !== 0 && short <= n) {
        counts.instrs++;
        p = short;
        continue;
      }
    }
    const next = skipInstr(code, p); // strict immediates; refuses unknown encodings
    if (next > n) throw malformed("instruction runs past the end of the function body", p);
    counts.instrs++;
    switch (op) {
      case 0x02: // block
      case 0x03: // loop
      case 0x04: // if
      case 0x06: // try
      case 0x1f: {
        // try_table
        const bt = readS33(code, p + 1);
        if (bt >= 0 && bt >= nTypes) throw invalid(`block type index ${bt} out of range`, p);
        if (depth >= MODULE_CAPS.nestingDepth) throw capError("nestingDepth", `more than ${MODULE_CAPS.nestingDepth.toLocaleString("en-US")}`, `at byte ${p}`);
        stack[depth++] = op === 0x02 ? BLOCK : op === 0x03 ? LOOP : op === 0x04 ? IF : op === 0x06 ? TRY : TRY_TABLE;
        if (depth > counts.maxDepth) counts.maxDepth = depth;
        if (op === 0x03) counts.loops++;
        else if (op === 0x06 || op === 0x1f) counts.landings = true;
        if (op === 0x1f) checkTryTableLabels(code, p, depth);
        break;
      }
      case 0x05: // else
        if (depth === 0 || stack[depth - 1] !== IF) throw invalid("`else` outside an `if`", p);
        stack[depth - 1] = ELSE;
        break;
      case 0x07: // catch
      case 0x19: // catch_all
        if (depth === 0 || (stack[depth - 1] !== TRY && stack[depth - 1] !== CATCH)) throw invalid("`catch` outside a `try`", p);
        stack[depth - 1] = op === 0x07 ? CATCH : CATCH_ALL;
        break;
      case 0x18: // delegate: ends a try that has no catch
        if (depth === 0 || stack[depth - 1] !== TRY) throw invalid("`delegate` outside a `try`", p);
        depth--;
        checkLabel(readU32(code, p + 1), depth, p);
        break;
      case 0x0b: // end
        if (depth === 0) {
          if (next !== n) throw invalid("code after the function's final `end`", next);
          return counts;
        }
        depth--;
        break;
      case 0x0c: // br
      case 0x0d: // br_if
      case 0x09: // rethrow
        checkLabel(readU32(code, p + 1), depth, p);
        break;
      case 0x0e: {
        // br_table: skipInstr checked the encoding and the count cap
        let q = p + 1;
        const k = readU32(code, q);
        q = skipLeb(code, q);
        for (let i = 0; i <= k; i++) {
          checkLabel(readU32(code, q), depth, p);
          q = skipLeb(code, q);
        }
        break;
      }
      case 0x10: // call
      case 0x12: // return_call
      case 0xd2: // ref.func
      {
        const idx = readU32(code, p + 1);
        if (idx >= env.funcs) throw invalid(`function index ${idx} out of range`, p);
        if (op !== 0xd2) counts.calls++;
        // Which functions may pass the fuel counter as a parameter depends on these (instrument.ts).
        if (op === 0x10) {
          if (env.called) env.called[idx] = 1;
        } else if (op === 0x12) (counts.tailCallees ??= []).push(idx);
        else if (op === 0xd2) (counts.refs ??= []).push(idx);
        break;
      }
      case 0x11: // call_indirect
      case 0x13: // return_call_indirect
        if (readU32(code, p + 1) >= nTypes) throw invalid(`type index ${readU32(code, p + 1)} out of range`, p);
        counts.calls++;
        if (op === 0x13) counts.tailIndirect = true;
        break;
      case 0x08: // throw
        if (readU32(code, p + 1) >= env.tags) throw invalid(`tag index ${readU32(code, p + 1)} out of range`, p);
        break;
      default:
        break;
    }
    p = next;
  }
  throw invalid("function body ends before its final `end`", n);
}

/** A branch label must name an enclosing block (`depth` open frames plus the function). */
function checkLabel(label: number, depth: number, p: number): void {
  if (label > depth) throw invalid(`branch depth ${label} out of range`, p);
}

function skipLeb(b: Uint8Array, p: number): number {
  while (b[p]! & 0x80) p++;
  return p + 1;
}

/** try_table's catch labels are relative to the frame outside the try_table. */
function checkTryTableLabels(code: Uint8Array, p: number, depth: number): void {
  let q = p + 1;
  while (code[q]! & 0x80) q++; // block type (already checked)
  q++;
  const n = readU32(code, q);
  q = skipLeb(code, q);
  for (let i = 0; i < n; i++) {
    const kind = code[q++]!;
    if (kind < 2) q = skipLeb(code, q);
    checkLabel(readU32(code, q), depth - 1, p);
    q = skipLeb(code, q);
  }
}

/** Functions and tags a body may refer to. */
export function bodyEnv(m: Module): BodyEnv {
  return { types: m.types, funcs: importedCount(m, "func") + m.functions.length, tags: m.tags.length + m.imports.filter((i) => i.desc.kind === "tag").length };
}

/**
 * Caps, parse and strict decode of every body: the module fledge will rewrite is
 * exactly the module the engine will run, and nothing expensive happens before the
 * caps have been checked. Returns the parsed module and per-function counts.
 */
export function decodeModule(bytes: Uint8Array): { module: Module; counts: BodyCounts[]; called: Uint8Array } {
  checkModuleSize(bytes);
  const m = parseModule(bytes);
  checkModuleCounts(m);
  checkExceptionRules(m);
  const env = bodyEnv(m);
  const called = new Uint8Array(env.funcs);
  env.called = called;
  const nImported = importedCount(m, "func");
  const counts: BodyCounts[] = [];
  for (let i = 0; i < m.codes.length; i++) {
    const c = m.codes[i]!;
    // Decoded in place in the module's bytes, so every offset in an error is a module offset.
    const start = c.code.byteOffset - bytes.byteOffset;
    try {
      counts.push(validateBody(bytes, env, start, start + c.code.length));
    } catch (e) {
      if (e instanceof FledgeError && (e.code === "wasm_malformed" || e.code === "wasm_invalid" || e.code === "wasm_unsupported" || e.code === "wasm_cap")) {
        const o: { code: string; hint?: string } = { code: e.code };
        if (e.hint !== undefined) o.hint = e.hint;
        throw new FledgeError(`${e.message} (function ${nImported + i})`, o);
      }
      throw e;
    }
  }
  return { module: m, counts, called };
}

/** Exported for tests: is this opcode's immediate a block type? */
export function opensBlock(op: number): boolean {
  return MAIN_IMM[op] === Imm.block || MAIN_IMM[op] === Imm.tryTable;
}

export { checkCap };
