/**
 * Running a WASI command module under fledge's limits: read, instrument (fuel,
 * deadline, memory and table caps), compile, and hand it to the WASI host with the
 * meter's import module. Limit stops are mapped to their FledgeErrors and exit codes.
 * The CLI flags and the prepared-module cache are wired by callers: `prepareModule`
 * is the cacheable step (its bytes depend on maxMemoryBytes/maxTableElements, so
 * those belong in the cache key).
 */
import { FledgeError, isFledgeError } from "../core/index.ts";
import { runCommand, type Gate, type ImportModules, type Preopen, type WasiOptions } from "../wasi/index.ts";
import type { InstrumentResult } from "./instrument.ts";
import { limitError } from "./limits.ts";
import { createMeter } from "./meter.ts";
import { readModuleFile } from "./module-file.ts";
import { checkPreparedSize, type LoadedModule } from "./prepared.ts";

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
      bytes = readModuleFile(path);
    } catch (e) {
      if (isFledgeError(e)) throw e; // the module size cap's refusal
      throw new FledgeError(`cannot read ${path}: ${(e as Error).message}`, { cause: e, code: "not_found" });
    }
    // The instrumenter loads only here: a runner of prepared modules never needs it.
    const { prepareModule } = await import("./prepare.ts");
    prepared = prepareModule(bytes, opts);
    checkPreparedSize(bytes.length, prepared.bytes.length);
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

/** What a runner's own host modules get: the run's gate and the guest's memory. */
export interface HostLink {
  /** Charge work and wait with the deadline through this (see src/wasi/gate.ts). */
  readonly gate: Gate;
  /** The guest's memory (exported or imported); undefined before instantiation. */
  memory(): WebAssembly.Memory | undefined;
}

export interface RunLoadedOptions {
  args: string[];
  env: [string, string][];
  preopens: WasiOptions["preopens"];
  /** Fuel budget in units; null = unlimited (the deadline still applies). */
  fuel: bigint | null;
  /** Wall-clock limit in ms; null = none. */
  timeoutMs: number | null;
  maxMemoryBytes: number | null;
  stdin?: WasiOptions["stdin"];
  stdout?: WasiOptions["stdout"];
  stderr?: WasiOptions["stderr"];
  maxFds?: number;
  /** When the run started (performance.now()); compile time counts against the deadline. */
  startedAt?: number;
  /** Extra host import modules (the plugin `fledge` module); linked through the same gate as WASI. */
  hostModules?: (link: HostLink) => ImportModules;
}

/**
 * THE metered runner: every guest (plugins, `fledge wasm run`, tests) runs here, under
 * the one meter this function creates, with every host import (WASI and the caller's
 * `hostModules`) linked through the gate built on that meter. Limit stops become
 * their FledgeErrors (codes fuel_exhausted, time_limit).
 */
export async function runLoadedModule(loaded: LoadedModule, opts: RunLoadedOptions): Promise<{ exitCode: number; fuelUsed: bigint }> {
  const deadline = opts.timeoutMs === null ? null : (opts.startedAt ?? performance.now()) + opts.timeoutMs;
  const meter = createMeter({ fuel: opts.fuel, deadline, timeoutMs: opts.timeoutMs });
  let memory: WebAssembly.Memory | undefined;
  const memoryModule: ImportModules = {};
  if (loaded.memoryImport) {
    const m = loaded.memoryImport;
    memory = new WebAssembly.Memory({ initial: m.initial, maximum: m.maximum });
    memoryModule[m.module] = { [m.name]: memory };
  }
  const wasiOpts: WasiOptions = {
    args: opts.args,
    env: opts.env,
    preopens: opts.preopens,
    budget: meter,
    onInstance: (instance) => {
      const exported = instance.exports.memory;
      if (exported instanceof WebAssembly.Memory) memory = exported;
      meter.attach(instance.exports);
    },
  };
  if (deadline !== null) wasiOpts.deadline = deadline;
  if (opts.stdin !== undefined) wasiOpts.stdin = opts.stdin;
  if (opts.stdout !== undefined) wasiOpts.stdout = opts.stdout;
  if (opts.stderr !== undefined) wasiOpts.stderr = opts.stderr;
  if (opts.maxFds !== undefined) wasiOpts.maxFds = opts.maxFds;
  const hostModules = (gate: Gate): ImportModules => {
    const own = opts.hostModules ? opts.hostModules({ gate, memory: () => memory }) : {};
    for (const [mod, fields] of Object.entries(memoryModule)) own[mod] = { ...(own[mod] ?? {}), ...fields };
    return own;
  };
  try {
    const { exitCode } = await runCommand(loaded.module, wasiOpts, hostModules, meter.imports as ImportModules);
    return { exitCode, fuelUsed: meter.used() };
  } catch (e) {
    // isStop first: it is what recognises a trap after a refused memory.grow.
    const stopped = meter.isStop(e);
    const reason = meter.reason();
    if (stopped && reason) {
      const limits = { fuel: opts.fuel, timeoutMs: opts.timeoutMs, maxMemoryBytes: opts.maxMemoryBytes, requestedBytes: meter.requestedBytes() };
      throw limitError(reason, limits);
    }
    throw e;
  }
}
