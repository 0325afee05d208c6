/**
 * Running a WASI command module under fledge's limits: read, instrument (fuel,
 * deadline, memory and table caps), compile, and hand it to the WASI host with the
 * meter's import module. Limit stops are mapped to their FledgeErrors and exit codes.
 * The CLI flags and the prepared-module cache are wired by callers: `prepareModule`
 * is the cacheable step (its bytes depend on maxMemoryBytes/maxTableElements, so
 * those belong in the cache key).
 */
import { readFileSync } from "node:fs";
import { FledgeError } from "../ui/index.ts";
import type { Preopen, WasiOptions } from "../wasi/index.ts";
import type { InstrumentResult } from "./instrument.ts";
import { prepareModule, runLoadedModule, type LoadedModule, type RunLoadedOptions } from "./prepared.ts";

export { prepareModule } from "./prepared.ts";

export interface RunModuleOptions {
  args: string[];
  env: [string, string][];
  preopens: Preopen[];
  /** Fuel budget in units; null = unlimited (the deadline still applies). */
  fuel: bigint | null;
  /** Wall-clock limit in ms; null = none. */
  timeoutMs: number | null;
  /** Memory cap in bytes; null = only the 4 GiB wasm32 limit. */
  maxMemoryBytes: number | null;
  maxTableElements?: number;
  stdin?: WasiOptions["stdin"];
  stdout?: WasiOptions["stdout"];
  stderr?: WasiOptions["stderr"];
  maxFds?: number;
  /** A prepared module from the cache; skips instrumenting the file. */
  prepared?: InstrumentResult;
}

export interface RunModuleResult {
  /** The guest's exit code (proc_exit or 0 when _start returned). */
  exitCode: number;
  /** Fuel the run used. */
  fuelUsed: bigint;
}

export async function runModuleFile(path: string, opts: RunModuleOptions): Promise<RunModuleResult> {
  let prepared = opts.prepared;
  if (!prepared) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new FledgeError(`cannot read ${path}: ${(e as Error).message}`, { code: "not_found" });
    }
    prepared = prepareModule(bytes, opts);
  }
  return runPrepared(prepared, opts);
}

export async function runPrepared(prepared: InstrumentResult, opts: RunModuleOptions): Promise<RunModuleResult> {
  // The clock starts before compilation: a huge module's compile time counts.
  const startedAt = performance.now();
  const mem = prepared.imports.find((i) => i.kind === "memory");
  const memoryImport = mem && prepared.importedMemory ? { module: mem.module, name: mem.name, ...prepared.importedMemory } : undefined;
  const loaded: LoadedModule = { module: new WebAssembly.Module(prepared.bytes), memoryImport, cache: "bypass", cachePath: undefined };
  const run: RunLoadedOptions = { ...opts, startedAt };
  return runLoadedModule(loaded, run);
}
