/** Keeping the name section consistent when function indices shift. */
import { lebEnd, readU32 } from "./leb128.ts";
import { Writer } from "./writer.ts";

/**
 * Name section: subsection 1 (function names) and 2 (local names) are keyed by
 * function index and get shifted; other subsections are kept as they are. A name
 * section we cannot parse is dropped rather than left inconsistent. `locals`, when it
 * returns a mapping for a function (original index), renames its locals: a new index,
 * or -1 to drop the name (a function that gained the fuel counter as a parameter).
 */
export function remapNameSection(data: Uint8Array, nImportedFuncs: number, locals?: (func: number) => ((local: number) => number) | null): Uint8Array | null {
  try {
    const w = new Writer(data.length + 64);
    let p = 0;
    while (p < data.length) {
      const id = data[p]!;
      const size = readU32(data, p + 1);
      const start = lebEnd(data, p + 1);
      const end = start + size;
      if (end > data.length) return null;
      if (id !== 1 && id !== 2) {
        w.range(data, p, end);
        p = end;
        continue;
      }
      const sub = new Writer(size + 16);
      let q = start;
      const count = readU32(data, q);
      q = lebEnd(data, q);
      sub.u32(count);
      for (let i = 0; i < count; i++) {
        const idx = readU32(data, q);
        q = lebEnd(data, q);
        sub.u32(idx >= nImportedFuncs ? idx + 1 : idx);
        const itemStart = q;
        const map = id === 2 && locals ? locals(idx) : null;
        if (id === 1) {
          const len = readU32(data, q);
          q = lebEnd(data, q) + len;
        } else if (map) {
          const n = readU32(data, q);
          q = lebEnd(data, q);
          const kept = new Writer(end - q + 8);
          let count = 0;
          for (let j = 0; j < n; j++) {
            const to = map(readU32(data, q));
            q = lebEnd(data, q);
            const nameStart = q;
            const len = readU32(data, q);
            q = lebEnd(data, q) + len;
            if (to < 0) continue;
            kept.u32(to);
            kept.range(data, nameStart, q);
            count++;
          }
          if (q > end) return null;
          sub.u32(count);
          sub.range(kept.buf, 0, kept.pos);
          continue;
        } else {
          const n = readU32(data, q);
          q = lebEnd(data, q);
          for (let j = 0; j < n; j++) {
            q = lebEnd(data, q);
            const len = readU32(data, q);
            q = lebEnd(data, q) + len;
          }
        }
        if (q > end) return null;
        sub.range(data, itemStart, q);
      }
      if (q !== end) return null;
      w.byte(id);
      w.u32(sub.pos);
      w.range(sub.buf, 0, sub.pos);
      p = end;
    }
    return w.finish();
  } catch {
    return null;
  }
}
