/**
 * One way to get a runnable module from a `.wasm` file, for every caller (plugins,
 * `fledge wasm run`, `fledge wasm prepare`, install): validate + instrument (the
 * cacheable step, ./prepare.ts, loaded only on a cache miss), through the
 * prepared-module cache (cache.ts), compiled once per process. The meter is per run
 * and lives in the caller.
 */
import { join } from "node:path";
import { FledgeError, isFledgeError } from "../core/index.ts";
import { limitError } from "./limits.ts";
import { armHardLoadWatchdog, runDeadlineHeld, withinDeadline } from "./load-watchdog.ts";
import { FLEDGE_VERSION } from "../version.ts";
import { compileCached, completePrepared, findPrepared, type CacheOptions, type CacheResult } from "./cache.ts";
import { loadCacheKey } from "./cache-key.ts";
import { completePreparedFile, findPreparedFile } from "./cache-file.ts";
import { INSTRUMENTER_VERSION } from "./abi.ts";
import { DECODER_VERSION } from "./caps.ts";
import { collectAll } from "./collect.ts";
export { checkPreparedSize, PREPARED_CAP, preparedSizeCap } from "./size-cap.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export { abandonedLoadWork, withinDeadline } from "./load-watchdog.ts";

export interface MemoryImport {
  module: string;
  name: string;
  initial: number;
  maximum: number;
}

export interface LoadedModule {
  module: WebAssembly.Module;
  /** Present when the module imports its memory: the runner supplies one with this maximum. */
  memoryImport: MemoryImport | undefined;
  cache: CacheResult["status"];
  cachePath: string | undefined;
}

export interface LoadOptions {
  /** The memory cap baked into the prepared bytes (so it is part of the cache key). */
  maxMemoryBytes: number | null;
  noCache?: boolean;
  warn?: (message: string) => void;
  /** fledge's config folder (the caller knows it; this layer does not read the registry). */
  configDir: string;
  /**
   * The run's time limit, counted from `startedAt` (performance.now() when the command
   * started): preparing and compiling count against it (see {@link withinDeadline}).
   */
  timeoutMs?: number | null;
  startedAt?: number;
  /**
   * Told when slow work starts on a cache miss ("prepare": validating and
   * instrumenting, "compile": the engine's compile) and when it is over ("done"), with
   * the source's size: the CLI shows it on a terminal. Not called on a cache hit.
   */
  progress?: (stage: "prepare" | "compile" | "done", sourceBytes: number) => void;
}

/**
 * The format of a prepared-module cache entry (src/wasm/cache.ts). Bump it whenever
 * the entry layout or what the MAC covers changes, so old entries are never read.
 */
export const CACHE_FORMAT_VERSION = 2;

/** The cache key's host version: everything that changes the prepared bytes (and the entry format). */
export function hostVersionString(maxMemoryBytes: number | null): string {
  return `fledge ${FLEDGE_VERSION}; instrumenter ${INSTRUMENTER_VERSION}; decoder ${DECODER_VERSION}; bun ${Bun.version}; max-memory ${maxMemoryBytes ?? "none"}; cache-format ${CACHE_FORMAT_VERSION}`;
}

/** fledge's own cache folder for prepared modules: the only place a prepared module is ever read from. */
export function userCacheDir(configDir: string): string {
  return join(configDir, "cache", "wasm");
}

/** Options only {@link loadPreparedModule} passes: the hard stop armed around instrumenting. */
export interface InternalLoad extends LoadOptions {
  armHardStop?: () => () => void;
}

/** fledge's own authenticated cache for these load options: the one place its folder, key and host version are chosen. */
export function userCache(opts: InternalLoad): CacheOptions {
  return {
    hostVersion: hostVersionString(opts.maxMemoryBytes),
    cacheDir: userCacheDir(opts.configDir),
    key: () => loadCacheKey(opts.configDir, opts.warn),
    warn: opts.warn,
    noCache: opts.noCache,
  };
}

/**
 * A module's source: its bytes (already read and checked by the caller, e.g. a
 * plugin binary whose digest was verified), or its path (read only when its stamp
 * does not match; `check` refuses bytes that are not a module).
 */
export type ModuleSource = Uint8Array | { path: string; check?: (bytes: Uint8Array) => void };

export async function loadPreparedModule(wasmPath: string, source: ModuleSource, opts: LoadOptions): Promise<LoadedModule> {
  const deadline = opts.timeoutMs === undefined || opts.timeoutMs === null ? null : (opts.startedAt ?? performance.now()) + opts.timeoutMs;
  const stop = () => limitError("deadline", { timeoutMs: opts.timeoutMs ?? null });
  // Instrumenting is synchronous: the hard watchdog (own thread) covers it in the CLI,
  // through the run's own hold when the caller holds one (holdRunDeadline), else armed
  // only while instrumenting; the rest of the synchronous work (reading and hashing at
  // most a 64 MiB source) is short, and the deadline is checked again when it returns.
  const inner: InternalLoad = { ...opts, armHardStop: () => (runDeadlineHeld() ? () => {} : armHardLoadWatchdog(deadline, stop())) };
  let module: WebAssembly.Module;
  let result: CacheResult;
  try {
    result = await findOrPrepare(source, inner);
    if (deadline !== null && performance.now() >= deadline) throw stop();
    const shown = result.status === "miss" || result.status === "bypass";
    if (shown) opts.progress?.("compile", source instanceof Uint8Array ? source.length : 0);
    // Read before compiling: the compile lets go of the prepared bytes.
    const preparedBytes = result.prepared.bytes.length;
    try {
      module = await withinDeadline(compileCached(result, hostVersionString(opts.maxMemoryBytes)), deadline, stop);
    } finally {
      if (shown) opts.progress?.("done", 0);
    }
    collectAfterLoad(preparedBytes);
  } catch (e) {
    if (isFledgeError(e)) throw e;
    throw new FledgeError(`invalid wasm module ${renderUntrusted(wasmPath)}: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { cause: e, code: "wasm_invalid" });
  }
  return { module, memoryImport: result.prepared.analysis.memoryImport as MemoryImport | undefined, cache: result.status, cachePath: result.cachePath };
}

/** Modules whose prepared bytes are at least this large get a full collection once loaded. */
export const COLLECT_AFTER_LOAD_BYTES = 4 * 2 ** 20;

/**
 * Loading a large module leaves its garbage resident (the source, the prepared bytes,
 * the instrumenter's objects: ~280 MiB for yosys's 30.8 MB), and the garbage collector
 * would take it back only later, while the guest runs and the memory guard charges it
 * to the run: yosys's first, uncached synthesis run under the default 256 MiB was
 * stopped "while running" at 768 MiB, the same run from the cache peaked at 493 MiB. So
 * the loader collects everything once more after the compile (the collection before it,
 * in cache.ts, leaves what the compile itself dropped: ~190 MiB for 6.8 MB of tiny
 * loops), before the guest starts; a small module leaves too little to be worth the
 * ~10 ms pause.
 */
function collectAfterLoad(preparedBytes: number): void {
  if (preparedBytes >= COLLECT_AFTER_LOAD_BYTES) collectAll();
}

/**
 * The prepared module from memory or the cache, or prepared now. The instrumenter
 * (./prepare.ts) is loaded only when nothing usable was found: a cache hit never
 * loads it.
 */
async function findOrPrepare(source: ModuleSource, opts: InternalLoad): Promise<CacheResult> {
  const cache = userCache(opts);
  if (source instanceof Uint8Array) {
    const found = findPrepared(source, cache);
    if (!("pending" in found)) return found;
    const { toPreparedShown } = await import("./prepare.ts");
    return completePrepared(found, (b) => toPreparedShown(b, opts));
  }
  const found = findPreparedFile(source.path, { ...cache, checkSource: source.check });
  if (!("pendingFile" in found)) return found;
  const { toPreparedShown } = await import("./prepare.ts");
  return completePreparedFile(found, (b) => toPreparedShown(b, opts));
}

