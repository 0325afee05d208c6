/**
 * The cacheable step, validate + instrument + cap, and the synchronous ways to get a
 * prepared module through fledge's own cache (`fledge wasm prepare`, install). This is
 * the module that loads the instrumenter: ./prepared.ts imports it only on a cache
 * miss, so a cached start runs without the decoder and the rewriting code.
 */
import type { CacheResult, PreparedModule } from "./cache.ts";
import { loadPrepared } from "./cache.ts";
import { loadPreparedFile } from "./cache-file.ts";
import { instrument, type InstrumentResult } from "./instrument.ts";
import { checkPreparedSize, userCache, type InternalLoad } from "./prepared.ts";

/** The cacheable step: validate, refuse unsupported features, cap memory, inject metering. */
export function prepareModule(bytes: Uint8Array, opts: { maxMemoryBytes: number | null; maxTableElements?: number }): InstrumentResult {
  const o: Parameters<typeof instrument>[1] = { fuel: true, maxMemoryBytes: opts.maxMemoryBytes };
  if (opts.maxTableElements !== undefined) o.maxTableElements = opts.maxTableElements;
  return instrument(bytes, o);
}

function toPrepared(bytes: Uint8Array, maxMemoryBytes: number | null): PreparedModule {
  const r = prepareModule(bytes, { maxMemoryBytes });
  checkPreparedSize(bytes.length, r.bytes.length);
  const mem = r.imports.find((i) => i.kind === "memory");
  const memoryImport = mem && r.importedMemory ? { module: mem.module, name: mem.name, ...r.importedMemory } : undefined;
  return { bytes: r.bytes, analysis: memoryImport ? { memoryImport } : {} };
}

/** Prepare `bytes` for a cache miss, telling `progress` and holding the hard deadline stop while instrumenting. */
export function toPreparedShown(bytes: Uint8Array, opts: InternalLoad): PreparedModule {
  opts.progress?.("prepare", bytes.length);
  // Instrumenting is the long synchronous step: only it needs the watchdog thread
  // (a cache hit never starts one).
  const disarm = opts.armHardStop?.();
  try {
    return toPrepared(bytes, opts.maxMemoryBytes);
  } finally {
    disarm?.();
    opts.progress?.("done", bytes.length);
  }
}

/** Validate, instrument and cap `source`, using and filling fledge's own authenticated cache. */
export function preparedFor(source: Uint8Array, opts: InternalLoad): CacheResult {
  return loadPrepared(source, (b) => toPreparedShown(b, opts), userCache(opts));
}

/** The same for a module named by its path: an unchanged file is recognised by its stamp, not hashed (./cache-file.ts). */
export function preparedForFile(path: string, opts: InternalLoad & { checkSource?: (bytes: Uint8Array) => void }): CacheResult {
  return loadPreparedFile(path, (b) => toPreparedShown(b, opts), { ...userCache(opts), checkSource: opts.checkSource });
}
