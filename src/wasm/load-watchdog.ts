/**
 * The hard half of the load-time deadline. Instrumenting a module is synchronous
 * JavaScript, so no timer on the main thread can fire while it runs; this watchdog
 * runs on its own thread and, if loading is still under way shortly after the run's
 * deadline, writes the time-limit message and ends the whole process with the
 * time-limit exit code through libc's _exit (process.exit in a worker ends only the
 * worker). Only the CLI entry (src/main.ts) enables it: in-process callers (tests,
 * embedders) get the async watchdog of prepared.ts and the check after preparing.
 */
import type { FledgeError } from "../core/index.ts";

/** Grace after the deadline, so the main thread's own (async) stop reports first when it can. */
export const HARD_STOP_GRACE_MS = 200;

let enabled = false;

/** Called once by the CLI entry point. */
export function enableHardLoadWatchdog(): void {
  enabled = true;
}

const WORKER_SOURCE = `
const { writeSync } = require("node:fs");
onmessage = (ev) => {
  const { ms, text, code } = ev.data;
  setTimeout(() => {
    try { writeSync(2, text); } catch {}
    try {
      const { dlopen, FFIType } = require("bun:ffi");
      for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so", "libSystem.B.dylib"]) {
        try { dlopen(name, { _exit: { args: [FFIType.i32], returns: FFIType.void } }).symbols._exit(code); } catch {}
      }
    } catch {}
    process.kill(process.pid, "SIGKILL");
  }, ms);
};`;

/**
 * Arms the hard stop for `deadline` (a performance.now() timestamp) with the error the
 * run would report; returns the disarm function (call it when loading is done).
 */
export function armHardLoadWatchdog(deadline: number | null, err: FledgeError): () => void {
  if (!enabled || deadline === null) return () => {};
  let worker: Worker;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
  } catch {
    return () => {}; // no worker threads: the async watchdog still applies
  }
  worker.unref();
  const text = `\n ERROR  ${err.message}\n${err.hint ? `\nℹ ${err.hint}\n` : ""}`;
  worker.postMessage({ ms: Math.max(0, deadline - performance.now()) + HARD_STOP_GRACE_MS, text, code: err.exitCode });
  return () => worker.terminate();
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
