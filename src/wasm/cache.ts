/**
 * The prepared-module cache: entries only in `<config>/cache/wasm`, each authenticated
 * with the key in cache-key.ts, so nothing a plugin ships or a guest writes is ever run as prepared.
 *
 * JavaScriptCore cannot serialize compiled code, so what we cache is the *prepared*
 * module: validated, instrumented, memory-capped bytes plus the import analysis the
 * runner needs. A prepared module skips validation and instrumentation, so whoever
 * can make fledge load one decides what runs unmetered. Hence the rule: **a prepared
 * module runs only if this fledge, for this user, wrote it.**
 *
 * - Entries live only in fledge's own cache folder (`<config>/cache/wasm/`), never
 *   beside the source module: a guest with a writable preopen over its own module's
 *   folder, a plugin archive, or anyone who can write to a shared folder cannot reach
 *   them. Files named `*.cwasm*` beside a module are never read.
 * - Each entry is one file `<source sha256>-<host version digest>.cwasm`:
 *     magic "FLEDGECW2\n" | HMAC-SHA256 (32 bytes) | body
 *   body = analysis JSON length (u32 LE) | analysis JSON | module bytes. The MAC is
 *   keyed by the per-user secret of ./cache-key.ts and covers the source digest, the
 *   host version string and the body ({@link entryMac}), so an entry cannot be forged,
 *   edited, or moved to another source or host version. Nothing in the file is parsed
 *   before the MAC checks out.
 * - Reading never follows a symlink, never blocks on a FIFO (O_NONBLOCK), accepts only
 *   a regular file owned by this user and no bigger than {@link maxEntryBytes}.
 *   Anything else (garbage, forged, truncated, a directory, a symlink, a FIFO, too
 *   big) warns, is removed and rebuilt: a bad cache is never a reason to fail.
 * - Writes go to a private temp file (O_EXCL, 0600) renamed into place, so a reader
 *   sees a whole entry or none, and two processes preparing at once both succeed.
 * - The folder is bounded ({@link pruneCache}): the oldest entries beyond a count and
 *   a size are removed after each write, and so are temp files of dead writers.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { hostTag, ownerGone, randomBytes, sameBytes, sha256, sha256Hex } from "../core/index.ts";
import { updateLengthPrefixed } from "./mac-fields.ts";
import { collectAll, COLLECT_BEFORE_COMPILE_BYTES } from "./collect.ts";

export interface PreparedModule {
  /** The instrumented module bytes. */
  bytes: Uint8Array;
  /** Whatever the runner needs without re-parsing (imports, memory analysis); JSON-serializable. */
  analysis: Record<string, unknown>;
}

export interface CacheOptions {
  /** Host version string: everything that changes the prepared bytes (part of the key and of the MAC). */
  hostVersion: string;
  /** fledge's own cache folder, `<config>/cache/wasm`. */
  cacheDir: string;
  /** The per-user MAC key; undefined = no usable key, run without the on-disk cache. Called only when the cache is used. */
  key: () => Buffer | undefined;
  /** Called on a bad cache entry or an unwritable cache (a warning, never fatal). */
  warn?: ((message: string) => void) | undefined;
  /** Skip reading and writing the on-disk cache (`--no-cache`). */
  noCache?: boolean | undefined;
}

export interface CacheResult {
  prepared: PreparedModule;
  sourceHash: string;
  /** "hit": used the on-disk cache; "miss": prepared (and wrote it when possible); "bypass": --no-cache; "memory": reused in-process. */
  status: "hit" | "miss" | "bypass" | "memory";
  cachePath: string | undefined;
  /** True when an authentic source stamp stood for hashing the source (./cache-file.ts). */
  stamped?: boolean;
}

const MAGIC = new TextEncoder().encode("FLEDGECW2\n");
const MAC_BYTES = 32;
const HEADER = MAGIC.length + MAC_BYTES;

export { sha256Hex };

/** The body of an entry as its pieces (no copy of the module bytes): analysis JSON length (u32 LE), analysis JSON, module bytes. */
export function bodyParts(p: PreparedModule): Uint8Array[] {
  const json = new TextEncoder().encode(JSON.stringify(p.analysis));
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, json.length, true);
  return [len, json, p.bytes];
}

/** The body of an entry in one buffer (see {@link bodyParts}). */
export function encodeBody(p: PreparedModule): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(p.analysis));
  const out = new Uint8Array(4 + json.length + p.bytes.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(p.bytes, 4 + json.length);
  return out;
}

function decodeBody(body: Uint8Array): PreparedModule {
  if (body.length < 4) throw new Error("truncated");
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true);
  if (4 + len > body.length) throw new Error("truncated");
  const analysis = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + len))) as unknown;
  if (typeof analysis !== "object" || analysis === null || Array.isArray(analysis)) throw new Error("bad analysis record");
  return { analysis: analysis as Record<string, unknown>, bytes: body.subarray(4 + len) };
}

/**
 * THE authentication of a cache entry: HMAC-SHA256 under the per-user key over a
 * domain tag, the source digest, the host version and the body. Length-prefixed
 * fields, so no two different triples give the same MAC input.
 */
export function entryMac(key: Buffer, sourceHash: string, hostVersion: string, body: Uint8Array | readonly Uint8Array[]): Buffer {
  const h = updateLengthPrefixed(sha256(key), ["fledge prepared module v2", sourceHash, hostVersion]);
  for (const part of body instanceof Uint8Array ? [body] : body) h.update(part);
  return h.digest();
}

/** The pieces of the entry file for a prepared module, written in order: nothing is copied into one buffer. */
export function entryParts(key: Buffer, sourceHash: string, hostVersion: string, p: PreparedModule): Uint8Array[] {
  const body = bodyParts(p);
  return [MAGIC, entryMac(key, sourceHash, hostVersion, body), ...body];
}

/** The whole entry file for a prepared module. */
export function encodeEntry(key: Buffer, sourceHash: string, hostVersion: string, p: PreparedModule): Uint8Array {
  const body = encodeBody(p);
  const out = new Uint8Array(HEADER + body.length);
  out.set(MAGIC, 0);
  out.set(entryMac(key, sourceHash, hostVersion, body), MAGIC.length);
  out.set(body, HEADER);
  return out;
}

/** Check an entry's magic and MAC, then decode it. Throws a short reason on anything wrong. */
export function decodeEntry(key: Buffer, sourceHash: string, hostVersion: string, data: Uint8Array): PreparedModule {
  if (data.length < HEADER + 4) throw new Error("truncated");
  for (let i = 0; i < MAGIC.length; i++) if (data[i] !== MAGIC[i]) throw new Error("not a fledge prepared module (bad magic)");
  const body = data.subarray(HEADER);
  const mac = entryMac(key, sourceHash, hostVersion, body);
  if (!sameBytes(mac, Buffer.from(data.buffer, data.byteOffset + MAGIC.length, MAC_BYTES))) {
    throw new Error("it was not written by this fledge for this user (authentication failed)");
  }
  return decodeBody(body);
}

/** The largest entry fledge reads for a source of this size (instrumentation grows code a few times at most). */
export function maxEntryBytes(sourceLength: number): number {
  return 64 * 1024 * 1024 + 16 * sourceLength;
}

/** `<cacheDir>/<source sha256>-<host version digest>.cwasm`: one entry per source and host version. */
export function entryPath(cacheDir: string, sourceHash: string, hostVersion: string): string {
  return join(cacheDir, `${sourceHash}-${sha256Hex(hostVersion).slice(0, 16)}.cwasm`);
}

/** The bytes of a cache entry, or undefined when there is none; throws (a reason) when something else is in its place. */
export function readEntryFile(path: string, maxBytes: number): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP" || code === "EMLINK") throw new Error("it is a symbolic link");
    throw new Error(`it cannot be opened (${code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error("it is a directory");
    if (!st.isFile()) throw new Error("it is not a regular file");
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new Error(`it is owned by uid ${st.uid}, not by you`);
    if (st.size > maxBytes) throw new Error(`it is ${st.size} bytes, more than the ${maxBytes} an entry for this module may have`);
    const buf = new Uint8Array(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== buf.length) throw new Error("truncated while reading");
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Write an entry atomically: a private temp file (O_EXCL, 0600) renamed over the entry. */
export function writeEntryFile(path: string, data: Uint8Array | readonly Uint8Array[]): void {
  const dir = join(path, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${hostTag()}-${randomBytes(6).toString("hex")}`);
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      for (const part of data instanceof Uint8Array ? [data] : data) {
        let off = 0;
        while (off < part.length) off += writeSync(fd, part, off, part.length - off);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** How much the cache folder may hold; beyond it the least recently written entries go (they are just rebuilt). */
export const CACHE_LIMITS = { entries: 256, bytes: 1024 * 1024 * 1024 };

/**
 * Keep the cache folder bounded: remove temp files of writers that died (SIGKILL in
 * the middle of a write), then the oldest entries beyond {@link CACHE_LIMITS}.
 * Best effort: a failure here never matters.
 */
export function pruneCache(cacheDir: string, limits: { entries: number; bytes: number } = CACHE_LIMITS): void {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return;
  }
  const entries: { path: string; size: number; mtimeMs: number }[] = [];
  const stamps: { path: string; size: number; mtimeMs: number }[] = [];
  for (const name of names) {
    const path = join(cacheDir, name);
    const tmp = /\.tmp-(\d+)-([0-9a-f]{8})-[0-9a-f]+$/.exec(name);
    try {
      if (tmp) {
        // Another host's write in progress (a shared home) is never presumed dead.
        if (ownerGone({ pid: Number(tmp[1]), host: tmp[2]! })) rmSync(path, { force: true });
        continue;
      }
      if (!name.endsWith(".cwasm") && !name.endsWith(".stamp")) continue;
      const st = lstatSync(path);
      (name.endsWith(".stamp") ? stamps : entries).push({ path, size: st.size, mtimeMs: st.mtimeMs });
    } catch {}
  }
  removeBeyond(entries, limits.entries, limits.bytes);
  // Source stamps (./source-stamp.ts) are tiny; a few per entry (hard links, copies) are kept.
  removeBeyond(stamps, 4 * limits.entries, limits.bytes);
}

function removeBeyond(files: { path: string; size: number; mtimeMs: number }[], maxCount: number, maxBytes: number): void {
  files.sort((a, b) => b.mtimeMs - a.mtimeMs); // newest first
  let count = 0;
  let bytes = 0;
  for (const e of files) {
    count++;
    bytes += e.size;
    if (count > maxCount || bytes > maxBytes) {
      try {
        rmSync(e.path, { recursive: true, force: true });
      } catch {}
    }
  }
}

/** Compiled modules reused within one process, keyed by source hash + host version. */
const compiled = new Map<string, { prepared: PreparedModule; module?: WebAssembly.Module; compiling?: Promise<WebAssembly.Module> }>();

export const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A module prepared or read earlier in this process (status "memory"). */
export function preparedInMemory(sourceHash: string, hostVersion: string): PreparedModule | undefined {
  return compiled.get(`${sourceHash}\n${hostVersion}`)?.prepared;
}

/** Forget every module of this process (tests that start over as a new process would). */
export function forgetPreparedInMemory(): void {
  compiled.clear();
}

/** Remember a prepared module read from an authentic entry for the rest of this process. */
export function rememberPrepared(sourceHash: string, hostVersion: string, prepared: PreparedModule): void {
  compiled.set(`${sourceHash}\n${hostVersion}`, { prepared });
}

/**
 * A lookup that found no usable prepared module: what {@link completePrepared} needs
 * to prepare `source` and fill the cache. The lookup and the preparing are apart so a
 * caller can load the instrumenter only when it is needed (a cache hit never does).
 */
export interface PendingPrepare {
  readonly pending: true;
  readonly source: Uint8Array;
  readonly sourceHash: string;
  /** The per-user key; undefined: no on-disk cache for this run (--no-cache, or no usable key). */
  readonly key: Buffer | undefined;
  readonly cachePath: string | undefined;
  readonly opts: CacheOptions;
}

/** The prepared module for `source` from memory or the on-disk cache, or what preparing it needs. Never fails because of the cache. */
export function findPrepared(source: Uint8Array, opts: CacheOptions): CacheResult | PendingPrepare {
  const sourceHash = sha256Hex(source);
  const memKey = `${sourceHash}\n${opts.hostVersion}`;
  const inMemory = compiled.get(memKey);
  if (inMemory) return { prepared: inMemory.prepared, sourceHash, status: "memory", cachePath: undefined };
  if (opts.noCache) return { pending: true, source, sourceHash, key: undefined, cachePath: undefined, opts };

  let key: Buffer | undefined;
  try {
    key = opts.key();
  } catch (e) {
    opts.warn?.(`the module cache key is not usable (${reason(e)}); running without the prepared-module cache`);
  }
  const cachePath = key ? entryPath(opts.cacheDir, sourceHash, opts.hostVersion) : undefined;
  if (key && cachePath) {
    try {
      const data = readEntryFile(cachePath, maxEntryBytes(source.length));
      if (data) {
        const hit = decodeEntry(key, sourceHash, opts.hostVersion, data);
        compiled.set(memKey, { prepared: hit });
        return { prepared: hit, sourceHash, status: "hit", cachePath };
      }
    } catch (e) {
      opts.warn?.(`cached module ${cachePath} is not usable (${reason(e)}); rebuilding it`);
      try {
        rmSync(cachePath, { recursive: true, force: true }); // never follows a symlink: removes the link itself
      } catch {}
    }
  }
  return { pending: true, source, sourceHash, key, cachePath, opts };
}

/** Prepare what {@link findPrepared} did not find, and fill the cache (a failure to write it only warns). */
export function completePrepared(p: PendingPrepare, prepare: (bytes: Uint8Array) => PreparedModule): CacheResult {
  const { source, sourceHash, key, cachePath, opts } = p;
  if (opts.noCache) return { prepared: prepare(source), sourceHash, status: "bypass", cachePath: undefined };
  const prepared = prepare(source);
  compiled.set(`${sourceHash}\n${opts.hostVersion}`, { prepared });
  if (key && cachePath) {
    try {
      const data = entryParts(key, sourceHash, opts.hostVersion, prepared);
      // An entry we would refuse to read back is not worth writing.
      if (data.reduce((n, part) => n + part.length, 0) <= maxEntryBytes(source.length)) {
        writeEntryFile(cachePath, data);
        pruneCache(opts.cacheDir);
      }
    } catch (e) {
      opts.warn?.(`could not write the module cache ${cachePath}: ${reason(e)}`);
    }
  }
  return { prepared, sourceHash, status: "miss", cachePath };
}

/**
 * Get the prepared module for `source`, from memory, the on-disk cache, or by calling
 * `prepare` (and filling the cache). Never fails because of the cache.
 */
export function loadPrepared(source: Uint8Array, prepare: (bytes: Uint8Array) => PreparedModule, opts: CacheOptions): CacheResult {
  const found = findPrepared(source, opts);
  return "pending" in found ? completePrepared(found, prepare) : found;
}

/** Compile once per process per prepared module. */
export async function compileCached(result: CacheResult, hostVersion: string): Promise<WebAssembly.Module> {
  const memKey = `${result.sourceHash}\n${hostVersion}`;
  const entry = compiled.get(memKey) ?? { prepared: result.prepared };
  if (entry.module) return entry.module;
  if (!entry.compiling) {
    const compiling = WebAssembly.compile(entry.prepared.bytes);
    // The engine copies the bytes when the compile starts, and the compiled module is
    // all this process needs from then on: let the prepared bytes (and the entry file
    // they are a view of) go now, so tens of megabytes are not held through the
    // compile and the run. A second caller waits for the same compile.
    entry.compiling = compiling;
    const size = entry.prepared.bytes.length;
    entry.prepared = { analysis: entry.prepared.analysis, bytes: new Uint8Array(0) };
    result.prepared = entry.prepared;
    compiled.set(memKey, entry);
    // And collect them now, with whatever preparing left behind (the instrumenter's
    // buffers, the source): the engine's compile of a large module needs hundreds of
    // MB of its own, and the garbage would otherwise still be resident (collect.ts).
    if (size >= COLLECT_BEFORE_COMPILE_BYTES) collectAll();
    compiling.then(
      (module) => {
        entry.module = module;
        entry.compiling = undefined;
      },
      // Its bytes are gone: a later load of this module reads or prepares it again.
      () => {
        if (compiled.get(memKey) === entry) compiled.delete(memKey);
      },
    );
  }
  return entry.compiling;
}
