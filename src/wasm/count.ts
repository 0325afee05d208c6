/**
 * The counting build: an independent measure of how many wasm instructions a run
 * executes, to check the fuel meter against. Every instruction of every body gets
 * `counter += 1` in front of it (so an instruction counts when control reaches it by
 * falling through or by entering its block, the same rule as the meter's), with no
 * basic-block analysis at all. Slow (several times the original) and only for tests
 * and `bun run bench`.
 */
import { skipInstr } from "./code.ts";
import { FREE_OP } from "./blocks.ts";
import { IS_EH_OP, ehInstrEnd } from "./eh.ts";
import { encodeModule } from "./encode.ts";
import { EXTERNAL, importedCount } from "./module.ts";
import { OP } from "./opcodes.ts";
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
    let p = 0;
    while (p < code.length) {
      const q = IS_EH_OP[code[p]!] ? ehInstrEnd(code, p) : skipInstr(code, p);
      if (FREE_OP[code[p]!]) {
        w.range(code, p, q);
        p = q;
        continue;
      }
      w.byte(OP.globalGet);
      w.u32(counter);
      w.byte(OP.i64Const);
      w.byte(1);
      w.byte(0x7c); // i64.add
      w.byte(OP.globalSet);
      w.u32(counter);
      w.range(code, p, q);
      p = q;
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
