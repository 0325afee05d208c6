/**
 * The prepared-module cache for a module named by its path (`fledge wasm run`,
 * `fledge wasm prepare`): an authentic source stamp (./source-stamp.ts) that matches
 * the opened file stands for hashing it, so a cached start reads only the entry.
 * Everything else (a missing, stale or forged stamp) takes the hashing path of
 * {@link loadPrepared}, which then writes a fresh stamp when the file has settled.
 */
import { closeSync, existsSync, fstatSync, rmSync } from "node:fs";
import {
  completePrepared,
  decodeEntry,
  entryPath,
  findPrepared,
  maxEntryBytes,
  preparedInMemory,
  readEntryFile,
  reason,
  rememberPrepared,
  writeEntryFile,
  type CacheOptions,
  type CacheResult,
  type PendingPrepare,
  type PreparedModule,
} from "./cache.ts";
import { encodeStamp, fingerprintOf, MAX_STAMP_BYTES, sameFingerprint, stampable, stampedHash, stampPath, type SourceFingerprint } from "./source-stamp.ts";
import { openModuleFile } from "./module-file.ts";

export interface FileCacheOptions extends CacheOptions {
  /** Checks the source bytes when they are read (e.g. the `\0asm` header); throws to refuse. */
  checkSource?: (bytes: Uint8Array) => void;
}

function cacheKey(opts: CacheOptions): Buffer | undefined {
  try {
    return opts.key();
  } catch (e) {
    opts.warn?.(`the module cache key is not usable (${reason(e)}); running without the prepared-module cache`);
    return undefined;
  }
}

/** The entry an authentic, matching stamp names, read and authenticated; undefined to take the hashing path. */
function stampedEntry(key: Buffer, fp: SourceFingerprint, opts: CacheOptions): CacheResult | undefined {
  const sp = stampPath(opts.cacheDir, fp, opts.hostVersion);
  let data: Uint8Array | undefined;
  try {
    data = readEntryFile(sp, MAX_STAMP_BYTES);
  } catch {
    rmSync(sp, { recursive: true, force: true }); // not a stamp fledge wrote: a symlink, a FIFO, someone else's
    return undefined;
  }
  if (!data) return undefined;
  const sourceHash = stampedHash(key, opts.hostVersion, data, fp);
  if (!sourceHash) return undefined;
  const known = preparedInMemory(sourceHash, opts.hostVersion);
  if (known) return { prepared: known, sourceHash, status: "memory", cachePath: undefined, stamped: true };
  const cachePath = entryPath(opts.cacheDir, sourceHash, opts.hostVersion);
  try {
    const entry = readEntryFile(cachePath, maxEntryBytes(Number(fp.size)));
    if (!entry) return undefined;
    const prepared = decodeEntry(key, sourceHash, opts.hostVersion, entry);
    rememberPrepared(sourceHash, opts.hostVersion, prepared);
    return { prepared, sourceHash, status: "hit", cachePath, stamped: true };
  } catch (e) {
    // The hashing path then finds no entry and rebuilds it (one warning, not two).
    opts.warn?.(`cached module ${cachePath} is not usable (${reason(e)}); rebuilding it`);
    try {
      rmSync(cachePath, { recursive: true, force: true });
    } catch {}
    return undefined;
  }
}

/** A file whose prepared module was not found: its bytes, read and checked, and what stamping it needs. */
export interface PendingFile {
  readonly pendingFile: true;
  readonly pending: PendingPrepare;
  readonly fp: SourceFingerprint;
  readonly after: SourceFingerprint;
  readonly key: Buffer | undefined;
  readonly opts: FileCacheOptions;
}

/**
 * The prepared module for the file at `path` from memory or the cache (through its
 * stamp when the file is unchanged, else by its hash), or what preparing it needs
 * ({@link completePreparedFile}). Never fails because of the cache; fails when the
 * file cannot be read or `checkSource` refuses it.
 */
export function findPreparedFile(path: string, opts: FileCacheOptions): CacheResult | PendingFile {
  // Refused here, unread, when it is not a regular file or is over the module size cap.
  const src = openModuleFile(path);
  const fd = src.fd;
  try {
    const fp = fingerprintOf(src.stat);
    const key = opts.noCache ? undefined : cacheKey(opts);
    if (key) {
      const hit = stampedEntry(key, fp, opts);
      if (hit) return hit;
    }
    const bytes = src.read();
    const after = fingerprintOf(fstatSync(fd, { bigint: true }));
    opts.checkSource?.(bytes);
    const found = findPrepared(bytes, { ...opts, key: () => key });
    if ("pending" in found) return { pendingFile: true, pending: found, fp, after, key, opts };
    stampSource(key, found, fp, after, opts);
    return found;
  } finally {
    closeSync(fd);
  }
}

/** Prepare and cache what {@link findPreparedFile} did not find, then stamp the source. */
export function completePreparedFile(p: PendingFile, prepare: (bytes: Uint8Array) => PreparedModule): CacheResult {
  const result = completePrepared(p.pending, prepare);
  stampSource(p.key, result, p.fp, p.after, p.opts);
  return result;
}

/**
 * A stamp for the bytes just hashed: only when nothing changed while they were read
 * and the file has settled (see stampable), and only for an entry that is on disk.
 */
function stampSource(key: Buffer | undefined, result: CacheResult, fp: SourceFingerprint, after: SourceFingerprint, opts: CacheOptions): void {
  if (!key || !result.cachePath || !sameFingerprint(fp, after) || !stampable(fp) || !existsSync(result.cachePath)) return;
  try {
    writeEntryFile(stampPath(opts.cacheDir, fp, opts.hostVersion), new TextEncoder().encode(encodeStamp(key, opts.hostVersion, fp, result.sourceHash)));
  } catch {
    // Best effort: without a stamp the next start hashes the source again.
  }
}

/** {@link findPreparedFile}, then {@link completePreparedFile} when nothing was found. */
export function loadPreparedFile(path: string, prepare: (bytes: Uint8Array) => PreparedModule, opts: FileCacheOptions): CacheResult {
  const found = findPreparedFile(path, opts);
  return "pendingFile" in found ? completePreparedFile(found, prepare) : found;
}
