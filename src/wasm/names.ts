/** Keeping the name section consistent when function indices shift. */
import { lebEnd, readU32 } from "./leb128.ts";
import { Writer } from "./writer.ts";

/**
 * Name section: subsection 1 (function names) and 2 (local names) are keyed by
 * function index and get shifted; other subsections are kept as they are. A name
 * section we cannot parse is dropped rather than left inconsistent.
 */
export function remapNameSection(data: Uint8Array, nImportedFuncs: number): Uint8Array | null {
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
        if (id === 1) {
          const len = readU32(data, q);
          q = lebEnd(data, q) + len;
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
