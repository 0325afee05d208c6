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
 * the stop, so the thread formats nothing) if its output takes it within
 * {@link STOP_WRITE_WAIT_MS} ms (the memory guard's: at once), and ends the whole process with the run's exit code
 * through libc's _exit whatever the output does: process.exit in a worker ends only
 * the worker, and a signal would lose the exit code. Worker threads share the process's memory map,
 * so /proc/self/statm read here is the whole process's resident set, main thread
 * included.
 */

/** How often an armed memory guard samples the resident set. */
export const MEMORY_SAMPLE_MS = 5;

/**
 * The most of a stop's report the thread writes: PIPE_BUF (POSIX's minimum is 512;
 * Linux's is 4096). A pipe that polls writable has room for a write this small, which
 * the kernel makes all or nothing, so the write does not wait for a reader.
 */
export const STOP_REPORT_MAX_BYTES = process.platform === "linux" ? 4096 : 512;

/**
 * How long the deadline's stop waits for its output to become writable before it ends
 * the process without the report. The memory guard's stop does not wait: the main
 * thread may still be allocating (at ~1.4 GiB/s, 100 ms would be 140 MiB past the limit).
 */
export const STOP_WRITE_WAIT_MS = 100;

const WORKER_SOURCE = `
const { openSync, readSync } = require("node:fs");

// Everything a stop calls is loaded here, when the thread starts: loading the FFI and
// libc at stop time took 14-27 MiB (the stop came that far past the limit), and the
// stop must never wait on anything. The report is written through poll + write, never
// a blocking write: fledge's stdout/stderr may be a pipe whose reader stopped reading,
// and a write there would block this thread forever, with the guard and the deadline
// (both on this thread) dead and the process hung. O_NONBLOCK is not set on the fd:
// the open file is shared with the parent shell and whatever else holds it.
let libc = null;
const pollfd = new Uint8Array(8);
const pollView = new DataView(pollfd.buffer);
try {
  const { dlopen, FFIType, ptr } = require("bun:ffi");
  const defs = {
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    alarm: { args: [FFIType.u32], returns: FFIType.u32 },
    _exit: { args: [FFIType.i32], returns: FFIType.void },
  };
  for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so", "libSystem.B.dylib"]) {
    try { libc = { fns: dlopen(name, defs).symbols, ptr }; break; } catch {}
  }
} catch {}

// The report as bytes, at most ${STOP_REPORT_MAX_BYTES} and cut on a character boundary.
function reportBytes(text) {
  let b = new TextEncoder().encode(text);
  if (b.length > ${STOP_REPORT_MAX_BYTES}) {
    let n = ${STOP_REPORT_MAX_BYTES};
    while (n > 0 && (b[n] & 0xc0) === 0x80) n--;
    b = b.subarray(0, n);
  }
  return b;
}

// Ends the process with code, writing the report only if fd takes it within waitMs.
function end(fd, bytes, code, waitMs) {
  if (libc === null) process.kill(process.pid, "SIGKILL"); // no libc: no exit code, but never a hang
  const { fns, ptr } = libc;
  try {
    pollView.setInt32(0, fd, true);
    pollView.setInt16(4, 4 /* POLLOUT */, true);
    pollView.setInt16(6, 0, true);
    const ready = fns.poll(ptr(pollfd), 1, waitMs);
    const revents = pollView.getInt16(6, true);
    // Writable and not hung up or in error (POLLERR 8, POLLHUP 16, POLLNVAL 32).
    if (ready === 1 && (revents & 4) !== 0 && (revents & 56) === 0 && bytes.length > 0) {
      // Last resort should another writer fill the pipe between poll and write: the
      // alarm's default action ends the process (by a signal, without the exit code).
      fns.alarm(2);
      fns.write(fd, ptr(bytes), bytes.length);
    }
  } catch {}
  fns._exit(code);
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
    if (now > g.limit) end(g.fd, Atomics.load(g.phase, 0) === 0 ? g.loading : g.running, g.code, 0);
  }
}

onmessage = (ev) => {
  const m = ev.data;
  if (m.kind === "memory") {
    if (m.limit === undefined) guards.delete(m.id);
    else guards.set(m.id, { limit: m.limit, fd: m.fd, loading: reportBytes(m.loading), running: reportBytes(m.running), code: m.code, phase: m.phase });
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
  const bytes = reportBytes(m.text);
  timers.set(m.id, setTimeout(() => end(m.fd, bytes, m.code, ${STOP_WRITE_WAIT_MS}), m.ms));
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
