/**
 * The MAC input encoding shared by fledge's authenticated cache files (prepared
 * modules in ./cache.ts, source stamps in ./source-stamp.ts): each field is fed as
 * its UTF-8 length (u32 little-endian) then its bytes, so no two different field
 * lists give the same MAC input.
 */
import type { ByteSink } from "../core/index.ts";

/** Feed `fields`, length-prefixed, into `h`; returns `h` for chaining. */
export function updateLengthPrefixed<H extends ByteSink>(h: H, fields: readonly string[]): H {
  for (const field of fields) {
    const b = Buffer.from(field, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    h.update(len);
    h.update(b);
  }
  return h;
}
