/**
 * The hard half of the deadline. Instrumenting a module and running its code are
 * synchronous on the main thread, so no timer there can fire while they run, and the
 * meter's own stop is cooperative: it reads the clock at refuel, which is only as
 * prompt as the fuel units in between are cheap. This watchdog runs on its own thread
 * and, if the run is still under way shortly after its deadline, writes the
 * time-limit message and ends the whole process with the time-limit exit code through
 * libc's _exit (process.exit in a worker ends only the worker). Only the CLI entry
 * (src/main.ts) enables it: in-process callers (tests, embedders) get the async
 * watchdog of prepared.ts for loading and the meter's stop for execution.
 *
 * One thread serves the whole process (./watchdog-thread.ts; starting it costs about a
 * millisecond of the main thread); each armed run is a timer on it, cancelled by its
 * disarm function.
 */
import type { FledgeError } from "../core/index.ts";
import { enableWatchdogThread, stopId, watchdogThread } from "./watchdog-thread.ts";

/**
 * Grace after the deadline before the hard stop, so the graceful stop reports first
 * whenever it can: the meter notices the deadline at its next refuel (slices aim at
 * 5 ms of guest time at the last measured speed, host waits end at the deadline) and
 * then unwinds, flushes the guest's buffered output and prints the same message.
 * 500 ms is 100x that aim, room for a loaded machine to schedule the main thread; a
 * run the hard stop ends overran its limit by at most this plus the thread's wake-up.
 */
export const HARD_STOP_GRACE_MS = 500;

/** Called once by the CLI entry point: enables the deadline's hard stop and the memory guard (./memory-guard.ts). */
export function enableHardLoadWatchdog(): void {
  enableWatchdogThread();
}

let runHolds = 0;

/** Where and how the hard stop reports `err`: as the CLI reports the same error. */
export type HardStopReport = (err: FledgeError) => { fd: 1 | 2; text: string };

/** The CLI's plain report (src/cli/index.ts reportError): the message and hint on stderr. */
const plainReport: HardStopReport = (err) => ({ fd: 2, text: `\n ERROR  ${err.message}\n${err.hint ? `\nℹ ${err.hint}\n` : ""}` });
let report = plainReport;

/** Where and how a stop of the watchdog thread reports `err`: as the command reports errors. */
export function hardStopReport(err: FledgeError): { fd: 1 | 2; text: string } {
  return report(err);
}

/** The CLI sets this when it reports errors otherwise (`--json`: the error envelope on stdout); null restores the plain report. */
export function setHardStopReport(r: HardStopReport | null): void {
  report = r ?? plainReport;
}

/**
 * Arms the hard stop for `deadline` (a performance.now() timestamp) with the error the
 * run would report; returns the disarm function (call it when the guarded work is done).
 */
export function armHardLoadWatchdog(deadline: number | null, err: FledgeError): () => void {
  if (deadline === null) return () => {};
  const w = watchdogThread();
  if (!w) return () => {};
  const id = stopId();
  const { fd, text } = hardStopReport(err);
  w.postMessage({ id, ms: Math.max(0, deadline - performance.now()) + HARD_STOP_GRACE_MS, fd, text, code: err.exitCode });
  let armed = true;
  return () => {
    if (!armed) return;
    armed = false;
    w.postMessage({ id });
  };
}

/**
 * Arms the hard stop over a whole run, loading and executing (the metered runner's
 * callers: `fledge wasm run` and plugin runs), with the exact error the run reports on
 * its deadline. While it is held, loading arms nothing of its own (see prepared.ts).
 */
export function holdRunDeadline(deadline: number | null, err: FledgeError): () => void {
  const disarm = armHardLoadWatchdog(deadline, err);
  runHolds++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    runHolds--;
    disarm();
  };
}

/** True while a run's hard stop is held: the loading step's own would only duplicate it. */
export function runDeadlineHeld(): boolean {
  return runHolds > 0;
}

let abandoned = 0;
const settle = (): void => void abandoned--;

/** True while a compile abandoned at the deadline still runs: the CLI then exits at once instead of waiting for it. */
export function abandonedLoadWork(): boolean {
  return abandoned > 0;
}

/**
 * The load-time watchdog: compilation (WebAssembly.compile runs on engine threads, so
 * timers still fire) loses the race against the run's deadline. The caller exits with
 * the time-limit code; process exit ends the compile threads with it.
 */
export async function withinDeadline<T>(work: Promise<T>, deadline: number | null, stop: () => Error): Promise<T> {
  if (deadline === null) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // The engine cannot cancel a compile; it is abandoned and keeps the event loop
      // alive until the process exits (see abandonedLoadWork, used by src/main.ts).
      abandoned++;
      work.then(settle, settle);
      reject(stop());
    }, Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work, watchdog]);
  } finally {
    clearTimeout(timer);
  }
}
