/**
 * Exception-handling opcodes as the metering rewrite (blocks.ts) and the counting
 * build (count.ts) see them. Both need the exact immediate layout of every EH
 * instruction to find instruction boundaries and to relabel branch depths; the
 * decoder table (opcodes.ts) decides whether a module using them is accepted at all.
 *
 *   0x06 try bt            0x07 catch tag         0x08 throw tag
 *   0x09 rethrow label     0x0a throw_ref         0x18 delegate label
 *   0x19 catch_all         0x1f try_table bt vec(catch clause)
 *
 * A try_table catch clause is a kind byte (0 catch tag l, 1 catch_ref tag l,
 * 2 catch_all l, 3 catch_all_ref l) then the tag index for kinds 0/1, then a label.
 */
import { skipInstr } from "./code.ts";
import { lebEnd, malformed, readU32 } from "./leb128.ts";
import { MAIN_IMM } from "./opcodes.ts";

export const EH_OP = {
  try: 0x06,
  catch: 0x07,
  throw: 0x08,
  rethrow: 0x09,
  throwRef: 0x0a,
  delegate: 0x18,
  catchAll: 0x19,
  tryTable: 0x1f,
} as const;

/** 1 for the main-space opcodes of exception handling. */
export const IS_EH_OP = new Uint8Array(256);
for (const op of Object.values(EH_OP)) IS_EH_OP[op] = 1;

/** One try_table catch clause: its kind, and where its label LEB sits in the body. */
export interface CatchClause {
  kind: number;
  labelAt: number;
  labelEnd: number;
}

/** Reads the catch clauses of a try_table whose vector starts at p; returns them and the end position. */
export function readCatchClauses(b: Uint8Array, p: number): { clauses: CatchClause[]; end: number } {
  const n = readU32(b, p);
  p = lebEnd(b, p);
  const clauses: CatchClause[] = [];
  for (let i = 0; i < n; i++) {
    const kind = b[p];
    if (kind === undefined || kind > 3) throw malformed(`invalid try_table catch kind ${kind}`, p);
    p++;
    if (kind < 2) p = lebEnd(b, p); // tag index
    clauses.push({ kind, labelAt: p, labelEnd: lebEnd(b, p) });
    p = lebEnd(b, p);
  }
  return { clauses, end: p };
}

/** End of the EH instruction at p (its opcode must satisfy IS_EH_OP). */
export function ehInstrEnd(b: Uint8Array, p: number): number {
  const op = b[p]!;
  switch (op) {
    case EH_OP.try:
      return lebEnd(b, p + 1); // block type (s33)
    case EH_OP.catch:
    case EH_OP.throw:
    case EH_OP.rethrow:
    case EH_OP.delegate:
      return lebEnd(b, p + 1);
    case EH_OP.throwRef:
    case EH_OP.catchAll:
      return p + 1;
    default:
      return readCatchClauses(b, lebEnd(b, p + 1)).end;
  }
}

/**
 * Extra units a throw (throw, rethrow, throw_ref) costs on top of its one unit. The
 * engine's work per throw grows with the depth of the whole wasm stack, not just the
 * frames unwound: 10,000 throws caught in their own frame took 5 ms at depth 1 and
 * 0.9 s at depth 40,000 (~90 us each, about the deepest stack the engine allows).
 * Priced at 1,000 units, the deepest throw still runs at ~90 ns a unit, so even a
 * meter slice of the largest size ends within ~100 ms and the deadline holds; a
 * shallow throw is overcharged about 2x, harmless since throws are rare. Kept small
 * enough that one basic block's charge stays below 2^31 (blocks.ts stores charges as
 * int32): a 1 MiB body of one-byte throw_refs is 2^20 x 1,001 units, about 2^30.
 */
export const THROW_UNITS = 1_000;

/** The extra units {@link THROW_UNITS} for a throwing opcode, 0 for any other. */
export function throwUnits(op: number): number {
  return op === EH_OP.throw || op === EH_OP.rethrow || op === EH_OP.throwRef ? THROW_UNITS : 0;
}

/** A body's exception handlers as the meter prices them (see {@link handlerScan}). */
export interface HandlerScan {
  /** Opening-order numbers (block, loop, if, try, try_table each open one) of the frames a try_table catch clause targets. */
  targets: Set<number>;
  /** Catch clauses in the body: every try_table clause, every legacy catch and catch_all, and 1 per delegate. */
  handlers: number;
}

/**
 * One pass over a body: its try_table catch targets and its handler count H. On every
 * throw the engine searches the WHOLE handler table of each frame the exception
 * reaches, not just the handlers around the throwing instruction: 330,000 clauses in a
 * try_table that never runs made each one-unit throw elsewhere in the function cost
 * 0.1 ms. A frame is searched once per throw that lands in it, or once when the
 * exception unwinds out of it, which ends the frame. So the meter (blocks.ts) charges H
 * at the entry of every function that has handlers and again at every landing (a
 * try_table catch target, a legacy catch or catch_all body), and the counting build
 * (count.ts) counts the same; H itself is capped per function (caps.ts), so one search
 * is bounded too. Entering a handler is free: its clauses cost only when searched.
 * Targets are found before the rewrite because a branch to one may come before the
 * try_table is seen. A body this pass cannot read is left to the rewrite, which reports it.
 */
export function handlerScan(code: Uint8Array): HandlerScan {
  const targets = new Set<number>();
  const open: number[] = [];
  let next = 0;
  let handlers = 0;
  try {
    for (let p = 0; p < code.length; ) {
      const op = code[p]!;
      if (IS_EH_OP[op]) {
        if (op === EH_OP.tryTable) {
          // Catch labels are resolved outside the try_table's own frame.
          const { clauses } = readCatchClauses(code, lebEnd(code, p + 1));
          handlers += clauses.length;
          for (const c of clauses) {
            const t = open.length - 1 - readU32(code, c.labelAt);
            if (t >= 0) targets.add(open[t]!);
          }
        }
        if (op === EH_OP.try || op === EH_OP.tryTable) open.push(next++);
        else if (op === EH_OP.delegate) {
          open.pop();
          handlers++;
        } else if (op === EH_OP.catch || op === EH_OP.catchAll) handlers++;
        p = ehInstrEnd(code, p);
        continue;
      }
      if (MAIN_IMM[op] === 1 /* Imm.block */) open.push(next++);
      else if (op === 0x0b /* end */) open.pop();
      p = skipInstr(code, p);
    }
  } catch {
    // malformed: the rewrite finds and reports it
  }
  return { targets, handlers };
}
