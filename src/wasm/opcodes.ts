/**
 * Opcode tables: for every accepted opcode, the shape of its immediates. The
 * instrumenter, the decoder and the encoder all read these tables, so an opcode is
 * either fully understood everywhere or refused everywhere.
 */

/** Immediate shapes. Numbers (not strings) so the hot loops switch on small ints. */
export const Imm = {
  none: 0,
  block: 1, // s33 block type
  label: 2, // u32
  brTable: 3, // vec(u32) u32
  func: 4, // u32 function index (remapped by the instrumenter)
  callIndirect: 5, // u32 type, u32 table
  local: 6,
  global: 7,
  table: 8, // u32 table index
  memarg: 9, // u32 align, u32 offset
  mem: 10, // u32 memory index (must be 0)
  i32: 11,
  i64: 12,
  f32: 13,
  f64: 14,
  selectT: 15, // vec(valtype)
  refNull: 16, // heap type
  prefixFC: 17,
  prefixFD: 18,
  tryTable: 19, // block type, vec(catch clause) (exception handling)
  tag: 20, // u32 tag index (throw, catch)
  refused: 254,
  unknown: 255,
} as const;

// instrument.ts switches on these values as literals (for speed); keep them in step.
if (Imm.none !== 0 || Imm.block !== 1 || Imm.label !== 2 || Imm.brTable !== 3 || Imm.func !== 4 || Imm.callIndirect !== 5 || Imm.local !== 6 || Imm.global !== 7 || Imm.table !== 8 || Imm.memarg !== 9 || Imm.mem !== 10 || Imm.i32 !== 11 || Imm.i64 !== 12 || Imm.f32 !== 13 || Imm.f64 !== 14 || Imm.prefixFC !== 17) {
  throw new Error("opcodes.ts: Imm values changed; update the literal cases in instrument.ts");
}

/** Immediate shapes of 0xFC sub-opcodes. */
export const ImmFC = {
  none: 0,
  memInit: 1, // u32 data, mem
  dataDrop: 2, // u32
  memCopy: 3, // mem mem
  memFill: 4, // mem
  tableInit: 5, // u32 elem, u32 table
  elemDrop: 6, // u32
  tableCopy: 7, // u32 u32
  table: 8, // u32 (grow, size, fill)
} as const;

/** Immediate shapes of 0xFD (SIMD) sub-opcodes. */
export const ImmFD = {
  none: 0,
  memarg: 1,
  v128: 2, // 16 bytes
  shuffle: 3, // 16 lane bytes
  lane: 4, // 1 byte
  memargLane: 5, // memarg then 1 byte
} as const;

export const OP = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  returnCall: 0x12,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  memoryGrow: 0x40,
  i32Const: 0x41,
  i64Const: 0x42,
  i64LtS: 0x53,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  i64ExtendI32U: 0xad,
  refFunc: 0xd2,
} as const;

/** Main-space immediate shapes, indexed by opcode byte. */
export const MAIN_IMM = new Uint8Array(256).fill(Imm.unknown);
/** Why a refused opcode is refused (feature phrase for the error message). */
export const REFUSED_OPS = new Map<number, string>();

function set(from: number, to: number, imm: number): void {
  for (let i = from; i <= to; i++) MAIN_IMM[i] = imm;
}

set(0x00, 0x01, Imm.none);
set(0x02, 0x04, Imm.block);
set(0x05, 0x05, Imm.none);
set(0x0b, 0x0b, Imm.none);
set(0x0c, 0x0d, Imm.label);
set(0x0e, 0x0e, Imm.brTable);
set(0x0f, 0x0f, Imm.none);
set(0x10, 0x10, Imm.func);
set(0x11, 0x11, Imm.callIndirect);
set(0x12, 0x12, Imm.func); // return_call
set(0x13, 0x13, Imm.callIndirect); // return_call_indirect
set(0x1a, 0x1b, Imm.none);
set(0x1c, 0x1c, Imm.selectT);
set(0x20, 0x22, Imm.local);
set(0x23, 0x24, Imm.global);
set(0x25, 0x26, Imm.table);
set(0x28, 0x3e, Imm.memarg);
set(0x3f, 0x40, Imm.mem);
set(0x41, 0x41, Imm.i32);
set(0x42, 0x42, Imm.i64);
set(0x43, 0x43, Imm.f32);
set(0x44, 0x44, Imm.f64);
set(0x45, 0xc4, Imm.none); // numeric ops incl. sign-extension (0xC0-0xC4)
set(0xd0, 0xd0, Imm.refNull);
set(0xd1, 0xd1, Imm.none);
set(0xd2, 0xd2, Imm.func); // ref.func
set(0xfc, 0xfc, Imm.prefixFC);
set(0xfd, 0xfd, Imm.prefixFD);

// Exception handling: fully decoded (so the decoder never misreads a body that uses
// it) but gated by featureEnabled("exceptions") below.
set(0x06, 0x06, Imm.block); // try bt (legacy)
set(0x07, 0x07, Imm.tag); // catch tag (legacy)
set(0x08, 0x08, Imm.tag); // throw tag
set(0x09, 0x09, Imm.label); // rethrow depth (legacy)
set(0x0a, 0x0a, Imm.none); // throw_ref
set(0x18, 0x18, Imm.label); // delegate depth (legacy)
set(0x19, 0x19, Imm.none); // catch_all (legacy)
set(0x1f, 0x1f, Imm.tryTable); // try_table bt vec(catch)

export const EH = "the exception-handling proposal";
const FUNCREF = "the function-references proposal";
const GC = "the GC proposal";
for (const op of [0x14, 0x15, 0xd4, 0xd5, 0xd6]) REFUSED_OPS.set(op, FUNCREF);
REFUSED_OPS.set(0xd3, GC); // ref.eq
REFUSED_OPS.set(0xfb, GC);
REFUSED_OPS.set(0xfe, "the threads proposal (atomics)");
for (const op of REFUSED_OPS.keys()) MAIN_IMM[op] = Imm.refused;

/** Main-space opcodes that belong to a gated feature (see featureEnabled). */
export const EH_OPS: ReadonlySet<number> = new Set([0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f]);

/**
 * Gated features: encodings the decoder fully knows, accepted only when enabled.
 * Exception handling is on: the meter ends a run with a trap (refuel returns STOP),
 * which no wasm handler catches, and a run-ending host exception halts the guest's
 * counter so every handler traps on entry (blocks.ts, meter.ts;
 * tests/wasm/eh-stop.test.ts).
 */
export const FEATURES = { exceptions: true };

export function featureEnabled(name: keyof typeof FEATURES): boolean {
  return FEATURES[name];
}

/** try_table catch clause kinds: catch tag l, catch_ref tag l, catch_all l, catch_all_ref l. */
export const CATCH_KINDS = 4;

/** 0xFC sub-opcode immediate shapes; index beyond the table = unknown. */
export const FC_IMM: readonly number[] = [
  ImmFC.none, ImmFC.none, ImmFC.none, ImmFC.none, // 0-3 i32.trunc_sat_*
  ImmFC.none, ImmFC.none, ImmFC.none, ImmFC.none, // 4-7 i64.trunc_sat_*
  ImmFC.memInit, // 8 memory.init
  ImmFC.dataDrop, // 9 data.drop
  ImmFC.memCopy, // 10 memory.copy
  ImmFC.memFill, // 11 memory.fill
  ImmFC.tableInit, // 12 table.init
  ImmFC.elemDrop, // 13 elem.drop
  ImmFC.tableCopy, // 14 table.copy
  ImmFC.table, // 15 table.grow
  ImmFC.table, // 16 table.size
  ImmFC.table, // 17 table.fill
];

/** Highest accepted SIMD sub-opcode (0x100-0x113 are relaxed SIMD; the engine decides). */
export const FD_MAX = 0x113;

/** SIMD sub-opcodes below FD_MAX that the SIMD proposal leaves unassigned. */
const FD_GAPS: ReadonlySet<number> = new Set([
  0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee,
]);

/** Is this a SIMD (0xFD) sub-opcode in the table? */
export function isKnownFD(sub: number): boolean {
  return sub <= FD_MAX && !FD_GAPS.has(sub);
}

export function fdImm(sub: number): number {
  if (sub <= 0x0b) return ImmFD.memarg;
  if (sub === 0x0c) return ImmFD.v128;
  if (sub === 0x0d) return ImmFD.shuffle;
  if (sub >= 0x15 && sub <= 0x22) return ImmFD.lane;
  if (sub >= 0x54 && sub <= 0x5b) return ImmFD.memargLane;
  if (sub === 0x5c || sub === 0x5d) return ImmFD.memarg;
  return ImmFD.none;
}

/** exnref (exception handling): a value type only when the feature is enabled. */
export const EXNREF = 0x69;

/**
 * Value type bytes fledge accepts (MVP numerics, v128, funcref, externref; exnref with
 * exception handling). These are the only one-byte forms; every other byte (notably
 * 0x63/0x64 `(ref null? ht)`, which carry a heap-type immediate) is refused.
 */
export function isAcceptedValType(t: number): boolean {
  return t === 0x7f || t === 0x7e || t === 0x7d || t === 0x7c || t === 0x7b || t === 0x70 || t === 0x6f || (t === EXNREF && FEATURES.exceptions);
}

/** Heap types accepted after ref.null: func, extern (exn with exception handling). */
export function isAcceptedHeapType(t: number): boolean {
  return t === 0x70 || t === 0x6f || (t === EXNREF && FEATURES.exceptions);
}

/** Names the proposal a value/heap type byte belongs to, for the refusal message. */
export function valTypeFeature(t: number): string {
  if (t === 0x69 || t === 0x74) return EH; // exnref / noexn
  if (t === 0x64 || t === 0x63) return FUNCREF; // (ref ht) / (ref null ht)
  return GC;
}
