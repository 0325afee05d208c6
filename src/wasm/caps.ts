/**
 * Module-level caps: checked while parsing and decoding, before the engine validates
 * or compiles anything. Without them a small module can make the host allocate far
 * more than the guest's memory limit before any limit applies (a 4.5 MB module of
 * nested blocks cost 1.6 GB to compile; 999,999 empty functions cost 1.3 GB).
 * Every refusal names the cap and its value (`capError`).
 *
 * The values follow what real toolchains produce with a wide margin (clang's largest
 * real-world modules have ~100k functions and bodies well under 1 MiB) and stay at or
 * below wasmtime's validator limits (100 tables, 10M table elements, 1000 params).
 */
import { EXIT, FledgeError } from "../core/index.ts";
import type { Limits, Module } from "./module.ts";

export const MODULE_CAPS = {
  /** Size of the module file in bytes. */
  moduleBytes: 64 * 2 ** 20,
  /** Functions, imported plus defined. */
  functions: 200_000,
  /** Size of one function body in bytes. */
  bodyBytes: 2 ** 20,
  /** Nesting depth of blocks, loops, ifs and trys in one function. */
  nestingDepth: 10_000,
  /**
   * Locals declared by one function (parameters not included): the engine's 50,000
   * less the 3 the fuel meter adds (blocks.ts), so a metered body still compiles.
   */
  locals: 49_997,
  /** Parameters (and, separately, results) of one function type. */
  params: 1000,
  /** Tables, imported plus defined. */
  tables: 100,
  /** Types in the type section. */
  types: 100_000,
  /** Exports. */
  exports: 100_000,
  /** Globals, imported plus defined. */
  globals: 100_000,
  /** Data segments. */
  dataSegments: 100_000,
  /** Element segments. */
  elemSegments: 100_000,
  /** Imports. */
  imports: 10_000,
  /** Targets of one br_table. */
  brTableTargets: 100_000,
  /** Exception tags, imported plus defined. */
  tags: 100_000,
  /** Items in all element segments together (a passive segment is not bounded by any table). */
  elemItems: 1_000_000,
  /** Parameters plus results over all function types (the parser keeps one number per entry). */
  typeEntries: 1_000_000,
  /** Custom sections (3 bytes each would otherwise make millions of parser objects). */
  customSections: 10_000,
  /**
   * Exception handler clauses in one function (try_table clauses, legacy catch and
   * catch_all, delegates): the engine searches them all on every throw that reaches
   * the function, so this bounds one search. Compilers emit a few per function.
   */
  handlers: 10_000,
} as const;

export type ModuleCap = keyof typeof MODULE_CAPS;

/** Total table elements over all tables: default, and the most `--max-table-elements` style options may raise it to. */
export const TABLE_ELEMENTS_DEFAULT = 1 << 20;
export const TABLE_ELEMENTS_HARD = 10_000_000;

/** Bumped whenever a cap or the decoder's accepted encodings change (part of the prepared-cache key). */
export const DECODER_VERSION = "strict-4";

const WHAT: Record<ModuleCap, string> = {
  moduleBytes: "module size",
  functions: "function count",
  bodyBytes: "function body size",
  nestingDepth: "block nesting depth",
  locals: "locals per function",
  params: "parameters per function type",
  tables: "table count",
  types: "type count",
  exports: "export count",
  globals: "global count",
  dataSegments: "data segment count",
  elemSegments: "element segment count",
  imports: "import count",
  brTableTargets: "br_table target count",
  tags: "tag count",
  elemItems: "element segment item count",
  typeEntries: "total function type entries",
  customSections: "custom section count",
  handlers: "exception handler clauses per function",
};

/** The one refusal for a module over a cap: names the cap, its value and what was found. */
export function capError(cap: ModuleCap, found: number | string, where?: string): FledgeError {
  const at = where ? ` (${where})` : "";
  return new FledgeError(`module exceeds fledge's ${WHAT[cap]} cap of ${MODULE_CAPS[cap].toLocaleString("en-US")}: found ${typeof found === "number" ? found.toLocaleString("en-US") : found}${at}`, {
    code: "wasm_cap",
    hint: "fledge refuses modules this large before compiling them; split the module or reduce its size",
  });
}

/** Throws capError when `n` is over the cap. */
export function checkCap(cap: ModuleCap, n: number, where?: string): void {
  if (n > MODULE_CAPS[cap]) throw capError(cap, n, where);
}

/** Module size: checked first, before any parsing. */
export function checkModuleSize(bytes: Uint8Array): void {
  checkCap("moduleBytes", bytes.length, "bytes");
}

/** Counts that span sections (imported plus defined), checked once the module is parsed. */
export function checkModuleCounts(m: Module): void {
  let funcs = m.functions.length;
  let tables = m.tables.length;
  let globals = m.globals.length;
  for (const imp of m.imports) {
    if (imp.desc.kind === "func") funcs++;
    else if (imp.desc.kind === "table") tables++;
    else if (imp.desc.kind === "global") globals++;
  }
  checkCap("functions", funcs);
  checkCap("tables", tables);
  checkCap("globals", globals);
}

/** Running totals for caps that span many items; `add` throws once a total passes its cap. */
export class CapCounter {
  private n = 0;
  constructor(private readonly cap: ModuleCap) {}
  add(k: number, where?: string): void {
    this.n += k;
    checkCap(this.cap, this.n, where);
  }
}

/**
 * Caps every table so that the sum of all tables' maximum sizes stays within `total`
 * elements: the host memory tables can ever take (including through table.grow,
 * which the engine stops at the declared maximum) is bounded by this one number.
 * Minimum sizes over the total are refused; the growth room left is shared out,
 * smallest needs first, so a single-table module keeps its whole declared maximum
 * up to `total`. Limits are edited in place.
 */
export function capTables(tables: Limits[], total: number): void {
  const cap = Math.min(total, TABLE_ELEMENTS_HARD);
  let mins = 0;
  for (const l of tables) mins += l.min;
  if (mins > cap) {
    throw new FledgeError(`table limit: the module's tables start with ${mins.toLocaleString("en-US")} elements in all, more than the limit of ${cap.toLocaleString("en-US")}`, {
      code: "table_limit",
      exitCode: EXIT.memoryLimit,
      hint: "fledge bounds the total size of all tables; reduce the tables' initial sizes",
    });
  }
  let room = cap - mins;
  const order = tables.map((_, i) => i).sort((a, b) => need(tables[a]!, cap) - need(tables[b]!, cap));
  let left = order.length;
  for (const i of order) {
    const l = tables[i]!;
    const share = Math.floor(room / left--);
    const grow = Math.min(need(l, cap), share);
    l.max = l.min + grow;
    l.flags |= 1;
    room -= grow;
  }
}

function need(l: Limits, cap: number): number {
  return Math.max(0, (l.max === null ? cap : Math.min(l.max, cap)) - l.min);
}

/**
 * Exception objects live in the host heap, outside the guest's memory limit, so the
 * number of live ones must be bounded by something fledge controls. The rules:
 * an exnref may be held only on the engine stack (operands, locals, parameters and
 * results), never where it can accumulate: not in a tag's payload (an exception
 * holding exceptions built a 1.9 GB tree under --max-memory 1MiB), a global, a table
 * or an element segment; and a tag's payload is at most `tagPayloadBytes`. Then live
 * exceptions ≤ exnref slots the engine stack can hold, each a fixed-size object
 * (see README, "Exceptions and memory").
 */
export const EXCEPTION_RULES = {
  /** Bytes of one tag's payload (i32/f32 4, i64/f64 8, v128 16, a reference 8): C++ and setjmp/longjmp tags carry one or two i32. */
  tagPayloadBytes: 64,
} as const;

const EXNREF_TYPE = 0x69;

/** The one refusal for a module breaking an exception memory rule; names the rule. */
export function exceptionRuleError(rule: string, where: string): FledgeError {
  return new FledgeError(`module breaks fledge's exception memory rule: ${rule} (${where})`, {
    code: "wasm_cap",
    hint: "exception objects live outside the guest's memory limit, so fledge bounds them: keep exnref values in locals and on the stack, and give tags small payloads",
  });
}

/** Payload size of one value type in bytes (references count as one pointer). */
function payloadBytes(t: number): number {
  if (t === 0x7f || t === 0x7d) return 4;
  if (t === 0x7b) return 16;
  return 8;
}

/** Enforces EXCEPTION_RULES on a parsed module (tables and element segments refuse exnref in parse.ts). */
export function checkExceptionRules(m: Module): void {
  const tags = [...m.imports.flatMap((i) => (i.desc.kind === "tag" ? [i.desc.tag] : [])), ...m.tags];
  tags.forEach((tag, i) => {
    const type = m.types[tag.type];
    if (!type) return; // an out-of-range type index is the engine's validation error
    if (type.params.includes(EXNREF_TYPE)) throw exceptionRuleError("a tag's payload may not carry exnref", `tag ${i}`);
    const bytes = type.params.reduce((n, t) => n + payloadBytes(t), 0);
    if (bytes > EXCEPTION_RULES.tagPayloadBytes) throw exceptionRuleError(`a tag's payload is capped at ${EXCEPTION_RULES.tagPayloadBytes} bytes`, `tag ${i} carries ${bytes} bytes`);
  });
  let g = 0;
  for (const imp of m.imports) {
    if (imp.desc.kind !== "global") continue;
    if (imp.desc.global.valType === EXNREF_TYPE) throw exceptionRuleError("exnref may not be stored in a global", `global ${g}`);
    g++;
  }
  for (const glob of m.globals) {
    if (glob.type.valType === EXNREF_TYPE) throw exceptionRuleError("exnref may not be stored in a global", `global ${g}`);
    g++;
  }
}
