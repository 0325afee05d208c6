/**
 * The counting build: an independent measure of how many wasm instructions a run
 * executes, to check the fuel meter against. Every instruction of every body gets
 * `counter += 1` in front of it (so an instruction counts when control reaches it by
 * falling through or by entering its block, the same rule as the meter's), with no
 * basic-block analysis at all. A body with exception handlers also counts its handler
 * count H at entry and at every landing: after the end of a frame a try_table catch
 * targets, at the header of such a loop, and after a legacy catch or catch_all (the
 * meter's charge for the engine's handler search, see handlerScan in eh.ts). Slow
 * (several times the original) and only for tests and `bun run bench`.
 */
import { skipInstr } from "./code.ts";
import { FREE_OP } from "./blocks.ts";
import { EH_OP, IS_EH_OP, ehInstrEnd, handlerScan, throwUnits } from "./eh.ts";
import { encodeModule } from "./encode.ts";
import { EXTERNAL, importedCount } from "./module.ts";
import { MAIN_IMM, OP } from "./opcodes.ts";
import { parseModule } from "./parse.ts";
import { Writer } from "./writer.ts";

/** Exported `() -> i64`: instructions executed so far. */
export const COUNT_EXPORT = "fledge:count";

export function countingBuild(bytes: Uint8Array): Uint8Array {
  const m = parseModule(bytes);
  const counter = importedCount(m, "global") + m.globals.length;
  m.globals.push({ type: { valType: 0x7e, mutable: true }, init: new Uint8Array([OP.i64Const, 0, OP.end]) });
  for (const body of m.codes) {
    const code = body.code;
    const w = new Writer(code.length * 8 + 16);
    const add = (n: number): void => {
      w.byte(OP.globalGet);
      w.u32(counter);
      w.byte(OP.i64Const);
      w.s64(BigInt(n));
      w.byte(0x7c); // i64.add
      w.byte(OP.globalSet);
      w.u32(counter);
    };
    const { targets, handlers } = handlerScan(code);
    if (handlers > 0) add(handlers);
    // Per open frame: 1 when a try_table catch targets it (its end is a landing), 2 for
    // such a loop (its header is the landing), else 0.
    const open: number[] = [];
    let next = 0;
    let p = 0;
    while (p < code.length) {
      const op = code[p]!;
      const q = IS_EH_OP[op] ? ehInstrEnd(code, p) : skipInstr(code, p);
      const n = 1 - FREE_OP[op]! + throwUnits(op);
      if (n > 0) add(n);
      w.range(code, p, q);
      p = q;
      if (op === EH_OP.try || op === EH_OP.tryTable || MAIN_IMM[op] === 1 /* Imm.block */) {
        const landing = targets.has(next++) ? (op === OP.loop ? 2 : 1) : 0;
        open.push(landing);
        if (landing === 2) add(handlers);
      } else if (op === OP.end) {
        if (open.pop() === 1) add(handlers);
      } else if (op === EH_OP.delegate) open.pop();
      else if (op === EH_OP.catch || op === EH_OP.catchAll) add(handlers);
    }
    body.code = w.finish();
  }
  m.types.push({ params: [], results: [0x7e] });
  m.functions.push(m.types.length - 1);
  const g = new Writer(8);
  g.byte(OP.globalGet);
  g.u32(counter);
  g.byte(OP.end);
  m.codes.push({ locals: [], code: g.finish() });
  m.exports.push({ name: COUNT_EXPORT, kind: EXTERNAL.func, index: importedCount(m, "func") + m.functions.length - 1 });
  return encodeModule(m);
}
