/**
 * THE cache-authentication key: a random 32-byte
 * secret in `<config>/cache.key`, readable by this user only. Every prepared-module
 * cache entry carries an HMAC-SHA256 under it, so an entry runs only if this fledge,
 * for this user, wrote it: a sha256 stamp anyone can recompute is not enough.
 *
 * The key is accepted only when it is a regular file (never through a symlink),
 * owned by the current user, with no group/other permission bits, of exactly
 * KEY_BYTES bytes. Anything else is replaced by a fresh key (which invalidates every
 * entry: they are rebuilt, nothing fails). A new key is written to a private temp
 * file opened O_CREAT|O_EXCL with mode 0600 and then hard-linked into place, so no
 * reader ever sees a partial key and two processes racing to create it agree on one.
 * When no key can be had (read-only config folder), the caller runs without the
 * on-disk cache.
 */
import { randomBytes } from "../core/index.ts";
import { closeSync, constants, fstatSync, linkSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export const KEY_BYTES = 32;
export const KEY_FILE = "cache.key";

/** `<config>/cache.key`. */
export function cacheKeyPath(configDir: string): string {
  return join(configDir, KEY_FILE);
}

/** Why an existing key file is not acceptable, or undefined when it is (key in `out`). */
function readKey(path: string, out: { key?: Buffer }): string | undefined | "missing" {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted as cache.key is refused, not followed; O_NONBLOCK: a FIFO cannot hang us.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "missing";
    if (code === "ELOOP" || code === "EMLINK") return "it is a symbolic link";
    return `it cannot be opened (${code ?? String(e)})`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return "it is not a regular file";
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return `it is owned by uid ${st.uid}, not by you (uid ${uid})`;
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) return `its permissions are ${(st.mode & 0o777).toString(8)}, not 600`;
    if (st.size !== KEY_BYTES) return `it is ${st.size} bytes, not ${KEY_BYTES}`;
    const buf = Buffer.alloc(KEY_BYTES);
    if (readSync(fd, buf, 0, KEY_BYTES, 0) !== KEY_BYTES) return "it is truncated";
    out.key = buf;
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Create the key atomically; returns false when another process won the race (read theirs). */
function createKey(configDir: string, path: string): boolean {
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const tmp = join(configDir, `.${KEY_FILE}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    const key = randomBytes(KEY_BYTES);
    let off = 0;
    while (off < KEY_BYTES) off += writeSync(fd, key, off, KEY_BYTES - off);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path); // fails with EEXIST if anyone else put a key there first
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const memo = new Map<string, Buffer>();

/**
 * The per-user cache key for `configDir`, created on first use. A key file that is
 * not acceptable is removed and replaced (with a warning saying why). Returns
 * undefined (and warns) only when no key can be read or created at all.
 */
export function loadCacheKey(configDir: string, warn?: (message: string) => void): Buffer | undefined {
  const path = cacheKeyPath(configDir);
  const known = memo.get(path);
  if (known) return known;
  for (let attempt = 0; attempt < 3; attempt++) {
    const out: { key?: Buffer } = {};
    const why = readKey(path, out);
    if (why === undefined && out.key) {
      memo.set(path, out.key);
      return out.key;
    }
    try {
      if (why !== "missing") {
        warn?.(`the module cache key ${path} is not usable (${why}); replacing it (cached modules will be rebuilt)`);
        try {
          unlinkSync(path);
        } catch (e) {
          // A directory in the way: fledge's own file name in fledge's own folder, so remove it.
          if ((e as NodeJS.ErrnoException).code === "EISDIR" || (e as NodeJS.ErrnoException).code === "EPERM") rmSync(path, { recursive: true, force: true });
          else if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
      }
      createKey(configDir, path);
    } catch (e) {
      warn?.(`cannot create the module cache key ${path} (${e instanceof Error ? e.message : String(e)}); running without the prepared-module cache`);
      return undefined;
    }
  }
  warn?.(`the module cache key ${path} keeps changing under fledge; running without the prepared-module cache`);
  return undefined;
}

/** Forget the in-process copy (tests that replace the key file between calls). */
export function forgetCacheKeys(): void {
  memo.clear();
}
