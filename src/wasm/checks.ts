/**
 * Which fuel checks a metered module can do without, decided once every body is
 * rewritten (blocks.ts emits them all and records where they are).
 *
 * A check (`fuel < 0` → refuel or stop) costs a compare and a branch, and, worse, its
 * cold call to the slow path makes every function a non-leaf to JavaScriptCore, so a
 * small function is no longer inlined into its caller. One kind can go, with a bound
 * on the work that runs unchecked:
 *
 * 1. The entry check of an UNCHECKED LEAF: a function with no loop, no call of any
 *    kind, no size-dependent operation and no exception handling, that only direct
 *    calls from this module can reach (not exported, not the start function, not in
 *    any table or element segment, never taken by ref.func). One call of it runs each
 *    of its instructions at most once, and every call site keeps its after-call check,
 *    so it adds at most its own size to the work since the caller's last check.
 *
 * After-call checks all stay. (Dropping one before a short tail of the caller was
 * tried: each frame returning up a deep stack then ran its tail unchecked, and a
 * recursion of 14,000 frames with 60-unit tails ran 9x its budget and exited 0; the
 * overdraft grew with the stack, not with one body.)
 *
 * Everything else keeps its check (the invariant at the top of blocks.ts).
 */
import { compactBody, type BodyEdits } from "./blocks.ts";
import { OP } from "./opcodes.ts";

export interface CheckPlan {
  /** Per defined function: its entry check goes (an unchecked leaf). */
  uncheckedLeaf: boolean[];
  /** Per defined function: indices into its afterCalls whose check goes (none: see above). */
  droppedAfterCalls: number[][];
}

/**
 * THE decision (soundness lives here): which checks go, given every body's edits, the
 * number of imported functions, and the defined functions reachable other than by a
 * direct call from this module (`escaped`, by original function index).
 */
export function planChecks(edits: readonly BodyEdits[], nImportedFuncs: number, escaped: ReadonlySet<number>): CheckPlan {
  const taken = new Set(escaped);
  for (const e of edits) for (const r of e.refs) taken.add(r);
  const uncheckedLeaf = edits.map((e, i) => e.leaf && !taken.has(nImportedFuncs + i));
  const droppedAfterCalls = edits.map((): number[] => []);
  return { uncheckedLeaf, droppedAfterCalls };
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
