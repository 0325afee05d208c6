/**
 * One way to get a runnable module from a `.wasm` file, for every caller (plugins,
 * `fledge wasm run`, `fledge wasm prepare`, install): validate + instrument (the
 * cacheable step), through the prepared-module cache (cache.ts), compiled once per
 * process. The meter is per run and lives in the caller.
 */
import { join } from "node:path";
import { configDir } from "../registry/index.ts";
import { FledgeError } from "../ui/index.ts";
import { FLEDGE_VERSION } from "../version.ts";
import { compileCached, loadPrepared, type CacheResult, type PreparedModule } from "./cache.ts";
import { loadCacheKey } from "./cache-key.ts";
import { INSTRUMENTER_VERSION } from "./instrument.ts";
import { DECODER_VERSION } from "./caps.ts";

/** The cacheable step: validate, refuse unsupported features, cap memory, inject metering. */
export function prepareModule(bytes: Uint8Array, opts: { maxMemoryBytes: number | null; maxTableElements?: number }): InstrumentResult {
  const o: Parameters<typeof instrument>[1] = { fuel: true, maxMemoryBytes: opts.maxMemoryBytes };
  if (opts.maxTableElements !== undefined) o.maxTableElements = opts.maxTableElements;
  return instrument(bytes, o);
}
import { instrument, type InstrumentResult } from "./instrument.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

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
  env?: NodeJS.ProcessEnv;
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
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "cache", "wasm");
}

function toPrepared(bytes: Uint8Array, maxMemoryBytes: number | null): PreparedModule {
  const r = prepareModule(bytes, { maxMemoryBytes });
  const mem = r.imports.find((i) => i.kind === "memory");
  const memoryImport = mem && r.importedMemory ? { module: mem.module, name: mem.name, ...r.importedMemory } : undefined;
  return { bytes: r.bytes, analysis: memoryImport ? { memoryImport } : {} };
}

/** Validate, instrument and cap `source`, using and filling fledge's own authenticated cache. */
export function preparedFor(source: Uint8Array, opts: LoadOptions): CacheResult {
  return loadPrepared(source, (b) => toPrepared(b, opts.maxMemoryBytes), {
    hostVersion: hostVersionString(opts.maxMemoryBytes),
    cacheDir: userCacheDir(opts.env),
    key: () => loadCacheKey(configDir(opts.env), opts.warn),
    warn: opts.warn,
    noCache: opts.noCache,
  });
}

export async function loadPreparedModule(wasmPath: string, source: Uint8Array, opts: LoadOptions): Promise<LoadedModule> {
  const result = preparedFor(source, opts);
  let module: WebAssembly.Module;
  try {
    module = await compileCached(result, hostVersionString(opts.maxMemoryBytes));
  } catch (e) {
    throw new FledgeError(`invalid wasm module ${renderUntrusted(wasmPath)}: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { code: "wasm_invalid" });
  }
  return { module, memoryImport: result.prepared.analysis.memoryImport as MemoryImport | undefined, cache: result.status, cachePath: result.cachePath };
}
