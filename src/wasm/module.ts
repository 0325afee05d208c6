/**
 * The in-memory module. Everything outside code bodies is parsed eagerly (it is
 * small); code bodies and constant expressions stay as byte views into the input,
 * so parse and encode cost little more than a copy and the instrumenter can work on
 * byte ranges.
 */

/** Section ids in the binary format. */
export const SEC = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/** The order known sections must appear in (data count sits before code). */
/** The tag section (13, exception handling) sits between memory and global. */
export const SECTION_ORDER: readonly number[] = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11];

/** Value types are kept as their type byte: 0x7F i32, 0x7E i64, 0x7D f32, 0x7C f64, 0x7B v128, 0x70 funcref, 0x6F externref. */
export type ValType = number;

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface Limits {
  /** Raw flags byte (0 = no max, 1 = has max); kept for exact round trips. */
  flags: number;
  min: number;
  max: number | null;
}

export interface TableType {
  refType: ValType;
  limits: Limits;
}

export interface GlobalType {
  valType: ValType;
  mutable: boolean;
}

export type ImportDesc =
  | { kind: "func"; type: number }
  | { kind: "table"; table: TableType }
  | { kind: "memory"; limits: Limits }
  | { kind: "global"; global: GlobalType }
  | { kind: "tag"; tag: TagType };

/** An exception tag: attribute 0 (exception) and the index of its function type. */
export interface TagType {
  attribute: number;
  type: number;
}

export interface Import {
  module: string;
  name: string;
  desc: ImportDesc;
}

/** A constant expression, as its bytes including the final `end`. */
export type ConstExpr = Uint8Array;

export interface Global {
  type: GlobalType;
  init: ConstExpr;
}

export const EXTERNAL = { func: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;

export interface Export {
  name: string;
  kind: number;
  index: number;
}

export interface ElementSegment {
  /** 0-7; decides mode and whether items are function indices or expressions. */
  flags: number;
  mode: "active" | "passive" | "declarative";
  table: number;
  offset: ConstExpr | null;
  /** elemkind byte (0x00 = funcref) for flags 1-3, reftype for 5-7, implicit funcref otherwise. */
  elemType: number;
  funcs: number[] | null;
  exprs: ConstExpr[] | null;
}

export interface DataSegment {
  /** 0 active mem 0, 1 passive, 2 active with explicit memory index. */
  flags: number;
  memory: number;
  offset: ConstExpr | null;
  data: Uint8Array;
}

export interface FunctionBody {
  /** Local declarations as written: runs of (count, type). */
  locals: Array<[count: number, type: ValType]>;
  /** The instructions, including the final `end`. A view into the input. */
  code: Uint8Array;
}

export interface CustomSection {
  name: string;
  /** Payload after the name. */
  data: Uint8Array;
}

export interface Module {
  types: FuncType[];
  imports: Import[];
  /** Type index of each defined function. */
  functions: number[];
  tables: TableType[];
  memories: Limits[];
  /** Exception tags (exception-handling proposal), in the tag section. */
  tags: TagType[];
  globals: Global[];
  exports: Export[];
  start: number | null;
  elements: ElementSegment[];
  dataCount: number | null;
  codes: FunctionBody[];
  datas: DataSegment[];
  customs: CustomSection[];
  /**
   * Section ids in input order (0 = the next custom section), so custom sections
   * and empty-but-present sections come back where they were. Sections that gain
   * content later are slotted into their canonical place by the encoder.
   */
  order: number[];
}

export function emptyModule(): Module {
  return {
    types: [],
    imports: [],
    functions: [],
    tables: [],
    memories: [],
    tags: [],
    globals: [],
    exports: [],
    start: null,
    elements: [],
    dataCount: null,
    codes: [],
    datas: [],
    customs: [],
    order: [],
  };
}

export function importedCount(m: Module, kind: ImportDesc["kind"]): number {
  let n = 0;
  for (const imp of m.imports) if (imp.desc.kind === kind) n++;
  return n;
}
