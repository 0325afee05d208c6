/**
 * Function references in a module outside its code, for the metering rewrite: which
 * defined functions escape direct calls, and constant expressions renumbered when
 * the meter's import shifts every defined function up by one.
 */
import { lebEnd, readU32 } from "./leb128.ts";
import { constExprEnd, skipInstr } from "./code.ts";
import { EXTERNAL, type ConstExpr, type Module } from "./module.ts";
import { OP } from "./opcodes.ts";
import { Writer } from "./writer.ts";

/**
 * Defined functions reachable other than by a direct call from a body of this module
 * (original indices): exports, the start function, element segments (tables) and
 * ref.func in constant expressions. Called before the indices shift.
 */
export function escapedFunctions(m: Module): Set<number> {
  const out = new Set<number>();
  for (const e of m.exports) if (e.kind === EXTERNAL.func) out.add(e.index);
  if (m.start !== null) out.add(m.start);
  const consts: ConstExpr[] = m.globals.map((g) => g.init);
  for (const seg of m.elements) {
    if (seg.funcs) for (const f of seg.funcs) out.add(f);
    if (seg.exprs) consts.push(...seg.exprs);
  }
  for (const expr of consts) {
    let p = 0;
    const end = constExprEnd(expr, 0, expr.length);
    while (p < end) {
      if (expr[p] === OP.refFunc) out.add(readU32(expr, p + 1));
      p = skipInstr(expr, p);
    }
  }
  return out;
}

/** Rewrites `ref.func` indices in a constant expression. */
export function remapConst(expr: ConstExpr, nImportedFuncs: number): ConstExpr {
  let p = 0;
  let w: Writer | null = null;
  let from = 0;
  const end = constExprEnd(expr, 0, expr.length);
  while (p < end) {
    if (expr[p] === OP.refFunc) {
      const idx = readU32(expr, p + 1);
      const q = lebEnd(expr, p + 1);
      if (idx >= nImportedFuncs) {
        w ??= new Writer(expr.length + 8);
        w.range(expr, from, p + 1);
        w.u32(idx + 1);
        from = q;
      }
      p = q;
    } else p = skipInstr(expr, p);
  }
  if (!w) return expr;
  w.range(expr, from, expr.length);
  return w.finish();
}

export function lebBytes(v: number): number[] {
  const w = new Writer(8);
  w.u32(v);
  return [...w.finish()];
}
