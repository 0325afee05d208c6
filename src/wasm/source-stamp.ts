/**
 * Recognising an unchanged source module without hashing it.
 *
 * Hashing a 30 MB module on every start costs more than the rest of a cached start.
 * So after preparing (or hashing) a module, fledge writes a *stamp*: the source's
 * device, inode, size, mtime and ctime (nanoseconds) and its sha256, authenticated
 * with the same per-user key as the cache entries (./cache-key.ts). On the next start
 * an fstat of the opened source that matches an authentic stamp field for field
 * stands for the hash; the entry it names is then read and its own MAC checked as
 * always ({@link ./cache.ts}), so a stamp can only ever point at an entry this fledge,
 * for this user, wrote.
 *
 * Why the fields are enough: any write to the file, a chmod, a rename onto it or a
 * new hard link moves ctime to "now", and ctime cannot be set back (utimes sets only
 * atime/mtime); a different file in its place has a different inode or device. The
 * one gap is the file system's timestamp granularity: a write in the same clock tick
 * as the one the stamp recorded would leave ctime unchanged. So a stamp is written only
 * for a file whose mtime and ctime are at least {@link SETTLED_MS} in the past
 * ({@link stampable}), and only when an fstat after reading matches the one before it
 * (nothing changed while fledge read it). A stamp that does not match, or is not
 * authentic, is ignored: fledge hashes the source as before.
 *
 * Stamp files live beside the entries in fledge's own cache folder, are read with the
 * same checks (no symlink, no FIFO, regular file owned by this user, bounded size) and
 * are named by device and inode, so each source has one stamp per host version.
 */
import { sameBytes, sha256 } from "../core/index.ts";
import type { BigIntStats } from "node:fs";
import { join } from "node:path";
import { updateLengthPrefixed } from "./mac-fields.ts";

/** What fstat says about a source file: all of it must match for a stamp to count. */
export interface SourceFingerprint {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

export function fingerprintOf(st: BigIntStats): SourceFingerprint {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

export function sameFingerprint(a: SourceFingerprint, b: SourceFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** How old a file's last change must be before its fingerprint is trusted (beyond any file system's timestamp tick). */
export const SETTLED_MS = 2_000;

/**
 * THE decision whether a fingerprint may stand for the content: only a file that has
 * not changed for {@link SETTLED_MS} (by the wall clock file times are stamped with),
 * so a later write cannot land in the same timestamp tick. A time in the future (a
 * clock set back) is never settled.
 */
export function stampable(fp: SourceFingerprint, nowMs: number = Date.now()): boolean {
  const settledBefore = BigInt(Math.floor(nowMs - SETTLED_MS)) * 1_000_000n;
  return BigInt(fp.mtimeNs) <= settledBefore && BigInt(fp.ctimeNs) <= settledBefore;
}

const MAGIC = "FLEDGEST1\n";
const MAC_HEX = 64;
/** A stamp is a few hundred bytes; anything bigger is not one. */
export const MAX_STAMP_BYTES = 4096;

/** `<cacheDir>/<digest of device, inode, host version>.stamp`. */
export function stampPath(cacheDir: string, fp: SourceFingerprint, hostVersion: string): string {
  const name = sha256("fledge stamp name").update(`${fp.dev}:${fp.ino}\n${hostVersion}`).digest().toString("hex").slice(0, 40);
  return join(cacheDir, `${name}.stamp`);
}

function stampMac(key: Buffer, hostVersion: string, json: string): Buffer {
  return updateLengthPrefixed(sha256(key), ["fledge source stamp v1", hostVersion, json]).digest();
}

/** The stamp file's text: magic, hex MAC, JSON of the fingerprint and the source's sha256. */
export function encodeStamp(key: Buffer, hostVersion: string, fp: SourceFingerprint, sourceHash: string): string {
  const json = JSON.stringify({ ...fp, sha256: sourceHash });
  return `${MAGIC}${stampMac(key, hostVersion, json).toString("hex")}\n${json}`;
}

/**
 * The source sha256 an authentic stamp gives for exactly this fingerprint, or
 * undefined (not authentic, malformed, or any field differs).
 */
export function stampedHash(key: Buffer, hostVersion: string, data: Uint8Array, current: SourceFingerprint): string | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  if (!text.startsWith(MAGIC)) return undefined;
  const macHex = text.slice(MAGIC.length, MAGIC.length + MAC_HEX);
  if (!/^[0-9a-f]{64}$/.test(macHex) || text[MAGIC.length + MAC_HEX] !== "\n") return undefined;
  const json = text.slice(MAGIC.length + MAC_HEX + 1);
  if (!sameBytes(stampMac(key, hostVersion, json), Buffer.from(macHex, "hex"))) return undefined;
  let rec: unknown;
  try {
    rec = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof rec !== "object" || rec === null) return undefined;
  const r = rec as Record<string, unknown>;
  const fields = ["dev", "ino", "size", "mtimeNs", "ctimeNs", "sha256"] as const;
  if (!fields.every((f) => typeof r[f] === "string")) return undefined;
  const stamped = { dev: r.dev, ino: r.ino, size: r.size, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs } as SourceFingerprint;
  if (!sameFingerprint(stamped, current)) return undefined;
  const hash = r.sha256 as string;
  return /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
}
