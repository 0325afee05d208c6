import { ERRNO, fail } from "./errno.ts";

/**
 * Bounds-checked access to the guest's linear memory. `memory.buffer` is re-read on
 * every access (memory.grow detaches the old ArrayBuffer), but the views are only
 * rebuilt when the buffer object actually changed, so the hot path allocates nothing.
 * Every pointer/length is treated as u32 (`>>> 0`); anything outside memory throws
 * EFAULT through `fail`, which the import wrapper turns into a returned errno.
 */
export class GuestMemory {
  private memory: WebAssembly.Memory | undefined;
  private buffer: ArrayBuffer | undefined;
  private u8cache = new Uint8Array(0);
  private dvcache = new DataView(new ArrayBuffer(0));

  bind(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.buffer = undefined;
  }

  get bound(): boolean {
    return this.memory !== undefined;
  }

  private refresh(): void {
    const mem = this.memory;
    if (!mem) throw fail(ERRNO.fault);
    const buf = mem.buffer as ArrayBuffer;
    if (buf !== this.buffer) {
      this.buffer = buf;
      this.u8cache = new Uint8Array(buf);
      this.dvcache = new DataView(buf);
    }
  }

  /** The whole memory as bytes (fresh after growth). */
  get u8(): Uint8Array {
    this.refresh();
    return this.u8cache;
  }

  /** The whole memory as a DataView (fresh after growth). */
  get view(): DataView {
    this.refresh();
    return this.dvcache;
  }

  /** Throws EFAULT unless [ptr, ptr+len) lies inside memory. Returns ptr as u32. */
  check(ptr: number, len: number): number {
    this.refresh();
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (p + l > this.u8cache.length) throw fail(ERRNO.fault);
    return p;
  }

  /** A view of guest bytes (no copy). Valid until the next call that may grow memory. */
  bytes(ptr: number, len: number): Uint8Array {
    const p = this.check(ptr, len);
    return this.u8cache.subarray(p, p + (len >>> 0));
  }

  /** A copy of guest bytes, safe to keep. */
  copy(ptr: number, len: number): Uint8Array {
    return this.bytes(ptr, len).slice();
  }

  write(ptr: number, data: Uint8Array): void {
    const p = this.check(ptr, data.length);
    this.u8cache.set(data, p);
  }

  u8At(ptr: number): number {
    return this.view.getUint8(this.check(ptr, 1));
  }
  u16(ptr: number): number {
    return this.view.getUint16(this.check(ptr, 2), true);
  }
  u32(ptr: number): number {
    return this.view.getUint32(this.check(ptr, 4), true);
  }
  u64(ptr: number): bigint {
    return this.view.getBigUint64(this.check(ptr, 8), true);
  }
  setU8(ptr: number, v: number): void {
    this.view.setUint8(this.check(ptr, 1), v);
  }
  setU16(ptr: number, v: number): void {
    this.view.setUint16(this.check(ptr, 2), v, true);
  }
  setU32(ptr: number, v: number): void {
    this.view.setUint32(this.check(ptr, 4), v >>> 0, true);
  }
  setU64(ptr: number, v: bigint | number): void {
    this.view.setBigUint64(this.check(ptr, 8), typeof v === "bigint" ? BigInt.asUintN(64, v) : BigInt(v), true);
  }
  /** Zero-fill a region (used before writing structs with padding, so no stale guest bytes leak oddities). */
  zero(ptr: number, len: number): void {
    this.bytes(ptr, len).fill(0);
  }
}
