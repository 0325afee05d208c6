/**
 * Random ids and SHA-256 digests without `node:crypto`: in Bun, importing `node:crypto`
 * costs about 7-10 ms of start-up in the compiled binary (measured), paid by every
 * command whose path touches a lock, an atomic write or a registry read. Web Crypto's
 * getRandomValues (the same CSPRNG) and Bun's native hasher cost nothing to load.
 */

/** `n` random bytes from the system CSPRNG, as lowercase hex (2n characters). */
export function randomHex(n: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("hex");
}

/** `n` random bytes from the system CSPRNG. */
export function randomBuffer(n: number): Buffer {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(n)));
}

/** SHA-256 of `data` (a string is hashed as UTF-8), lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}
