/**
 * Per-basic-block fuel metering: the function-body rewrite (design in instrument.ts).
 *
 * Each basic block (a straight run of instructions entered only at its top) is charged
 * its own instruction count when it is entered, so the fuel charged equals the wasm
 * instructions executed, as wasmtime's fuel counts. The counter lives in a local of
 * each function (the engine keeps it in a register). A direct call to a passing
 * function (passing.ts) hands the local over as the last argument and takes it back
 * as the last result; otherwise the module's fuel global is read at function entry,
 * after calls and at exception landings, and written before calls, throws, function
 * exits and normal arrivals at try_table catch targets. A passing function writes the
 * global too before throws and before calls that are not to a passing function, so
 * the global is current wherever an exception may land or the host may look.
 *
 * INVARIANT (soundness): between two checks (`fuel < 0` → refuel or stop) the guest
 * executes at most one pass over the blocks of ONE function body. Checks run
 *   - at EVERY function entry (exports, the start function, table and indirect
 *     targets: the host never checks for the guest, so no function may skip it),
 *   - after EVERY call returns (the callee's tail has run; the caller's tail must
 *     not add to it unchecked, however deep the returning stack), but see below,
 *   - at every loop header, at every exception landing, and after every
 *     size-dependent charge (bulk memory/table ops, memory.grow, table.grow).
 * Any path between two checks is therefore a forward walk inside one body with no
 * call, loop back edge or landing, so the overdraft is bounded by that body's size,
 * and the meter sees it exactly on the next check. The exceptions are decided in
 * checks.ts: a call of a BOUNDED function (no loop, calls only bounded functions, its
 * whole call tree under a fixed cap) may run without the callee's entry check and the
 * caller's after-call check, adding at most that cap per body to the walk; and an
 * after-call check goes when its block runs straight into a call of a function whose
 * entry check stays (that check comes first in the callee).
 * Exception landings take the global as the truth: every path into a landing writes
 * it first (throw sites and callees store before throwing or calling, and normal
 * branches / fall-through into a catch target store too), so a stale, larger local
 * can never refund fuel, and a callee's refuel is not charged twice.
 *
 * Straight-line code is copied as byte ranges; only block structure, branch depths,
 * calls, function indices and size-dependent operations are decoded.
 */
import { FledgeError } from "../core/index.ts";
import { skipInstr } from "./code.ts";
import { EH_OP, IS_EH_OP, ehInstrEnd, handlerScan, readCatchClauses, throwUnits, type HandlerScan } from "./eh.ts";
import { lebEnd, readS33, readU32 } from "./leb128.ts";
import { MODULE_CAPS } from "./caps.ts";
import { MAX_PAGES } from "./limits.ts";
import { MAIN_IMM, OP } from "./opcodes.ts";
import { Writer } from "./writer.ts";

/** Bulk memory operations cost one unit per this many bytes (2^4 = 16). */
export const BYTES_PER_UNIT_SHIFT = 4;

export interface MeterContext {
  /** Block type (s33) for a loop's `$refuel` block: the loop's params → the same params. */
  refuelBlockType: (loopBlockType: number) => number;
  nImportedFuncs: number;
  refuelIndex: number;
  /** The module's shared slow path `(fuel: i64) -> i64`: stores, refuels, traps on a stop (see slowPathBody). */
  slowIndex: number;
  fuelGlobal: number;
  /** i32 global that records the page delta of a memory.grow that returned -1; -1 = none. */
  growGlobal: number;
  loops: number;
  dynamic: number;
  /** Extra units charged at the entry of the function being rewritten (see {@link localsEntryCost}). */
  entryCost?: number;
  /**
   * Per function index (original numbering, imports included): the index to call
   * instead when the function has a version that takes the fuel counter as its last
   * parameter and returns it as its last result (instrument.ts decides which), else
   * -1. A direct call to one passes the local and takes the result back: no global
   * traffic, and the engine keeps the counter in a register.
   */
  passTo?: Int32Array;
  /** Set per body: the function being rewritten passes the counter (see {@link PassingBody}). */
  self?: PassingBody | null;
}

/**
 * A body whose function passes the counter: the counter is parameter `nParams`, so the
 * declared locals move up by one; the body is wrapped in `block <wrapType>` (the
 * original results), whose end pushes the counter as the last result, so a branch to
 * the function's label lands there with no rewrite of its depth.
 */
export interface PassingBody {
  nParams: number;
  /** The block type bytes for the wrapping block: 0x40, one value type, or a type index. */
  wrapType: Uint8Array;
}

/**
 * The fewest bytes metering adds to a module for each of its loops once finished:
 * the prologue's three frame openers (2 bytes each at least, emitLoopPrologue) and
 * the epilogue's refuel path (emitLoopEpilogue: br, end, local.get, call, the
 * refund's i64.const of at least 2 bytes, i64.add, local.set, br, end, end: 16 bytes
 * at least). The finishing pass never removes any of them; the loop header's charge
 * and check come on top. The instrumenter refuses a module whose loops alone pass
 * the size cap before it validates or rewrites anything.
 */
export const MIN_BYTES_PER_LOOP = 22;

/** Declared locals a function entry zeroes for free; beyond them each 8 bytes cost a unit. */
export const FREE_LOCALS = 32;

/**
 * What entering a function costs beyond its instructions: the engine zeroes every
 * declared local on each entry, so an empty function with 49,997 v128 locals costs
 * ~0.5 ms per call while its body is one instruction. Without this charge a guest made
 * one fuel unit cost that much, and a 1M-unit slice outlived the deadline by minutes.
 * One unit per 8 bytes of locals beyond the first {@link FREE_LOCALS} locals keeps a
 * unit near the cost of an instruction and leaves ordinary functions uncharged.
 */
export function localsEntryCost(locals: readonly (readonly [number, number])[]): number {
  let count = 0;
  let words = 0;
  for (const [n, type] of locals) {
    count += n;
    words += type === 0x7b /* v128 */ ? 2 * n : n;
  }
  if (count <= FREE_LOCALS) return 0;
  return Math.ceil((words * (count - FREE_LOCALS)) / count);
}

/**
 * Instructions that cost nothing, as in wasmtime's fuel: pure structure (block, loop,
 * if's else, end, nop, and the exception-handling markers try, catch, catch_all,
 * delegate, try_table). The counting build (count.ts) uses the same rule. The engine's
 * search of a body's handlers is charged at function entry and at landings (eh.ts).
 */
export const FREE_OP = new Uint8Array(256);
for (const op of [0x01, 0x02, 0x03, 0x05, 0x0b, 0x06, 0x07, 0x18, 0x19, 0x1f]) FREE_OP[op] = 1;

/**
 * Instructions the rewrite copies as they are, by how their length is found: a byte
 * count (the opcode and fixed immediates), S_LEB (one LEB immediate) or S_MEMARG
 * (two); 0 = handled one by one. STRAIGHT_UNIT is each one's fuel (FREE_OP's rule).
 */
const S_LEB = 100;
const S_MEMARG = 101;
const STRAIGHT = new Uint8Array(256);
const STRAIGHT_UNIT = new Uint8Array(256);
for (let op = 0; op < 256; op++) {
  if (IS_EH_OP[op]) continue;
  const imm = MAIN_IMM[op];
  if (imm === 0 /* none */) STRAIGHT[op] = op === OP.end || op === OP.else || op === 0x0f || op === OP.unreachable ? 0 : 1;
  else if (imm === 6 || imm === 7 || imm === 8 || imm === 11 || imm === 12) STRAIGHT[op] = S_LEB; // local, global, table, i32, i64
  else if (imm === 13) STRAIGHT[op] = 5; // f32
  else if (imm === 14) STRAIGHT[op] = 9; // f64
  else if (imm === 9) STRAIGHT[op] = S_MEMARG;
  STRAIGHT_UNIT[op] = 1 - FREE_OP[op]!;
}
/** The same for a body whose locals are renumbered (a passing function): local.get/set/tee stop the run. */
const STRAIGHT_PASSING = STRAIGHT.slice();
for (const op of [0x20, 0x21, 0x22]) STRAIGHT_PASSING[op] = 0;

/**
 * Scratch state of the body being rewritten (bodies are rewritten one at a time):
 * typed buffers instead of arrays grown by push, which the engine runs slowly until
 * it has optimized the rewrite.
 */
const KIND = new Uint8Array(MODULE_CAPS.nestingDepth + 1);
const TARGETED = new Uint8Array(MODULE_CAPS.nestingDepth + 1);
const FRAMES = new Int32Array(MODULE_CAPS.nestingDepth + 1);
const ORDS = new Int32Array(MODULE_CAPS.nestingDepth + 1);
/** Per open loop frame: its header charge's placeholder position (the refuel path refunds that charge). */
const HEADERS = new Int32Array(MODULE_CAPS.nestingDepth + 1);
let COSTS = new Int32Array(1024); // positions stay below 2^31 (checked per body), costs below 2^31 (eh.ts THROW_UNITS)
let PATCHES = new Float64Array(96); // u32 values
let REFUNDS = new Int32Array(64); // (refund placeholder, header placeholder) pairs, in output order
let MERGED = new Int32Array(1024); // a body's charges with its refunds merged in (withRefunds)

function grown<T extends Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(a: T, need: number): T {
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  next.set(a);
  return next;
}

/** Fuel units of the run the last straightRun call passed over. */
let straightUnits = 0;

/**
 * End of the run of STRAIGHT instructions from p (sets straightUnits). A small
 * function of its own with nothing captured, so the engine optimizes it early: most
 * of a body's bytes pass through here.
 */
function straightRun(code: Uint8Array, p: number, n: number, table: Uint8Array): number {
  let units = 0;
  while (p < n) {
    const op = code[p]!;
    const skip = table[op]!;
    if (skip === 0) break;
    if (skip === S_LEB) {
      p++;
      while (code[p]! & 0x80) p++;
      p++;
    } else if (skip === S_MEMARG) {
      if (code[p + 1]! & 0x40) break; // the slow path refuses it with the proper message
      p++;
      while (code[p]! & 0x80) p++;
      p++;
      while (code[p]! & 0x80) p++;
      p++;
    } else p += skip;
    units += STRAIGHT_UNIT[op]!;
  }
  straightUnits = units;
  return p;
}

/**
 * A check the finishing pass (checks.ts) may remove: the `local.tee` at `teeAt`
 * becomes `local.set` and the bytes [start, end) (`i64.const 0; i64.lt_s; if … end`)
 * go.
 */
export interface OptionalCheck {
  teeAt: number;
  start: number;
  end: number;
}

/** A check after a call: removable when the rest of the body is short (see checks.ts). */
export interface AfterCallCheck extends OptionalCheck {
  /** The callee's original function index, or -1 for call_indirect. */
  callee: number;
  /** Units the body's code before the call costs (in code order), to size the tail. */
  spentBefore: number;
  /** How many direct calls precede this one in code order (callees[k] is this call). */
  ordinal: number;
  /**
   * The original index of the function the next `call` names when that call is in the
   * same basic block as this check (only straight code between them), else -1.
   */
  nextCall: number;
}

/** What the finishing pass needs to know about one rewritten body. */
export interface BodyEdits {
  start: number;
  /**
   * Charges to patch (placeholder, cost, deleteStart, deleteEnd) quads: a view of
   * scratch memory that the next meterBody call reuses, so they are settled first
   * (checks.ts settleCharges): a module's charge records never pile up.
   */
  costs: ArrayLike<number>;
  usedScratch: boolean;
  /** No loop, call, size-dependent charge or exception handling: one pass costs at most its size. */
  leaf: boolean;
  /**
   * A leaf but for direct `call`s (no return_call, no call_indirect): one pass costs at
   * most its size plus what its calls cost (checks.ts bounds that over the call graph).
   */
  leafButCalls: boolean;
  entry: OptionalCheck;
  afterCalls: AfterCallCheck[];
  /** Every call in code order: original function index, -1 for an indirect call. */
  callees: number[];
  /** Units of all instructions of the body (code order), with the entry's locals charge. */
  spent: number;
  /** Functions whose reference the body takes (ref.func). */
  refs: number[];
}

/** Thrown inside meterBody when a try_table catch targets a frame not yet known: redo the body. */
class NeedsCatchTarget extends Error {
  constructor(readonly ordinal: number) {
    super("catch target");
  }
}

const F_LOOP = 1;
const F_IF = 2;
const F_TRY = 3;
const F_BLOCK = 0;

/** Frames inserted around each loop (see emitLoopPrologue). */
const LOOP_FRAMES = 3;

/**
 * Rewrites one body into `w`. `nLocals` counts params and declared locals: the rewrite
 * uses local nLocals (i64, the fuel counter) and, when it returns true, nLocals+1 and
 * nLocals+2 (i32 scratch) which the caller must declare.
 */
export function meterBody(code: Uint8Array, nLocals: number, w: Writer, ctx: MeterContext, scan: HandlerScan = handlerScan(code)): BodyEdits {
  const start = w.pos;
  const loops = ctx.loops;
  const dynamic = ctx.dynamic;
  // Frames (by opening order) that a try_table catch targets, found in one pass first;
  // one the pass missed would still restart the rewrite (the rewrite never relies on the
  // pass). Learning them during the rewrite instead cost one restart per newly targeted
  // frame: a body of thousands of try_tables was rewritten thousands of times.
  const catchTargets = new Set(scan.targets);
  for (;;) {
    try {
      return rewrite(code, nLocals, w, ctx, catchTargets, scan.handlers);
    } catch (e) {
      if (!(e instanceof NeedsCatchTarget)) throw e;
      catchTargets.add(e.ordinal);
      w.pos = start;
      ctx.loops = loops;
      ctx.dynamic = dynamic;
    }
  }
}

function rewrite(code: Uint8Array, nLocals: number, w: Writer, ctx: MeterContext, catchTargets: Set<number>, handlers: number): BodyEdits {
  const n = code.length;
  const bodyStart = w.pos;
  const g = ctx.fuelGlobal;
  const pass = ctx.self ?? null;
  const passTo = ctx.passTo;
  const f = pass ? pass.nParams : nLocals;
  const s = nLocals + 1;
  const r = nLocals + 2;
  let usedScratch = false;
  let nCosts = 0;
  let nRefunds = 0;
  let leaf = true;
  let leafButCalls = true;
  let spent = 0;
  const callees: number[] = [];
  const afterCalls: AfterCallCheck[] = [];
  const refs: number[] = [];
  // Control stack, one entry per original frame (module-level buffers: one body at a time).
  const kind = KIND;
  const frames = FRAMES; // inserted frames around this entry and all outside it
  const targeted = TARGETED; // 1 = a branch targets this frame, 2 = a try_table catch does
  const ords = ORDS; // each frame's opening order, the key of catchTargets
  let depth = 0;
  /** Opens a frame. */
  const open = (k: number, fr: number, ord: number, t: number): void => {
    kind[depth] = k;
    frames[depth] = fr;
    ords[depth] = ord;
    targeted[depth] = t;
    depth++;
  };
  let nextOrd = 0;
  /** True when entering the frame `label` levels out lands where an exception may also land. */
  const isCatchTarget = (label: number): boolean => {
    const t = depth - 1 - label;
    return t >= 0 && catchTargets.has(ords[t]!);
  };
  // The current basic block: its charge's placeholder position (-1: none, dead code) and cost.
  let patch = -1;
  let cost = 0;
  // Counts closed basic blocks; afterSerial is its value when the last after-call block opened.
  let blockSerial = 0;
  let afterSerial = -1;
  let from = 0;
  let p = 0;
  const nImp = ctx.nImportedFuncs;

  // LEBs rewritten in place when the pending range is copied: (position, value, length) triples.
  let nPatches = 0;
  const flush = (end: number): void => {
    const base = w.pos - from;
    w.range(code, from, end);
    from = end;
    if (nPatches === 0) return;
    const buf = w.buf;
    for (let i = 0; i < nPatches; i += 3) writeFixedU32(buf, base + PATCHES[i]!, PATCHES[i + 1]!, PATCHES[i + 2]!);
    nPatches = 0;
  };
  /** Rewrites the LEB at [at, end) to `value`: in place when it fits the same length. */
  const relebel = (at: number, end: number, value: number): void => {
    const len = end - at;
    if (value < 128 ** len) {
      if (nPatches + 3 > PATCHES.length) PATCHES = grown(PATCHES, nPatches + 3);
      PATCHES[nPatches] = at;
      PATCHES[nPatches + 1] = value;
      PATCHES[nPatches + 2] = len;
      nPatches += 3;
    } else {
      flush(at);
      w.u32(value);
      from = end;
    }
  };
  /** New depth of a branch label, and marks its target frame. */
  const relabel = (label: number, mark: number): number => {
    const top = depth - 1;
    const target = top - label;
    const inner = top >= 0 ? frames[top]! : 0;
    const outer = target >= 0 ? frames[target]! : 0;
    if (target >= 0) {
      targeted[target] = Math.max(targeted[target]!, mark);
      if (mark === 2 && !catchTargets.has(ords[target]!)) throw new NeedsCatchTarget(ords[target]!);
    }
    return label + inner - outer;
  };
  const isFunctionLabel = (label: number): boolean => label >= depth;
  // Where the current block's charge can be deleted when its cost is 0: [start, end), or -1.
  let delStart = -1;
  let delEnd = -1;
  const closeBlock = (): void => {
    blockSerial++;
    if (patch >= 0) {
      if (nCosts + 4 > COSTS.length) COSTS = grown(COSTS, nCosts + 4);
      COSTS[nCosts] = patch;
      COSTS[nCosts + 1] = cost;
      COSTS[nCosts + 2] = delStart;
      COSTS[nCosts + 3] = delEnd;
      nCosts += 4;
    }
    patch = -1;
    cost = 0;
    delStart = -1;
  };
  /** Starts a new basic block at the current output position with a plain charge. */
  const startBlock = (): void => {
    closeBlock();
    synced = false;
    delStart = w.pos;
    w.byte(OP.localGet);
    w.u32(f);
    patch = placeholder(w);
    w.byte(OP.i64Sub);
    w.byte(OP.localSet);
    w.u32(f);
    delEnd = w.pos;
  };
  /**
   * Starts a block charged from `load` (the local, or the global after a reload) whose
   * entry also checks the counter: function entry, landings, after a call.
   */
  const startCheckedFrom = (loadOp: number, index: number): OptionalCheck => {
    closeBlock();
    synced = false;
    // loadOp -1: the counter is already on the stack (a passing callee's last result).
    if (loadOp >= 0) {
      w.byte(loadOp);
      w.u32(index);
    }
    patch = placeholder(w);
    w.byte(OP.i64Sub);
    const teeAt = w.pos;
    w.byte(OP.localTee);
    w.u32(f);
    const start = w.pos;
    emitCheckTail(w, ctx, f);
    return { teeAt, start, end: w.pos };
  };
  /** Starts a block whose entry also checks the counter (landings, after a reload). */
  const startCheckedBlock = (): void => void startCheckedFrom(OP.localGet, f);
  /**
   * After a call returns: reload the counter (the callee charged the global), charge
   * the code after the call as a block of its own and check. Its own block: when an
   * exception unwinds through this frame, that code never runs and is never charged.
   * The check: the callee's tail ran since its last check, and this body's tail must
   * not add to it unchecked (the invariant at the top).
   */
  const startAfterCall = (callee: number, spentBefore: number, fromStack = false): void => {
    const check = fromStack ? startCheckedFrom(-1, 0) : startCheckedFrom(OP.globalGet, g);
    afterCalls.push({ teeAt: check.teeAt, start: check.start, end: check.end, callee, spentBefore, ordinal: callees.length - 1, nextCall: -1 });
    afterSerial = blockSerial;
  };
  // True while the local and the global hold the same value (after a store or reload,
  // with no charge since): a store then is redundant.
  let synced = false;
  const store = (): void => {
    if (synced) return;
    synced = true;
    w.byte(OP.localGet);
    w.u32(f);
    w.byte(OP.globalSet);
    w.u32(g);
  };
  const reload = (): void => {
    synced = true;
    w.byte(OP.globalGet);
    w.u32(g);
    w.byte(OP.localSet);
    w.u32(f);
  };
  /**
   * A try_table catch target: reached by an exception (the thrower or a callee wrote
   * the global) or normally (every normal path stored first, see storeForBranch), so
   * the global is the truth either way. Taking it (not min(local, global)) charges a
   * callee's refuelled slice once; the stores make a stale larger local impossible.
   */
  const landing = (): void => {
    reload();
    startCheckedBlock();
    chargeHandlerSearch();
  };
  /** A landing: the engine searched this body's whole handler table to get here (see handlerScan in eh.ts). */
  const chargeHandlerSearch = (): void => {
    cost += handlers;
    spent += handlers;
  };
  /** Before a branch (or fall-through) into a catch target: make the global the truth. */
  const storeForBranch = (label: number): void => {
    if (isCatchTarget(label) && patch >= 0) store();
  };

  // Function entry: load the counter, charge the first block, check. Every function,
  // leaf or not: its caller may be the host, which never checks (see the invariant).
  // A passing function takes it from its parameter, inside the block that wraps its body.
  if (pass) {
    w.byte(OP.block);
    w.bytes(pass.wrapType);
  }
  const entry = pass ? startCheckedFrom(OP.localGet, f) : startCheckedFrom(OP.globalGet, g);
  const straight = pass ? STRAIGHT_PASSING : STRAIGHT;
  // An exception that unwinds out of this call searches its handler table once (eh.ts).
  cost = (ctx.entryCost ?? 0) + handlers;
  spent = cost;

  while (p < n) {
    // A straight run of instructions the rewrite copies unchanged.
    p = straightRun(code, p, n, straight);
    const units = straightUnits;
    cost += units;
    spent += units;
    if (p >= n) break;
    const op = code[p]!;
    const unit = 1 - FREE_OP[op]!;
    cost += unit;
    spent += unit;
    if (IS_EH_OP[op]) {
      leaf = false;
      leafButCalls = false;
      const t = throwUnits(op);
      cost += t;
      spent += t;
      p = rewriteEH(op);
      continue;
    }
    switch (MAIN_IMM[op]) {
      case 0 /* Imm.none */:
        if (op === OP.end) {
          flush(p);
          from = p + 1;
          // Falling into a catch target: store, so the landing's reload is the truth.
          if (depth > 0 && kind[depth - 1] !== F_LOOP) storeForBranch(0);
          const k = depth > 0 ? kind[--depth] : undefined;
          const t = k === undefined ? 0 : targeted[depth]!;
          if (k === undefined) {
            if (p !== n - 1) throw new FledgeError("invalid wasm module: code after the final end", { code: "wasm_invalid" });
            if (pass) {
              // The wrapping block ends; the counter goes back as the last result.
              closeBlock();
              w.byte(OP.end);
              w.byte(OP.localGet);
              w.u32(f);
            } else {
              if (patch >= 0) store();
              closeBlock();
            }
            w.byte(OP.end);
          } else if (k === F_LOOP) {
            // The loop's end is reached only by falling through: the block goes on.
            w.byte(OP.end);
            const refund = emitLoopEpilogue(w, ctx, f, catchTargets.has(ords[depth]!));
            if (nRefunds + 2 > REFUNDS.length) REFUNDS = grown(REFUNDS, nRefunds + 2);
            REFUNDS[nRefunds] = refund;
            REFUNDS[nRefunds + 1] = HEADERS[depth]!;
            nRefunds += 2;
          } else {
            w.byte(OP.end);
            if (t === 2) landing();
            else if (t === 1 || k !== F_BLOCK) startBlock();
          }
        } else if (op === OP.else) {
          // The then-arm jumps to the end from here.
          flush(p);
          storeForBranch(0);
          flush(p + 1);
          startBlock();
        } else if (op === 0x0f /* return */) {
          flush(p);
          if (pass) {
            w.byte(OP.localGet);
            w.u32(f);
          } else if (patch >= 0) store();
          closeBlock();
        } else if (op === OP.unreachable) closeBlock();
        p++;
        break;
      case 1 /* Imm.block */: {
        const q = lebEnd(code, p + 1);
        const outer = depth ? frames[depth - 1]! : 0;
        const ord = nextOrd++;
        // Entering a catch-target loop, or skipping a catch-target if's then-arm, arrives
        // where an exception may also land: store first.
        const ct = catchTargets.has(ord);
        if (ct && op !== OP.block) {
          flush(p);
          if (patch >= 0) store();
        }
        if (op === OP.loop) {
          leaf = false;
          leafButCalls = false;
          flush(p);
          emitLoopPrologue(w, ctx, code, p, q);
          from = q;
          closeBlock();
          synced = false;
          // A catch-target loop header takes the global (the truth on every path).
          w.byte(ct ? OP.globalGet : OP.localGet);
          w.u32(ct ? g : f);
          patch = placeholder(w);
          // A catch-target loop's header is a landing: every arrival pays the search.
          if (ct) chargeHandlerSearch();
          w.byte(OP.i64Sub);
          w.byte(OP.localTee);
          w.u32(f);
          w.byte(OP.i64Const);
          w.byte(0);
          w.byte(OP.i64LtS);
          w.byte(OP.brIf);
          w.byte(1); // $refuel
          ctx.loops++;
          HEADERS[depth] = patch;
          open(F_LOOP, outer + LOOP_FRAMES, ord, 0);
        } else {
          open(op === OP.if ? F_IF : F_BLOCK, outer, ord, 0);
          if (op === OP.if) {
            flush(q);
            startBlock();
          }
        }
        p = q;
        break;
      }
      case 2 /* Imm.label: br, br_if */: {
        const label = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        const nl = relabel(label, 1);
        // A passing function's label is its wrapping block: the counter stays in the local.
        if (((isFunctionLabel(label) && !pass) || isCatchTarget(label)) && patch >= 0) {
          flush(p);
          store();
        }
        if (nl !== label) relebel(p + 1, q, nl);
        p = q;
        if (op === OP.br) closeBlock();
        else {
          flush(q);
          startBlock();
        }
        break;
      }
      case 3 /* Imm.brTable */: {
        const end = skipInstr(code, p);
        let q = p + 1;
        const count = readU32(code, q);
        q = lebEnd(code, q);
        const labels: number[] = [];
        let exits = false;
        for (let i = 0; i <= count; i++) {
          const l = readU32(code, q);
          labels.push(l);
          if ((isFunctionLabel(l) && !pass) || isCatchTarget(l)) exits = true;
          q = lebEnd(code, q);
        }
        flush(p);
        if (exits && patch >= 0) store();
        w.byte(op);
        w.u32(count);
        for (const l of labels) w.u32(relabel(l, 1));
        from = end;
        p = end;
        closeBlock();
        break;
      }
      case 4 /* Imm.func: call, return_call, ref.func */: {
        const idx = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        if (op === OP.refFunc) {
          refs.push(idx);
          if (idx >= nImp) relebel(p + 1, q, idx + 1);
        } else {
          leaf = false;
          if (op !== OP.call) leafButCalls = false;
          // Still in the block that the last after-call check opened: nothing but straight code since.
          if (op === OP.call && afterSerial === blockSerial && afterCalls.length) afterCalls[afterCalls.length - 1]!.nextCall = idx;
          const before = spent;
          callees.push(idx);
          flush(p);
          const target = passTo !== undefined ? passTo[idx]! : -1;
          const direct = target >= 0;
          // instrument.ts keeps every tail call between functions that exchange through the global.
          if (op !== OP.call && (direct || pass)) throw new Error("fledge internal error: a tail call involves a counter-passing function");
          if (direct) {
            w.byte(OP.localGet);
            w.u32(f);
          } else if (patch >= 0) store();
          w.byte(op);
          w.u32(direct ? target : idx >= nImp ? idx + 1 : idx);
          from = q;
          if (op !== OP.call) closeBlock();
          else startAfterCall(idx, before, direct);
        }
        p = q;
        break;
      }
      case 5 /* Imm.callIndirect: call_indirect, return_call_indirect */: {
        const q = lebEnd(code, lebEnd(code, p + 1));
        leaf = false;
        leafButCalls = false;
        if (pass && op !== 0x11) throw new Error("fledge internal error: a tail call involves a counter-passing function");
        const before = spent;
        callees.push(-1);
        flush(p);
        if (patch >= 0) store();
        flush(q);
        if (op !== 0x11) closeBlock();
        else startAfterCall(-1, before);
        p = q;
        break;
      }
      case 10 /* Imm.mem */:
        if (op === OP.memoryGrow) {
          leaf = false;
          leafButCalls = false;
          flush(p);
          const q = skipInstr(code, p);
          emitDynamic(w, ctx, f, s, GROW_SHIFT, MAX_PAGES);
          synced = false;
          flush(q);
          if (ctx.growGlobal >= 0) emitGrowWatch(w, ctx.growGlobal, s, r);
          usedScratch = true;
          p = q;
        } else p = skipInstr(code, p);
        break;
      case 17 /* Imm.prefixFC */: {
        const sub = readU32(code, p + 1);
        const dyn = FC_DYNAMIC.get(sub);
        if (dyn) {
          leaf = false;
          leafButCalls = false;
          flush(p);
          // table.grow: the engine copies the whole table on each grow, so it costs
          // delta + the current size (1M one-element grows near 1M entries took 130 s).
          const growTable = sub === 15 ? readU32(code, lebEnd(code, p + 1)) : -1;
          emitDynamic(w, ctx, f, s, dyn[0], dyn[1], growTable);
          synced = false;
          usedScratch = true;
        }
        p = skipInstr(code, p);
        break;
      }
      case 6 /* Imm.local */: {
        const q = lebEnd(code, p + 1);
        // In a passing function the counter parameter sits between the parameters and the declared locals.
        if (pass) {
          const idx = readU32(code, p + 1);
          if (idx >= pass.nParams) relebel(p + 1, q, idx + 1);
        }
        p = q;
        break;
      }
      case 7 /* Imm.global */:
      case 11 /* Imm.i32 */:
      case 12 /* Imm.i64 */:
      case 8 /* Imm.table */:
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        break;
      case 13 /* Imm.f32 */:
        p += 5;
        break;
      case 14 /* Imm.f64 */:
        p += 9;
        break;
      case 9 /* Imm.memarg */:
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
  if (depth !== 0) throw new FledgeError("invalid wasm module: unbalanced blocks in a function body", { code: "wasm_invalid" });
  // The charge list keeps output positions as 32-bit integers.
  if (w.pos > 0x7fffffff) throw new FledgeError("module exceeds fledge's instrumented size cap: its metered code passes 2 GiB", { code: "wasm_cap" });
  const costs = nRefunds ? withRefunds(COSTS, nCosts, REFUNDS, nRefunds) : COSTS.subarray(0, nCosts);
  return { start: bodyStart, costs, usedScratch, leaf, leafButCalls, entry, afterCalls, callees, spent, refs };

  /** The exception-handling instructions (decoded in eh.ts). */
  function rewriteEH(op: number): number {
    const end = ehInstrEnd(code, p);
    const outer = depth ? frames[depth - 1]! : 0;
    switch (op) {
      case EH_OP.try: {
        // Entering a handler is free: its clauses cost when searched (handlerScan in eh.ts).
        open(F_TRY, outer, nextOrd++, 1);
        return end;
      }
      case EH_OP.tryTable: {
        // Catch labels are resolved outside the try_table's own frame.
        const { clauses } = readCatchClauses(code, lebEnd(code, p + 1));
        for (const c of clauses) {
          const label = readU32(code, c.labelAt);
          const nl = relabel(label, 2);
          if (nl !== label) relebel(c.labelAt, c.labelEnd, nl);
        }
        open(F_TRY, outer, nextOrd++, 0);
        return end;
      }
      case EH_OP.catch:
      case EH_OP.catchAll:
        // A landing: the exception came from this body (the counter was stored before
        // the throw) or from a callee (stored before the call), so the global is current.
        flush(end);
        reload();
        startCheckedBlock();
        chargeHandlerSearch();
        return end;
      case EH_OP.delegate: {
        // Ends the try; its label is resolved outside the try.
        depth--;
        const label = readU32(code, p + 1);
        const nl = relabel(label, 0);
        if (nl !== label) relebel(p + 1, end, nl);
        flush(end);
        startBlock();
        return end;
      }
      case EH_OP.rethrow: {
        const label = readU32(code, p + 1);
        const nl = relabel(label, 0);
        flush(p);
        if (patch >= 0) store();
        if (nl !== label) relebel(p + 1, end, nl);
        closeBlock();
        return end;
      }
      default:
        // throw, throw_ref: leave the counter where a landing will read it.
        flush(p);
        if (patch >= 0) store();
        closeBlock();
        return end;
    }
  }
}

/** `i64.const` with a 5-byte placeholder; returns the placeholder position. */
function placeholder(w: Writer): number {
  w.byte(OP.i64Const);
  w.ensure(5);
  const at = w.pos;
  w.pos += 5;
  return at;
}

/** With the counter on the stack: `if (f < 0) f = slow(f)`; ~12 bytes inline, the rest is shared. */
function emitCheckTail(w: Writer, ctx: MeterContext, f: number): void {
  w.byte(OP.i64Const);
  w.byte(0);
  w.byte(OP.i64LtS);
  w.byte(OP.if);
  w.byte(0x40);
  emitRefuel(w, ctx, f);
  w.byte(OP.end);
}

/** `f = slow(f)`: the module's one copy of the refuel-and-stop path (slowPathBody). */
function emitRefuel(w: Writer, ctx: MeterContext, f: number): void {
  w.byte(OP.localGet);
  w.u32(f);
  w.byte(OP.call);
  w.u32(ctx.slowIndex);
  w.byte(OP.localSet);
  w.u32(f);
}

/**
 * The shared slow path, `(fuel: i64) -> i64`, called only when the counter went
 * negative: `global = fuel; fuel = refuel(fuel); global = fuel; if (fuel < 0)
 * unreachable; return fuel`. The first store keeps the global the truth even if the
 * meter's refuel throws (a landing reads it). The meter ends a run by returning a
 * negative value, and the guest then traps: a trap unwinds through every wasm
 * `catch_all` / `try_table` handler, where a JS exception would be caught.
 */
export function slowPathBody(refuelIndex: number, fuelGlobal: number): Uint8Array {
  const w = new Writer(32);
  w.byte(OP.localGet);
  w.u32(0);
  w.byte(OP.globalSet);
  w.u32(fuelGlobal);
  w.byte(OP.localGet);
  w.u32(0);
  w.byte(OP.call);
  w.u32(refuelIndex);
  w.byte(OP.localTee);
  w.u32(0);
  w.byte(OP.globalSet);
  w.u32(fuelGlobal);
  w.byte(OP.localGet);
  w.u32(0);
  w.byte(OP.i64Const);
  w.byte(0);
  w.byte(OP.i64LtS);
  w.byte(OP.if);
  w.byte(0x40);
  w.byte(OP.unreachable);
  w.byte(OP.end);
  w.byte(OP.localGet);
  w.u32(0);
  w.byte(OP.end);
  return w.buf.slice(0, w.pos);
}

/**
 * Each `loop bt BODY end` becomes
 *
 *     block bt                      ;; $done
 *       loop bt                     ;; $retry
 *         block (params → params)   ;; $refuel
 *           loop bt                 ;; the original loop
 *             <charge C; br_if $refuel when fuel < 0>
 *             BODY
 *           end
 *           br $done
 *         end
 *         fuel = refuel(fuel) + C   ;; (and the global too, when the header reads it)
 *         br $retry                 ;; re-enters the original loop's header
 *       end
 *     end
 *
 * The refuel takes the header's charge C as spent; re-entering the header charges it
 * again, so the refuel path gives C back first: the header block is charged once per
 * time it runs, and the fuel charged stays equal to the instructions executed across
 * refuels. The header's next check sees the slice refuel returned (never negative:
 * the slow path traps on a stop), so re-entry never refuels twice in a row.
 *
 * The refuel call sits outside the loop: any call inside a hot loop made
 * JavaScriptCore spill floating-point registers around it on every iteration
 * (a float loop ran 2.3x slower). BODY's branches to outer labels gain 3.
 */
function emitLoopPrologue(w: Writer, ctx: MeterContext, code: Uint8Array, p: number, q: number): void {
  const bt = readS33(code, p + 1);
  w.byte(OP.block);
  w.range(code, p + 1, q);
  w.byte(OP.loop);
  w.range(code, p + 1, q);
  w.byte(OP.block);
  w.s33(ctx.refuelBlockType(bt));
  w.range(code, p, q);
}

/**
 * After the original loop's `end`. Returns the position of the refund's placeholder
 * (the header's charge, known once the header block closes). `headerReadsGlobal`: a
 * catch-target loop's header loads the global, so the refund goes there too.
 */
function emitLoopEpilogue(w: Writer, ctx: MeterContext, f: number, headerReadsGlobal: boolean): number {
  w.byte(OP.br);
  w.byte(2); // $done
  w.byte(OP.end); // $refuel
  w.byte(OP.localGet);
  w.u32(f);
  w.byte(OP.call);
  w.u32(ctx.slowIndex);
  const refund = placeholder(w);
  w.byte(OP.i64Add);
  if (headerReadsGlobal) {
    w.byte(OP.localTee);
    w.u32(f);
    w.byte(OP.globalSet);
    w.u32(ctx.fuelGlobal);
  } else {
    w.byte(OP.localSet);
    w.u32(f);
  }
  w.byte(OP.br);
  w.byte(0); // $retry
  w.byte(OP.end);
  w.byte(OP.end);
  return refund;
}

/**
 * The body's charges with each loop's refund merged in, in output order: a refund
 * costs what its header's charge costs (both lists are in output order; the header
 * of a loop closes before, or in, the block its refund sits in).
 */
function withRefunds(costs: Int32Array, nCosts: number, refunds: Int32Array, nRefunds: number): Int32Array {
  if (MERGED.length < nCosts + nRefunds * 2) MERGED = new Int32Array(Math.max(nCosts + nRefunds * 2, MERGED.length * 2));
  const out = MERGED.subarray(0, nCosts + nRefunds * 2);
  let i = 0;
  let o = 0;
  for (let k = 0; k < nRefunds; k += 2) {
    const at = refunds[k]!;
    while (i < nCosts && costs[i]! < at) {
      out.set(costs.subarray(i, i + 4), o);
      i += 4;
      o += 4;
    }
    out[o] = at;
    out[o + 1] = headerCost(costs, nCosts, refunds[k + 1]!);
    out[o + 2] = -1; // never deleted, even at cost 0
    out[o + 3] = -1;
    o += 4;
  }
  out.set(costs.subarray(i, nCosts), o);
  return out;
}

/** The cost of the charge whose placeholder is at `at` (binary search: charges are in output order). */
function headerCost(costs: Int32Array, nCosts: number, at: number): number {
  let lo = 0;
  let hi = nCosts / 4 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const pos = costs[mid * 4]!;
    if (pos === at) return costs[mid * 4 + 1]!;
    if (pos < at) lo = mid + 1;
    else hi = mid - 1;
  }
  throw new Error("fledge internal error: a loop header's charge was not recorded");
}

/** The 0xFC sub-opcodes that charge by their size operand: [shift, clamp]. */
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
 * Charge for a bulk operation whose i32 size operand is on top of the stack (left
 * there): `f -= units(size)`, then the check, so one huge fill cannot run a slice
 * over. `shift` > 0 divides (bytes per unit), < 0 multiplies (units per page); `clamp`
 * bounds the size first, so probing growth with a huge delta (which simply fails) is
 * not mistaken for a huge allocation.
 */
function emitDynamic(w: Writer, ctx: MeterContext, f: number, s: number, shift: number, clamp: number, growTable = -1): void {
  w.byte(OP.localTee);
  w.u32(s);
  w.byte(OP.localGet);
  w.u32(f);
  if (clamp > 0) {
    w.byte(OP.i64Const);
    w.s64(BigInt(clamp));
    w.byte(OP.localGet);
    w.u32(s);
    w.byte(OP.i64ExtendI32U);
    w.byte(OP.localGet);
    w.u32(s);
    w.byte(OP.i32Const);
    w.s32(clamp);
    w.byte(0x4b); // i32.gt_u
    w.byte(0x1b); // select
  } else {
    w.byte(OP.localGet);
    w.u32(s);
    w.byte(OP.i64ExtendI32U);
  }
  if (growTable >= 0) {
    w.byte(0xfc);
    w.u32(16); // table.size
    w.u32(growTable);
    w.byte(OP.i64ExtendI32U);
    w.byte(0x7c); // i64.add
  }
  if (shift !== 0) {
    w.byte(OP.i64Const);
    w.byte(Math.abs(shift));
    w.byte(shift > 0 ? OP.i64ShrU : 0x86 /* i64.shl */);
  }
  w.byte(OP.i64Sub);
  w.byte(OP.localTee);
  w.u32(f);
  emitCheckTail(w, ctx, f);
  ctx.dynamic++;
}

/** After memory.grow (result on the stack): when it returned -1, record the delta the guest asked for. */
function emitGrowWatch(w: Writer, growGlobal: number, s: number, r: number): void {
  w.byte(OP.localTee);
  w.u32(r);
  w.byte(OP.localGet);
  w.u32(r);
  w.byte(OP.i32Const);
  w.byte(0x7f); // -1
  w.byte(0x46); // i32.eq
  w.byte(OP.if);
  w.byte(0x40);
  w.byte(OP.localGet);
  w.u32(s);
  w.byte(OP.globalSet);
  w.u32(growGlobal);
  w.byte(OP.end);
}

/**
 * Charges carry a 5-byte placeholder for their cost (known only when the block
 * closes); once the checks are decided this rewrites each as a minimal LEB and closes
 * the gaps, and removes the byte ranges in `dels` (start, end pairs). Padded constants
 * are valid but measurably slower in JavaScriptCore. Works in place on
 * [start, end) of `buf`; returns the new end.
 */
export function compactBody(buf: Uint8Array, start: number, end: number, costs: ArrayLike<number>, dels: ArrayLike<number>): number {
  // costs holds (placeholder, cost, deleteStart, deleteEnd) quads in output order; a
  // charge of 0 with a delete range is removed whole. The charges and the deletions
  // are walked in position order (merged; a charge first when both start together).
  const del = sortedPairs(dels);
  const nc = costs.length;
  const nd = del.length;
  let i = 0;
  let j = 0;
  let src = start;
  let dst = start;
  while (i < nc || j < nd) {
    let at = Infinity;
    let cost = 0;
    let cut = -1; // end of a deletion; -1: a charge to write
    if (i < nc) {
      cost = costs[i + 1]!;
      const d = costs[i + 2]!;
      if (cost === 0 && d >= 0) {
        at = d;
        cut = costs[i + 3]!;
      } else at = costs[i]!;
    }
    if (j < nd && del[j]! < at) {
      at = del[j]!;
      cut = del[j + 1]!;
      j += 2;
    } else i += 4;
    if (at > src) {
      if (dst !== src) buf.copyWithin(dst, src, at);
      dst += at - src;
    }
    if (cut >= 0) {
      src = cut;
      continue;
    }
    cost = Math.min(cost, 2 ** 34 - 1);
    for (;;) {
      const byte = cost % 128;
      cost = Math.floor(cost / 128);
      if (cost === 0 && (byte & 0x40) === 0) {
        buf[dst++] = byte;
        break;
      }
      buf[dst++] = byte | 0x80;
    }
    src = at + 5;
  }
  if (end > src && dst !== src) buf.copyWithin(dst, src, end);
  return dst + (end - src);
}

/** (start, end) pairs in start order (stable; usually there are none or one). */
function sortedPairs(pairs: ArrayLike<number>): ArrayLike<number> {
  let sorted = true;
  for (let k = 2; k < pairs.length; k += 2) if (pairs[k]! < pairs[k - 2]!) sorted = false;
  if (sorted) return pairs;
  const idx = Array.from({ length: pairs.length / 2 }, (_, k) => k).sort((x, y) => pairs[2 * x]! - pairs[2 * y]!);
  return idx.flatMap((k) => [pairs[2 * k]!, pairs[2 * k + 1]!]);
}

/** Writes `value` as an unsigned LEB of exactly `len` bytes (padded; valid wasm). */
function writeFixedU32(buf: Uint8Array, pos: number, value: number, len: number): void {
  for (let i = 0; i < len - 1; i++) {
    buf[pos + i] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos + len - 1] = value;
}
