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
 * The fuel a handler costs when it is entered: one unit per catch clause (a try_table's
 * clauses; a legacy try's `catch` and `catch_all`). The structure itself is free, but
 * an exception unwinding through a handler makes the engine test each of its clauses,
 * and one try_table may hold hundreds of thousands of them: charged nothing, one
 * `throw` (one unit) through 330,000 clauses cost 0.4 ms, and a slice of fuel outlived
 * the deadline by minutes. An exception leaves every handler it passes (caught there
 * or unwinding further out), and getting back under a handler means entering it
 * again, so charging the clauses on entry bounds the clause tests by fuel. The meter
 * (blocks.ts) and the counting build (count.ts) both charge it, so their totals agree.
 */
export function tryTableCharge(b: Uint8Array, p: number): number {
  return readU32(b, lebEnd(b, p + 1));
}

/**
 * For a body with legacy `try`s: each try's position mapped to how many `catch` and
 * `catch_all` clauses it has (a try ended by `delegate` has none); see {@link tryTableCharge}.
 * The clauses follow the try in the code, so a pass over the body finds them first.
 */
export function legacyTryCharges(code: Uint8Array): Map<number, number> {
  const charges = new Map<number, number>();
  const open: number[] = []; // per open frame: its try's position, or -1 for other frames
  let p = 0;
  while (p < code.length) {
    const op = code[p]!;
    const q = IS_EH_OP[op] ? ehInstrEnd(code, p) : skipInstr(code, p);
    if (op === 0x02 || op === 0x03 || op === 0x04 || op === EH_OP.tryTable) open.push(-1);
    else if (op === EH_OP.try) {
      open.push(p);
      charges.set(p, 0);
    } else if (op === EH_OP.catch || op === EH_OP.catchAll) {
      const t = open[open.length - 1];
      if (t !== undefined && t >= 0) charges.set(t, charges.get(t)! + 1);
    } else if (op === 0x0b || op === EH_OP.delegate) open.pop();
    p = q;
  }
  return charges;
}
