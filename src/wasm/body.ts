/**
 * The function-body rewrite: the hot loop of the instrumenter. Straight-line code is
 * copied as byte ranges; only block structure, branch depths, function indices and
 * bulk operations are decoded. See instrument.ts for the design.
 */
import { FledgeError } from "../ui/index.ts";
import { skipInstr } from "./code.ts";
import { lebEnd, readS33, readU32, writeU32 } from "./leb128.ts";
import { MAX_PAGES } from "./limits.ts";
import { MAIN_IMM, OP } from "./opcodes.ts";
import { Writer } from "./writer.ts";

/**
 * Static cost of calling an imported (host) function, on top of the call itself. A
 * host call costs ~100x a wasm instruction, and charging it keeps a loop of host calls
 * from running a whole slice's worth of calls between deadline checks.
 */
export const HOST_CALL_COST = 100;
/** Bulk memory operations cost one unit per this many bytes (2^4 = 16). */
export const BYTES_PER_UNIT_SHIFT = 4;

export interface BodyContext {
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

/**
 * Charges are emitted with a 5-byte placeholder for their cost (known only when the
 * region closes); once the body is done, `compactCosts` rewrites each as a minimal
 * LEB and closes the gaps. Leaving the padded form in place is valid wasm but
 * measurably slower: JavaScriptCore ran call-heavy code (recursive fib) 1.6x slower
 * with padded i64.const costs than with minimal ones.
 */
function compactCosts(w: Writer, start: number, costs: number[]): void {
  // costs holds (position, cost) pairs in the order regions closed; sort by position.
  const k = costs.length / 2;
  const order: number[] = [];
  for (let i = 0; i < k; i++) order.push(i);
  order.sort((a, b) => costs[2 * a]! - costs[2 * b]!);
  const buf = w.buf;
  let src = start;
  let dst = start;
  for (const i of order) {
    const at = costs[2 * i]!;
    let cost = Math.min(costs[2 * i + 1]!, 2 ** 34 - 1);
    if (at > src) {
      if (dst !== src) buf.copyWithin(dst, src, at);
      dst += at - src;
    }
    // Minimal signed LEB of a positive value: stop once the rest is 0 and bit 6 is clear.
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
  if (w.pos > src && dst !== src) buf.copyWithin(dst, src, w.pos);
  w.pos = dst + (w.pos - src);
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

/** Opens $done, $retry and $refuel, then copies the original `loop bt` (at [p, q)). */
function emitLoopPrologue(w: Writer, ctx: BodyContext, code: Uint8Array, p: number, q: number): void {
  const bt = readS33(code, p + 1);
  w.byte(OP.block);
  w.range(code, p + 1, q); // $done: the loop's own type
  w.byte(OP.loop);
  w.range(code, p + 1, q); // $retry
  w.byte(OP.block);
  w.s33(ctx.refuelBlockType(bt)); // $refuel
  w.range(code, p, q); // the original loop
}

/** After the original loop's `end`: leave with its results, or refuel and re-enter. */
function emitLoopEpilogue(w: Writer, ctx: BodyContext): void {
  const g = ctx.fuelGlobal;
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
}

/** Hot loop: copy byte ranges, insert charges, remap function indices and branch depths. */
export function instrumentBody(code: Uint8Array, w: Writer, ctx: BodyContext): void {
  const n = code.length;
  const bodyStart = w.pos;
  const costs: number[] = [];
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
    // Literal case labels (not Imm.x property reads) so the JIT builds a jump table;
    // opcodes.ts asserts the values match.
    switch (MAIN_IMM[op]) {
      case 0 /* Imm.none */:
        if (op === OP.end) {
          const kind = ctrlKind.pop();
          ctrlFrames.pop();
          if (kind === 1) {
            // A loop closes: patch its charge, close the inserted frames, resume the enclosing region.
            flush(p + 1);
            from = p + 1;
            costs.push(regionPatch.pop()!, Math.max(cost, 1));
            regionCost.pop();
            cost = regionCost[regionCost.length - 1]!;
            emitLoopEpilogue(w, ctx);
          } else if (kind === undefined) {
            if (p !== n - 1) throw new FledgeError("invalid wasm module: code after the final end", { code: "wasm_invalid" });
            flush(p + 1);
            from = p + 1;
            costs.push(regionPatch.pop()!, Math.max(cost, 1));
            regionCost.pop();
          }
        }
        p++;
        break;
      case 1 /* Imm.block */: {
        const q = lebEnd(code, p + 1);
        const outerFrames = ctrlFrames.length ? ctrlFrames[ctrlFrames.length - 1]! : 0;
        if (op === OP.loop) {
          flush(p);
          emitLoopPrologue(w, ctx, code, p, q);
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
      case 2 /* Imm.label */: {
        const label = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        const nl = relabel(label);
        if (nl !== label) rewrite(p + 1, q, nl);
        p = q;
        break;
      }
      case 3 /* Imm.brTable */: {
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
      case 4 /* Imm.func */: {
        const idx = readU32(code, p + 1);
        const q = lebEnd(code, p + 1);
        if (idx >= nImp) rewrite(p + 1, q, idx + 1);
        else if (op !== OP.refFunc) cost += HOST_CALL_COST;
        p = q;
        break;
      }
      case 10 /* Imm.mem */:
        if (op === OP.memoryGrow) {
          flush(p);
          from = p;
          emitDynamic(w, ctx, GROW_SHIFT, MAX_PAGES);
        }
        p = skipInstr(code, p);
        break;
      case 17 /* Imm.prefixFC */: {
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
      case 6 /* Imm.local */:
      case 7 /* Imm.global */:
      case 11 /* Imm.i32 */:
      case 12 /* Imm.i64 */:
      case 8 /* Imm.table */:
        // Single LEB immediate: skip inline (the most common case).
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
      case 5 /* Imm.callIndirect */:
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        while (code[p]! & 0x80) p++;
        p++;
        break;
      case 9 /* Imm.memarg */:
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
  compactCosts(w, bodyStart, costs);
}

/** Writes `value` as an unsigned LEB of exactly `len` bytes (padded; valid wasm). */
function writeFixedU32(buf: Uint8Array, pos: number, value: number, len: number): void {
  for (let i = 0; i < len - 1; i++) {
    buf[pos + i] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos + len - 1] = value;
}
