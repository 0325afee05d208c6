/**
 * The prepared-module cache (contract section 11).
 *
 * JavaScriptCore cannot serialize compiled code, so what we cache is the *prepared*
 * module: validated, instrumented, memory-capped bytes plus the import analysis the
 * runner needs. Beside `foo.wasm` we keep `foo.cwasm` and a stamp `foo.cwasm.sha256`
 * of exactly three lines:
 *   1. sha256 of the source `.wasm`
 *   2. the host version string (fledge + instrumenter + Bun versions + the prepare
 *      parameters that change the output, e.g. the memory cap)
 *   3. sha256 of the `.cwasm`
 * The cache is used only when all three match. Any mismatch (source edited, fledge or
 * Bun upgraded, cache edited) re-prepares and rewrites both files atomically; a corrupt
 * or unreadable cache warns and rebuilds, it never fails the run. When the module's
 * folder is not writable, or is not fledge's to write (a live-linked plugin's source
 * tree), the files go to a user cache dir keyed by the source hash.
 *
 * Line 3 makes a *torn or edited* cache evident; it is not a signature. That is enough
 * because what the cache holds is wasm, not native code: link-time capability checks
 * run on every start whatever the cache says, and only native plugins (which are
 * unsandboxed anyway) or the user can write a plugin's folder.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, accessSync, constants } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface PreparedModule {
  /** The instrumented module bytes. */
  bytes: Uint8Array;
  /** Whatever the runner needs without re-parsing (imports, memory analysis); JSON-serializable. */
  analysis: Record<string, unknown>;
}

export interface CacheOptions {
  /** Host version string: line 2 of the stamp. */
  hostVersion: string;
  /** Where to put caches when the module's folder is read-only. */
  userCacheDir: string;
  /** Called on a corrupt or stale-but-unreadable cache (a warning, never fatal). */
  warn?: (message: string) => void;
  /** Skip reading and writing the on-disk cache (`--no-cache`). */
  noCache?: boolean;
  /** false: never write beside the module (e.g. a live-linked plugin's source tree); use the user cache. */
  besideSource?: boolean;
}

export interface CacheResult {
  prepared: PreparedModule;
  sourceHash: string;
  /** "hit": used the on-disk cache; "miss": prepared and wrote it; "bypass": --no-cache; "memory": reused in-process. */
  status: "hit" | "miss" | "bypass" | "memory";
  cachePath: string | undefined;
}

const MAGIC = new TextEncoder().encode("FLEDGECW1\n");

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The cwasm file: magic, analysis JSON length (u32 LE), analysis JSON, module bytes. */
export function encodePrepared(p: PreparedModule): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(p.analysis));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + p.bytes.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(p.bytes, MAGIC.length + 4 + json.length);
  return out;
}

export function decodePrepared(data: Uint8Array): PreparedModule {
  for (let i = 0; i < MAGIC.length; i++) if (data[i] !== MAGIC[i]) throw new Error("not a fledge prepared module (bad magic)");
  if (data.length < MAGIC.length + 4) throw new Error("truncated prepared module");
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (start + len > data.length) throw new Error("truncated prepared module");
  const analysis = JSON.parse(new TextDecoder().decode(data.subarray(start, start + len))) as Record<string, unknown>;
  return { analysis, bytes: data.subarray(start + len) };
}

/** `foo.wasm` → `foo.cwasm` (any other name gets `.cwasm` appended). */
export function cachePathFor(wasmPath: string): string {
  return wasmPath.endsWith(".wasm") ? `${wasmPath.slice(0, -5)}.cwasm` : `${wasmPath}.cwasm`;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Where the cache for this source lives: beside it, or (read-only folder) in the user cache keyed by content. */
export function chooseCachePath(wasmPath: string, sourceHash: string, userCacheDir: string, besideSource = true): string {
  if (besideSource && writable(dirname(wasmPath))) return cachePathFor(wasmPath);
  return join(userCacheDir, `${sourceHash}-${basename(cachePathFor(wasmPath))}`);
}

export function stampText(sourceHash: string, hostVersion: string, cwasmHash: string): string {
  return `${sourceHash}\n${hostVersion}\n${cwasmHash}`;
}

/** Read the cache if, and only if, all three stamp lines match. Throws on corruption so the caller can warn. */
export function readCache(cachePath: string, sourceHash: string, hostVersion: string): PreparedModule | undefined {
  const stampPath = `${cachePath}.sha256`;
  if (!existsSync(cachePath) || !existsSync(stampPath)) return undefined;
  const lines = readFileSync(stampPath, "utf8").split("\n").map((l) => l.trim());
  if (lines.length !== 3) throw new Error(`stamp ${stampPath} does not have three lines`);
  // Lines 1 and 2 mismatching is ordinary staleness (source edited, fledge upgraded): rebuild quietly.
  if (lines[0] !== sourceHash || lines[1] !== hostVersion) return undefined;
  const data = new Uint8Array(readFileSync(cachePath));
  if (sha256Hex(data) !== lines[2]) throw new Error(`${basename(cachePath)} does not match its stamp (edited or torn)`);
  return decodePrepared(data);
}

export function writeCache(cachePath: string, prepared: PreparedModule, sourceHash: string, hostVersion: string): void {
  mkdirSync(dirname(cachePath), { recursive: true });
  const data = encodePrepared(prepared);
  // The module first, the stamp last: a crash in between leaves a stamp that does not match.
  writeAtomic(cachePath, data);
  writeAtomic(`${cachePath}.sha256`, stampText(sourceHash, hostVersion, sha256Hex(data)));
}

/** Compiled modules reused within one process, keyed by source hash + host version. */
const compiled = new Map<string, { prepared: PreparedModule; module?: WebAssembly.Module }>();

/**
 * Get the prepared module for `wasmPath`, from memory, the on-disk cache, or by
 * calling `prepare` (and filling the cache). Never fails because of the cache.
 */
export function loadPrepared(
  wasmPath: string,
  source: Uint8Array,
  prepare: (bytes: Uint8Array) => PreparedModule,
  opts: CacheOptions,
): CacheResult {
  const sourceHash = sha256Hex(source);
  const memKey = `${sourceHash}\n${opts.hostVersion}`;
  const inMemory = compiled.get(memKey);
  if (inMemory) return { prepared: inMemory.prepared, sourceHash, status: "memory", cachePath: undefined };
  if (opts.noCache) {
    const prepared = prepare(source);
    return { prepared, sourceHash, status: "bypass", cachePath: undefined };
  }
  const cachePath = chooseCachePath(wasmPath, sourceHash, opts.userCacheDir, opts.besideSource ?? true);
  try {
    const hit = readCache(cachePath, sourceHash, opts.hostVersion);
    if (hit) {
      compiled.set(memKey, { prepared: hit });
      return { prepared: hit, sourceHash, status: "hit", cachePath };
    }
  } catch (e) {
    opts.warn?.(`cached module ${cachePath} is invalid, rebuilding: ${e instanceof Error ? e.message : String(e)}`);
    rmSync(cachePath, { force: true });
    rmSync(`${cachePath}.sha256`, { force: true });
  }
  const prepared = prepare(source);
  try {
    writeCache(cachePath, prepared, sourceHash, opts.hostVersion);
  } catch (e) {
    opts.warn?.(`could not write the module cache ${cachePath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  compiled.set(memKey, { prepared });
  return { prepared, sourceHash, status: "miss", cachePath };
}

/** Compile once per process per prepared module. */
export async function compileCached(result: CacheResult, hostVersion: string): Promise<WebAssembly.Module> {
  const memKey = `${result.sourceHash}\n${hostVersion}`;
  const entry = compiled.get(memKey) ?? { prepared: result.prepared };
  if (!entry.module) {
    entry.module = await WebAssembly.compile(entry.prepared.bytes);
    compiled.set(memKey, entry);
  }
  return entry.module;
}
