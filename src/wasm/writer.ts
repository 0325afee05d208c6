/** A growable byte buffer; the encoder and instrumenter both write through it. */
import { encodeS32, encodeS33, encodeS64, encodeU64, u32Size, writeU32 } from "./leb128.ts";

const utf8 = new TextEncoder();

const PAGE = 65536;
/** Positions in a rewritten module stay below 2^31 (blocks.ts): the most a reserved writer grows to. */
const RESERVED_MAX_PAGES = 2 ** 31 / PAGE;

export class Writer {
  buf: Uint8Array;
  pos = 0;
  /** Set by {@link Writer.reserved}: the buffer grows in place. */
  private memory: WebAssembly.Memory | null = null;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  /**
   * A writer whose buffer is fresh zero pages that cost host memory only once written,
   * and that grows in place instead of by copying: the instrumenter's output, which is
   * sized for the largest result it accepts but usually fills a fraction of that. A
   * plain buffer that large is not reliably lazy (the allocator zeroes a reused
   * region: 110 MB resident up front for a 30 MB module), and a grown copy briefly
   * holds both. The pages go back to the system when the writer is collected. Where
   * no such memory can be reserved (a low address-space limit), a plain buffer.
   */
  static reserved(capacity: number): Writer {
    const pages = Math.min(RESERVED_MAX_PAGES, Math.max(1, Math.ceil(capacity / PAGE)));
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: RESERVED_MAX_PAGES });
    } catch {
      return new Writer(capacity);
    }
    const w = new Writer(0);
    w.memory = memory;
    w.buf = new Uint8Array(memory.buffer);
    return w;
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    if (this.memory && need <= RESERVED_MAX_PAGES * PAGE) {
      const have = this.buf.length / PAGE;
      const want = Math.min(RESERVED_MAX_PAGES, Math.max(Math.ceil(need / PAGE), have + (have >> 2)));
      this.memory.grow(want - have);
      this.buf = new Uint8Array(this.memory.buffer);
      return;
    }
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
