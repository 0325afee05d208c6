/**
 * SHA-256, HMAC-SHA256, constant-time comparison and random bytes through Bun's native
 * hasher and the global Web Crypto object. `node:crypto` gives the same answers, but
 * loading its JavaScript module costs a compiled fledge about 5 ms of CPU time at every
 * start, more than the whole cache hit of a small module, and every command (the
 * process probes below everything) would pay it. The digests are bit for bit those of
 * `node:crypto`, so cache entries and stamps written by either stay valid.
 */

/** Something that takes bytes in order (a hash or an HMAC under way). */
export interface ByteSink {
  update(data: Uint8Array | string): unknown;
}

/** A SHA-256 digest under way; `digest()` gives its 32 bytes. */
export interface Sha256 extends ByteSink {
  update(data: Uint8Array | string): Sha256;
  digest(): Buffer;
}

/** A SHA-256 hash (or, with `key`, an HMAC-SHA256) to feed with `update`. */
export function sha256(key?: Uint8Array | string): Sha256 {
  const h = key === undefined ? new Bun.CryptoHasher("sha256") : new Bun.CryptoHasher("sha256", key);
  const hash: Sha256 = {
    update(data) {
      h.update(data);
      return hash;
    },
    digest: () => h.digest(),
  };
  return hash;
}

/** The SHA-256 of `data` in lower-case hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

/** Equal bytes, compared in time that depends only on the length (for MACs). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** `n` bytes from the system's cryptographic random source. */
export function randomBytes(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)).buffer);
}
