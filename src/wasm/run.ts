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
import { runCommand, type ImportModules, type Preopen, type WasiOptions } from "../wasi/index.ts";
import { instrument, type InstrumentResult } from "./instrument.ts";
import { limitError } from "./limits.ts";
import { createMeter } from "./meter.ts";

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

/** The cacheable step: validate, refuse unsupported features, cap memory, inject metering. */
export function prepareModule(bytes: Uint8Array, opts: Pick<RunModuleOptions, "maxMemoryBytes" | "maxTableElements">): InstrumentResult {
  const o: Parameters<typeof instrument>[1] = { fuel: true, maxMemoryBytes: opts.maxMemoryBytes };
  if (opts.maxTableElements !== undefined) o.maxTableElements = opts.maxTableElements;
  return instrument(bytes, o);
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
  const deadline = opts.timeoutMs === null ? null : performance.now() + opts.timeoutMs;
  const meter = createMeter({ fuel: opts.fuel, deadline, timeoutMs: opts.timeoutMs });
  const limits = { fuel: opts.fuel, timeoutMs: opts.timeoutMs, maxMemoryBytes: opts.maxMemoryBytes };
  const module = new WebAssembly.Module(prepared.bytes);
  const extra: ImportModules = { ...(meter.imports as ImportModules) };
  if (prepared.importedMemory) {
    const imp = prepared.imports.find((i) => i.kind === "memory")!;
    const memory = new WebAssembly.Memory({ initial: prepared.importedMemory.initial, maximum: prepared.importedMemory.maximum });
    extra[imp.module] = { ...(extra[imp.module] ?? {}), [imp.name]: memory };
  }
  const wasiOpts: WasiOptions = {
    args: opts.args,
    env: opts.env,
    preopens: opts.preopens,
    onInstance: (instance) => meter.attach(instance.exports),
  };
  if (deadline !== null) wasiOpts.deadline = deadline;
  if (opts.stdin !== undefined) wasiOpts.stdin = opts.stdin;
  if (opts.stdout !== undefined) wasiOpts.stdout = opts.stdout;
  if (opts.stderr !== undefined) wasiOpts.stderr = opts.stderr;
  if (opts.maxFds !== undefined) wasiOpts.maxFds = opts.maxFds;
  try {
    const { exitCode } = await runCommand(module, wasiOpts, extra);
    return { exitCode, fuelUsed: meter.used() };
  } catch (e) {
    const reason = meter.reason();
    if (meter.isStop(e) && reason) throw limitError(reason, limits);
    throw e;
  }
}
