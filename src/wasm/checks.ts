/**
 * Which fuel checks a metered module can do without, decided once every body is
 * rewritten (blocks.ts emits them all and records where they are).
 *
 * A check (`fuel < 0` → refuel or stop) costs a compare and a branch, and, worse, its
 * cold call to the slow path clobbers the engine's registers where it sits: inlined
 * into a caller's loop, each check spills the loop's live values around it. One kind
 * of function can go without its checks, with a bound on the work that runs unchecked:
 *
 * An UNCHECKED function is BOUNDED and only direct calls from this module reach it
 * (not exported, not the start function, not in any table or element segment, never
 * taken by ref.func). BOUNDED: no loop, no size-dependent operation, no exception
 * handling, no indirect or tail call, no call of an import, and every direct call it
 * makes is to a bounded function, so the call graph below it has no cycle; its bound
 * is its own size plus its callees' bounds, one per call site, and must be at most
 * {@link MAX_UNCHECKED_UNITS}. One call of it therefore runs at most that many units,
 * whatever it calls. It loses its entry check and every after-call check in its body
 * (each follows a call of a bounded function, inside the same bound).
 *
 * Elsewhere, the check after a call of a bounded function goes too, in code order,
 * while the bounds of the callees whose checks went add up to at most the same cap per
 * body: between two checks of a body each of its call sites runs at most once (a loop
 * back edge passes its header's check), so the work since its last check grows by at
 * most the cap on top of one pass over the body. The check after a call of anything
 * else stays: an import, an indirect call, an unbounded or recursive callee. (Dropping
 * those before a short tail was tried: each frame returning up a deep stack then ran
 * its tail unchecked, and a recursion of 14,000 frames with 60-unit tails ran 9x its
 * budget and exited 0; the overdraft grew with the stack, not with one body. A bounded
 * function cannot recurse, so its frames never stack up, and the recursive call's own
 * check still runs in every frame on the way back.)
 *
 * A check after a call also goes when the same basic block goes on, through straight
 * code only, to a `call` of a function that keeps its entry check: that check comes
 * before any other work, so it bounds the same stretch (one straight run plus the
 * callee's first block). A frame on a deep stack still checks on its way back: its
 * last call before a branch or its return keeps its after-call check.
 *
 * Everything else keeps its check (the invariant at the top of blocks.ts).
 */
import { compactBody, type BodyEdits, type OptionalCheck } from "./blocks.ts";
import { OP } from "./opcodes.ts";

/**
 * The most units one call of an unchecked function may run (its whole bounded call
 * tree), and the most the unchecked calls of one body may add between two of its
 * checks. The meter's smallest slice is 1,000 units and its usual ones 100,000 to
 * 1,000,000: an overdraft of this size stays within a slice or two.
 */
export const MAX_UNCHECKED_UNITS = 1024;

export interface CheckPlan {
  /** Per defined function: its entry check and its after-call checks go (an unchecked bounded function). */
  uncheckedLeaf: boolean[];
  /** Per defined function: indices into its afterCalls whose check goes (all of them in an unchecked function). */
  droppedAfterCalls: number[][];
}

/**
 * Per defined function: the most units one call of it can run, or -1 when that is not
 * bounded (see the top of this file) or is over {@link MAX_UNCHECKED_UNITS}.
 */
export function callBounds(edits: readonly BodyEdits[], nImportedFuncs: number): number[] {
  const bound = new Array<number>(edits.length).fill(-2); // -2 = not computed yet
  const VISITING = -3;
  const visit = (root: number): void => {
    // Iterative depth-first walk: a long call chain must not overflow the JS stack.
    const stack: [number, number][] = [[root, 0]];
    const acc: number[] = [edits[root]!.spent];
    bound[root] = VISITING;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [i, k] = top;
      const e = edits[i]!;
      if (!e.leafButCalls) {
        bound[i] = -1;
        stack.pop();
        acc.pop();
        if (stack.length) acc[acc.length - 1] = -1;
        continue;
      }
      if (acc[acc.length - 1]! < 0 || k >= e.callees.length) {
        const b = acc.pop()!;
        bound[i] = b >= 0 && b <= MAX_UNCHECKED_UNITS ? b : -1;
        stack.pop();
        if (stack.length) {
          const up = acc.length - 1;
          acc[up] = bound[i]! < 0 || acc[up]! < 0 ? -1 : acc[up]! + bound[i]!;
        }
        continue;
      }
      top[1] = k + 1;
      const callee = e.callees[k]!;
      const j = callee - nImportedFuncs;
      if (callee < nImportedFuncs || j >= edits.length) {
        acc[acc.length - 1] = -1; // an import (or an indirect call, -1): not bounded
        continue;
      }
      const bj = bound[j]!;
      if (bj === VISITING || bj === -1) acc[acc.length - 1] = -1; // recursion, or unbounded
      else if (bj >= 0) acc[acc.length - 1] = acc[acc.length - 1]! + bj;
      else {
        bound[j] = VISITING;
        stack.push([j, 0]);
        acc.push(edits[j]!.spent);
      }
    }
  };
  for (let i = 0; i < edits.length; i++) if (bound[i] === -2) visit(i);
  return bound;
}

/**
 * THE decision (soundness lives here): which checks go, given every body's edits, the
 * number of imported functions, and the defined functions reachable other than by a
 * direct call from this module (`escaped`, by original function index).
 */
export function planChecks(edits: readonly BodyEdits[], nImportedFuncs: number, escaped: ReadonlySet<number>): CheckPlan {
  const taken = new Set(escaped);
  for (const e of edits) for (const r of e.refs) taken.add(r);
  const bounds = callBounds(edits, nImportedFuncs);
  const uncheckedLeaf = edits.map((_, i) => bounds[i]! >= 0 && !taken.has(nImportedFuncs + i));
  // A defined function that keeps its entry check: whichever version a direct call
  // reaches (itself or its passing clone) checks before its first block's work.
  const entryChecked = (f: number): boolean => f >= nImportedFuncs && f - nImportedFuncs < edits.length && !uncheckedLeaf[f - nImportedFuncs];
  const droppedAfterCalls = edits.map((e, i): number[] => {
    if (uncheckedLeaf[i]) return e.afterCalls.map((_, k) => k);
    // Elsewhere: the checks after calls of bounded functions, in code order, while the
    // callees' bounds add up to at most the cap (each call site runs at most once
    // between two checks of this body: a loop back edge passes its header's check).
    const dropped: number[] = [];
    let sum = 0;
    e.afterCalls.forEach((c, k) => {
      if (entryChecked(c.nextCall)) {
        dropped.push(k);
        return;
      }
      const b = c.callee >= nImportedFuncs ? bounds[c.callee - nImportedFuncs]! : -1;
      if (b < 0 || sum + b > MAX_UNCHECKED_UNITS) return;
      sum += b;
      dropped.push(k);
    });
    return dropped;
  });
  return { uncheckedLeaf, droppedAfterCalls };
}

const NO_RANGES = new Int32Array(0);

/**
 * Writes body `e`'s charges (at [e.start, end) of `buf`) as minimal LEBs and removes
 * its charges of 0 now, as soon as the body is rewritten, instead of after the last
 * body: its charge records (16 bytes a basic block, more than the code they patch)
 * are dropped at once instead of piling up for the whole module. Moves the optional
 * checks' positions along; finishBodies removes those later, which closes the same
 * gaps a single pass would (the ranges are disjoint). Returns the body's new end.
 */
export function settleCharges(buf: Uint8Array, e: BodyEdits, end: number): number {
  const costs = e.costs;
  const newEnd = compactBody(buf, e.start, end, costs, NO_RANGES);
  let k = 0;
  let removed = 0;
  // Positions in ascending order (the entry check, then the after-call checks in code
  // order); none falls inside a removed range or a placeholder.
  const move = (pos: number): number => {
    while (k < costs.length) {
      const cost = costs[k + 1]!;
      const d = costs[k + 2]!;
      const at = cost === 0 && d >= 0 ? d : costs[k]!;
      if (at >= pos) break;
      removed += cost === 0 && d >= 0 ? costs[k + 3]! - d : 5 - chargeSize(cost);
      k += 4;
    }
    return pos - removed;
  };
  const shift = (c: OptionalCheck): void => {
    c.teeAt = move(c.teeAt);
    c.start = move(c.start);
    c.end = move(c.end);
  };
  shift(e.entry);
  for (const c of e.afterCalls) shift(c);
  e.costs = NO_RANGES;
  return newEnd;
}

/** Bytes of a charge's cost written as compactBody writes it (a signed LEB). */
function chargeSize(cost: number): number {
  let v = Math.min(cost, 2 ** 34 - 1);
  let n = 1;
  while (v >= 64) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Applies the plan to each body in `buf` and closes the gaps; returns each body's new [start, end). */
export function finishBodies(buf: Uint8Array, edits: readonly BodyEdits[], ends: readonly number[], plan: CheckPlan): number[] {
  const spans: number[] = [];
  for (let i = 0; i < edits.length; i++) {
    const e = edits[i]!;
    const dels: number[] = [];
    const drop = (c: { teeAt: number; start: number; end: number }): void => {
      buf[c.teeAt] = OP.localSet;
      dels.push(c.start, c.end);
    };
    if (plan.uncheckedLeaf[i]) drop(e.entry);
    for (const k of plan.droppedAfterCalls[i]!) drop(e.afterCalls[k]!);
    spans.push(e.start, compactBody(buf, e.start, ends[i]!, e.costs, dels));
  }
  return spans;
}

/**
 * The fewest bytes body `e` (written up to `end`) can keep once finishBodies has run:
 * every charge's 5-byte placeholder may shrink to one byte, and every range the plan
 * may delete (entry and after-call checks, charges of 0) may go. Overlaps are counted
 * twice, which only lowers the bound; it stays a bound the finished body never beats.
 */
export function leastFinishedSize(e: BodyEdits, end: number): number {
  let shrink = e.entry.end - e.entry.start;
  for (const c of e.afterCalls) shrink += c.end - c.start;
  const costs = e.costs;
  for (let i = 0; i < costs.length; i += 4) {
    const d = costs[i + 2]!;
    shrink += costs[i + 1] === 0 && d >= 0 ? costs[i + 3]! - d : 4;
  }
  return Math.max(0, end - e.start - shrink);
}
