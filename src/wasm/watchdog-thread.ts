/**
 * The one thread that ends a CLI run the main thread cannot end itself: a Worker that
 * keeps running while the main thread is stuck in synchronous work (instrumenting,
 * the engine's compile, guest code). It holds two kinds of stop, each armed and
 * disarmed by a message from the main thread:
 *
 * - a deadline (./load-watchdog.ts): a timer; when it fires, the run is over time;
 * - a memory guard (./memory-guard.ts): while at least one is armed, the thread reads
 *   the whole process's resident set every {@link MEMORY_SAMPLE_MS} ms and compares it
 *   with each guard's limit. When no guard is armed, nothing is sampled.
 *
 * Either stop writes the run's own report (prepared by the main thread when it armed
 * the stop, so the thread formats nothing) and ends the whole process with the run's
 * exit code through libc's _exit: process.exit in a worker ends only the worker, and
 * a signal would lose the exit code. Worker threads share the process's memory map,
 * so /proc/self/statm read here is the whole process's resident set, main thread
 * included.
 */

/** How often an armed memory guard samples the resident set. */
export const MEMORY_SAMPLE_MS = 5;

const WORKER_SOURCE = `
const { openSync, readSync, writeSync } = require("node:fs");

function end(fd, text, code) {
  try { writeSync(fd, text); } catch {}
  try {
    const { dlopen, FFIType } = require("bun:ffi");
    for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so", "libSystem.B.dylib"]) {
      try { dlopen(name, { _exit: { args: [FFIType.i32], returns: FFIType.void } }).symbols._exit(code); } catch {}
    }
  } catch {}
  process.kill(process.pid, "SIGKILL");
}

// The resident set in bytes. Linux: the second field of /proc/self/statm (pages),
// read through one fd kept open (one pread a sample, no allocation); the page size is
// taken once from the runtime's own figure, rounded to a power of two. Elsewhere: the
// runtime's figure each time.
let statm;
const buf = new Uint8Array(128);
function residentPages() {
  const n = readSync(statm.fd, buf, 0, buf.length, 0);
  let i = 0;
  while (i < n && buf[i] !== 32) i++;
  let pages = 0;
  for (i++; i < n && buf[i] >= 48 && buf[i] <= 57; i++) pages = pages * 10 + (buf[i] - 48);
  return pages;
}
function rss() {
  if (statm === undefined) {
    statm = null;
    try {
      const s = { fd: openSync("/proc/self/statm", "r"), page: 0 };
      statm = s;
      const pages = residentPages();
      s.page = 2 ** Math.round(Math.log2(process.memoryUsage.rss() / pages));
      if (!(pages > 0 && s.page >= 4096 && s.page <= 1048576)) statm = null;
    } catch { statm = null; }
  }
  return statm ? residentPages() * statm.page : process.memoryUsage.rss();
}

const timers = new Map();
const guards = new Map();
let sampler;
function sample() {
  if (guards.size === 0) return;
  const now = rss();
  for (const g of guards.values()) {
    if (now > g.limit) end(g.fd, Atomics.load(g.phase, 0) === 0 ? g.loading : g.running, g.code);
  }
}

onmessage = (ev) => {
  const m = ev.data;
  if (m.kind === "memory") {
    if (m.limit === undefined) guards.delete(m.id);
    else guards.set(m.id, m);
    if (guards.size === 0) {
      clearInterval(sampler);
      sampler = undefined;
    } else if (sampler === undefined) {
      sampler = setInterval(sample, ${MEMORY_SAMPLE_MS});
    }
    return;
  }
  if (m.ms === undefined) {
    clearTimeout(timers.get(m.id));
    timers.delete(m.id);
    return;
  }
  timers.set(m.id, setTimeout(() => end(m.fd, m.text, m.code), m.ms));
};`;

let enabled = false;

/** Called once by the CLI entry point (through enableHardLoadWatchdog): only then does any stop arm. */
export function enableWatchdogThread(): void {
  enabled = true;
}

let worker: Worker | null | undefined;
let nextId = 0;

/** A fresh id for one armed stop (deadlines and guards share the numbering). */
export function stopId(): number {
  return nextId++;
}

/** The thread, started on first use; null when the CLI did not enable it or worker threads are unavailable. */
export function watchdogThread(): Worker | null {
  if (!enabled) return null;
  if (worker !== undefined) return worker;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
    // An idle thread never keeps the process alive.
    worker.unref();
  } catch {
    worker = null; // no worker threads: the cooperative stops still apply
  }
  return worker;
}
