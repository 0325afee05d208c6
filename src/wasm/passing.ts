/**
 * Which defined functions take the fuel counter as an extra last parameter (and give
 * it back as an extra last result) instead of exchanging it through the module's
 * global, and the pieces of the rewrite that gives them that shape.
 *
 * A call to such a function passes the caller's local and takes the result back, so
 * the counter never leaves registers across a direct call. Which functions pass it
 * changes only how it travels, never where it is charged or checked (the invariant at
 * the top of blocks.ts): a passing function still stores it to the global before every
 * throw and every call that is not to a passing function, and every exception landing
 * reads the global, so the host, the meter and the handlers always read the truth.
 */
import type { BodyCounts } from "./decoder.ts";
import type { Module } from "./module.ts";
import { OP } from "./opcodes.ts";
import { Writer } from "./writer.ts";

/** The most parameters (or results) a type may have after the counter is added (the engine's limit). */
const MAX_TYPE_ARITY = 1000;

export interface PassingPlan {
  /** Per function index (original numbering): the index a direct call goes to for the passing version, else -1. */
  passTo: Int32Array;
  /** Per defined function: it is rewritten in the passing shape (in place, or as a clone behind a thunk). */
  passes: Uint8Array;
  /** Defined functions (0-based) whose passing version is a clone appended at `firstClone + k`; their own index keeps a thunk. */
  cloned: number[];
}

/**
 * THE decision. A defined function passes the counter unless a `return_call` names it
 * or it makes a tail call (a tail call returns its callee's results as the caller's
 * own, so both sides would have to agree, and a thunk between them would turn an
 * unbounded tail recursion into a growing stack), it has an exception landing (`try`
 * or `try_table`: kept on the proven global exchange, the landing rules of blocks.ts
 * unchanged), or its arity is at the engine's limit. One that only direct calls reach (not `escaped`, never taken by a body's
 * ref.func) is rewritten in place. One that is also reached otherwise (the host, a
 * table, ref.func) and is called directly gets a passing clone for the direct calls,
 * and its own index becomes a thunk that reads the global, calls the clone and stores
 * the global back: the host and indirect callers see the original type, and the
 * clone's own entry check (kept: planChecks sees it as escaped) runs on every path.
 * An escaped function no body calls directly stays as it is.
 */
export function planPassing(
  m: Module,
  nImportedFuncs: number,
  escaped: ReadonlySet<number>,
  counts: readonly BodyCounts[],
  called: Uint8Array,
  firstClone: number,
): PassingPlan {
  const nDefined = m.functions.length;
  const ok = new Uint8Array(nImportedFuncs + nDefined);
  const taken = new Set(escaped);
  for (let i = 0; i < nDefined; i++) {
    const t = m.types[m.functions[i]!];
    const c = counts[i];
    if (!t || t.params.length >= MAX_TYPE_ARITY || t.results.length >= MAX_TYPE_ARITY) continue;
    if (c?.tailCallees || c?.tailIndirect || c?.landings) continue;
    ok[nImportedFuncs + i] = 1;
  }
  for (const c of counts) {
    for (const f of c.tailCallees ?? []) ok[f] = 0;
    for (const f of c.refs ?? []) taken.add(f);
  }
  const passTo = new Int32Array(nImportedFuncs + nDefined).fill(-1);
  const passes = new Uint8Array(nDefined);
  const cloned: number[] = [];
  for (let i = 0; i < nDefined; i++) {
    const f = nImportedFuncs + i;
    if (!ok[f]) continue;
    if (!taken.has(f)) passTo[f] = f + 1; // the meter's import shifts defined functions by one
    else if (called[f]) passTo[f] = firstClone + cloned.push(i) - 1;
    else continue;
    passes[i] = 1;
  }
  return { passTo, passes, cloned };
}

/** The passing types a rewrite adds, each once. */
export class PassingTypes {
  private readonly passing = new Map<number, number>();
  private readonly results = new Map<string, number>();
  constructor(private readonly m: Module) {}

  /** `(params, i64) -> (results, i64)` for the original type `t`. */
  of(t: number): number {
    let idx = this.passing.get(t);
    if (idx === undefined) {
      const ft = this.m.types[t]!;
      idx = this.m.types.length;
      this.m.types.push({ params: [...ft.params, 0x7e], results: [...ft.results, 0x7e] });
      this.passing.set(t, idx);
    }
    return idx;
  }

  /** The block type bytes of a block that yields `results` (a new `() -> results` type when there are several). */
  wrap(results: readonly number[]): Uint8Array {
    if (results.length === 0) return new Uint8Array([0x40]);
    if (results.length === 1) return new Uint8Array([results[0]!]);
    const key = results.join(",");
    let idx = this.results.get(key);
    if (idx === undefined) {
      idx = this.m.types.length;
      this.m.types.push({ params: [], results: [...results] });
      this.results.set(key, idx);
    }
    const w = new Writer(6);
    w.s33(idx);
    return w.finish();
  }
}

/** The thunk left at a cloned function's own index: `clone(params..., global)`, the counter back to the global. */
export function thunkBody(nParams: number, fuelGlobal: number, clone: number): Uint8Array {
  const w = new Writer(16 + 3 * nParams);
  for (let i = 0; i < nParams; i++) {
    w.byte(OP.localGet);
    w.u32(i);
  }
  w.byte(OP.globalGet);
  w.u32(fuelGlobal);
  w.byte(OP.call);
  w.u32(clone);
  w.byte(OP.globalSet);
  w.u32(fuelGlobal);
  w.byte(OP.end);
  return w.finish();
}
