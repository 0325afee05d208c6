/** A cursor over wasm bytes. Methods throw "malformed" FledgeErrors on truncation. */
import { lebEnd, malformed, readS32, readS33, readS64, readU32, readU64 } from "./leb128.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw malformed("unexpected end", this.pos);
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.end) throw malformed("unexpected end", this.pos);
    return this.bytes[this.pos]!;
  }

  u32(): number {
    const v = readU32(this.bytes, this.pos);
    this.pos = this.checkEnd(lebEnd(this.bytes, this.pos));
    return v;
  }

  s32(): number {
    const v = readS32(this.bytes, this.pos);
    this.pos = this.checkEnd(lebEnd(this.bytes, this.pos));
    return v;
  }

  s33(): number {
    const v = readS33(this.bytes, this.pos);
    this.pos = this.checkEnd(lebEnd(this.bytes, this.pos));
    return v;
  }

  s64(): bigint {
    const v = readS64(this.bytes, this.pos);
    this.pos = this.checkEnd(lebEnd(this.bytes, this.pos));
    return v;
  }

  u64(): bigint {
    const v = readU64(this.bytes, this.pos);
    this.pos = this.checkEnd(lebEnd(this.bytes, this.pos));
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.end) throw malformed("length out of bounds", this.pos);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  name(): string {
    const n = this.u32();
    const start = this.pos;
    try {
      return utf8.decode(this.take(n));
    } catch (e) {
      if (e instanceof TypeError) throw malformed("invalid UTF-8 name", start);
      throw e;
    }
  }

  private checkEnd(p: number): number {
    if (p > this.end) throw malformed("unexpected end", this.end);
    return p;
  }
}
