/** A growable byte buffer; the encoder and instrumenter both write through it. */
import { encodeS32, encodeS33, encodeS64, encodeU64, u32Size, writeU32 } from "./leb128.ts";

const utf8 = new TextEncoder();

export class Writer {
  buf: Uint8Array;
  pos = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(v: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    // Exactly what the LEB needs, so a buffer sized to its content never grows.
    if (this.pos + 5 > this.buf.length) this.ensure(u32Size(v));
    this.pos = writeU32(this.buf, this.pos, v);
  }

  s32(v: number): void {
    this.list(encodeS32(v));
  }

  s33(v: number): void {
    // Block types are almost always one byte (0x40 or a value type).
    if (v >= -64 && v < 64) this.byte(v & 0x7f);
    else this.list(encodeS33(v));
  }

  s64(v: bigint): void {
    this.list(encodeS64(v));
  }

  u64(v: bigint): void {
    this.list(encodeU64(v));
  }

  list(bytes: readonly number[]): void {
    this.ensure(bytes.length);
    for (const b of bytes) this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Copies bytes [start, end) of `src`; the instrumenter's hot path. */
  range(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    // Short runs (the common case between rewritten instructions) are cheaper copied by
    // hand than through subarray() + set(), which allocate a view each time.
    if (n < 64) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
      this.pos = p;
    } else {
      this.buf.set(src.subarray(start, end), this.pos);
      this.pos += n;
    }
  }

  name(s: string): void {
    const b = utf8.encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  /** Writes `body()` prefixed by its byte length (sections, code bodies). */
  sized(body: (w: Writer) => void): void {
    const inner = new Writer(256);
    body(inner);
    this.u32(inner.pos);
    this.range(inner.buf, 0, inner.pos);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
