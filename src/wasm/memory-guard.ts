/**
 * The memory guard: fledge's whole process stays under a run's memory limit plus
 * {@link HOST_MEMORY_ALLOWANCE}, loading included. While a guest runs, the host's own
 * allocations are bounded by the gate, but loading a module (decoding, instrumenting,
 * the engine's compile) takes memory that grows with the module in ways no formula
 * predicts per engine and module shape, so the bound is enforced instead: while a run
 * holds the guard, the watchdog thread (./watchdog-thread.ts) samples the process's
 * resident set every few milliseconds and, past the limit, writes the run's
 * memory-limit report and ends the process with the memory-limit exit code.
 *
 * Only the CLI enables the thread (src/main.ts, enableHardLoadWatchdog): for an
 * in-process caller (tests, an embedder) holding is a no-op, since ending the process
 * would end the caller with it. Memory of other processes (commands a plugin runs
 * through `exec`) is theirs, not counted here.
 */
import { FledgeError } from "../core/index.ts";
import { formatSize, limitError } from "./limits.ts";
import { hardStopReport } from "./load-watchdog.ts";
import { stopId, watchdogThread } from "./watchdog-thread.ts";

/**
 * What fledge may use on top of the run's memory limit for its own work: the runtime,
 * the decoded and instrumented module, the engine's compile of it, host buffers.
 * Provisional; README ("The sandbox") has what it was measured against.
 */
export const HOST_MEMORY_ALLOWANCE = 512 * 2 ** 20;

/** The guest memory a run without a memory limit is guarded for: the largest a 32-bit memory can be. */
export const UNLIMITED_GUEST_MEMORY = 4 * 2 ** 30;

/** THE limit of the whole process for a run whose guest may have `maxMemoryBytes` (null: no limit). */
export function memoryGuardLimit(maxMemoryBytes: number | null): number {
  return (maxMemoryBytes ?? UNLIMITED_GUEST_MEMORY) + HOST_MEMORY_ALLOWANCE;
}

/** Where a run is when the guard stops it: reported so the user knows whether the module's size or its run was the cause. */
export type GuardPhase = "loading" | "running";

export interface GuardWording {
  /** The setting the limit came from, as the user writes it: `--max-memory`, `[limits] memory`. */
  setting: string;
  /** What was loaded or run: "the module", "the plugin". */
  what: string;
  /** Put before the message ("Plugin 'x': "). */
  prefix?: string;
  /** How to raise the limit; default: --max-memory's hint. */
  hint?: string | undefined;
}

const CLI_WORDING: GuardWording = { setting: "--max-memory", what: "the module" };

/** The error the guard reports: what passed which limit, in which phase, and how to raise it. */
export function memoryGuardError(maxMemoryBytes: number | null, phase: GuardPhase, wording: GuardWording = CLI_WORDING): FledgeError {
  const base = limitError("memory", { maxMemoryBytes });
  const limit = maxMemoryBytes === null ? `${formatSize(UNLIMITED_GUEST_MEMORY)} (no ${wording.setting})` : `${formatSize(maxMemoryBytes)} (${wording.setting})`;
  const doing = phase === "loading" ? "loading" : "running";
  return new FledgeError(`${wording.prefix ?? ""}memory limit: fledge's memory passed ${limit} + ${formatSize(HOST_MEMORY_ALLOWANCE)} for its own work while ${doing} ${wording.what}`, {
    code: base.code,
    exitCode: base.exitCode,
    hint: wording.hint ?? base.hint,
  });
}

export interface MemoryHold {
  /** The guest's code starts: a stop from now on reports "running", not "loading". */
  started(): void;
  /** The guarded work is over: sampling stops when no other hold is armed. */
  release(): void;
}

const NOTHING: MemoryHold = { started: () => {}, release: () => {} };

/**
 * Guards a run, loading and executing (`fledge wasm run`, plugin runs, `fledge wasm
 * prepare`, install's prepare step): the whole process is held under
 * {@link memoryGuardLimit} of the run's `maxMemoryBytes`, and `error` gives the report
 * for the phase it is stopped in. A no-op unless the CLI enabled the watchdog thread.
 */
export function holdRunMemory(maxMemoryBytes: number | null, error: (phase: GuardPhase) => FledgeError): MemoryHold {
  const w = watchdogThread();
  if (!w) return NOTHING;
  const id = stopId();
  const loading = error("loading");
  // The phase is read by the thread at the moment it stops the run: one shared word.
  const phase = new Int32Array(new SharedArrayBuffer(4));
  const { fd, text } = hardStopReport(loading);
  w.postMessage({ kind: "memory", id, limit: memoryGuardLimit(maxMemoryBytes), fd, loading: text, running: hardStopReport(error("running")).text, code: loading.exitCode, phase });
  let armed = true;
  return {
    started: () => void Atomics.store(phase, 0, 1),
    release: () => {
      if (!armed) return;
      armed = false;
      w.postMessage({ kind: "memory", id });
    },
  };
}
