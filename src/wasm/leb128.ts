/**
 * LEB128 encode/decode. Decoding accepts non-minimal (padded) encodings up to the
 * maximum byte count the spec allows for the width, because real toolchains (wasm-ld
 * relocations) emit them; encoding is always minimal.
 */
import { FledgeError } from "../core/index.ts";

export function malformed(what: string, pos: number): FledgeError {
  return new FledgeError(`malformed wasm module: ${what} at byte ${pos}`, { code: "wasm_malformed" });
}

/** Unsigned 32-bit read. Returns value; the caller learns the new position from `lebEnd`. */
export function readU32(b: Uint8Array, pos: number): number {
  const b0 = b[pos];
  if (b0 !== undefined && b0 < 0x80) return b0; // one-byte fast path (most indices)
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    const byte = b[pos + i];
    if (byte === undefined) throw malformed("unexpected end (u32)", pos + i);
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      if (i === 4 && byte > 0x0f) throw malformed("u32 out of range", pos);
      return result;
    }
    shift += 7;
  }
  throw malformed("u32 too long", pos);
}

/** Position just after the LEB starting at `pos` (any width); no range checks. */
export function lebEnd(b: Uint8Array, pos: number): number {
  if (b[pos]! < 0x80) return pos + 1; // one-byte fast path; undefined falls through
  let p = pos;
  const n = b.length;
  while (p < n && (b[p]! & 0x80) !== 0) p++;
  if (p >= n) throw malformed("unexpected end (leb)", pos);
  return p + 1;
}

/** Signed 32-bit read. */
export function readS32(b: Uint8Array, pos: number): number {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    const byte = b[pos + i];
    if (byte === undefined) throw malformed("unexpected end (s32)", pos + i);
    result |= (byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      if (i === 4) {
        // The unused high bits of the last byte must be a sign extension of bit 31.
        const hi = byte & 0x70;
        const sign = byte & 0x08;
        if ((sign && hi !== 0x70) || (!sign && hi !== 0)) throw malformed("s32 out of range", pos);
        return result | 0;
      }
      if (byte & 0x40) result |= -1 << shift;
      return result | 0;
    }
  }
  throw malformed("s32 too long", pos);
}

/** Signed 33-bit read (block types). Returns a plain number. */
export function readS33(b: Uint8Array, pos: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    const byte = b[pos + i];
    if (byte === undefined) throw malformed("unexpected end (s33)", pos + i);
    result += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) {
      if (byte & 0x40) result -= mul;
      return result;
    }
  }
  throw malformed("s33 too long", pos);
}

/** Signed 64-bit read as bigint. */
export function readS64(b: Uint8Array, pos: number): bigint {
  // Fast path: fits in a safe integer range (up to 7 bytes = 49 bits).
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    const byte = b[pos + i];
    if (byte === undefined) throw malformed("unexpected end (s64)", pos + i);
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) {
      if (byte & 0x40) result -= 1n << shift;
      return BigInt.asIntN(64, result);
    }
  }
  throw malformed("s64 too long", pos);
}

/** Unsigned 64-bit read as bigint. */
export function readU64(b: Uint8Array, pos: number): bigint {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    const byte = b[pos + i];
    if (byte === undefined) throw malformed("unexpected end (u64)", pos + i);
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
  }
  throw malformed("u64 too long", pos);
}

/** Bytes needed for the minimal unsigned encoding. */
export function u32Size(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes minimal unsigned LEB into `out` at `pos`; returns the new position. */
export function writeU32(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

export function encodeS32(v: number): number[] {
  const bytes: number[] = [];
  v |= 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

/** Signed encoding of any safe integer (used for s33 block types). */
export function encodeS33(v: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = ((v % 128) + 128) % 128;
    v = Math.floor(v / 128);
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

export function encodeS64(v: bigint): number[] {
  const bytes: number[] = [];
  v = BigInt.asIntN(64, v);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

export function encodeU64(v: bigint): number[] {
  const bytes: number[] = [];
  v = BigInt.asUintN(64, v);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v === 0n) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}
