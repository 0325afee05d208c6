/**
 * Waiting on host fds without blocking past the run's deadline.
 *
 * A read from a pipe, FIFO or terminal (and a write to a full pipe) blocks in the
 * kernel for as long as the other side likes: an idle stdin would hold a guest, and
 * fledge with it, past `--timeout`. Before touching such an fd the host waits for it
 * with poll(2) in slices no longer than the time left, and stops the run (through
 * the gate, so the stop cannot be caught by the guest) when the deadline comes.
 *
 * poll comes from libc through bun:ffi (the one loader, ./libc.ts: Linux x64/arm64).
 * Where it cannot be had, {@link pollFd} answers `undefined` and callers fall back
 * to plain reads: files fledge opens itself are O_NONBLOCK (EAGAIN loops with the
 * deadline), but a borrowed blocking stdin can then still block; README says so.
 */
import { isTerminal } from "../core/tty.ts";
import { libc } from "./libc.ts";
import { FILETYPE } from "./types.ts";

const POLLIN = 0x1;
const POLLOUT = 0x4;
/** Longest single poll: the deadline is re-read at least this often. */
const MAX_SLICE_MS = 1_000;

const pollFds = new Int32Array(2);
const pollView = new DataView(pollFds.buffer);

/**
 * poll(2) one fd for reading or writing for at most `timeoutMs`. true = ready (or
 * hung up / in error: the following read or write reports that without blocking),
 * false = timed out, undefined = poll is unavailable here.
 */
export function pollFd(fd: number, write: boolean, timeoutMs: number): boolean | undefined {
  const c = libc();
  if (!c) return undefined;
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, write ? POLLOUT : POLLIN, true);
  pollView.setInt16(6, 0, true);
  const r = c.poll(pollFds, 1, Math.max(0, Math.min(MAX_SLICE_MS, Math.ceil(timeoutMs))));
  if (r < 0) return true; // EINTR and the like: let the read or write itself report
  return r > 0;
}

/**
 * Wait until `fd` is ready, re-checking the deadline between slices; calls
 * `onDeadline` (which stops the run and never returns) when no time is left.
 * Returns false when poll is unavailable (the caller then reads as before).
 */
export function waitReady(fd: number, write: boolean, timeLeft: () => number, onDeadline: () => never): boolean {
  for (;;) {
    const left = timeLeft();
    if (left <= 0) onDeadline();
    const ready = pollFd(fd, write, left === Infinity ? MAX_SLICE_MS : left);
    if (ready === undefined) return false;
    if (ready) return true;
  }
}

/**
 * Like {@link waitReady}, but answers false at the deadline instead of stopping the
 * run: for host output written on the guest's behalf (a plugin's console), which
 * is dropped rather than waited for once the run's time is up.
 */
export function readyBefore(fd: number, write: boolean, timeLeft: () => number): boolean {
  for (;;) {
    const left = timeLeft();
    if (left <= 0) return pollFd(fd, write, 0) !== false;
    const ready = pollFd(fd, write, left === Infinity ? MAX_SLICE_MS : left);
    if (ready === undefined || ready) return true;
  }
}

/**
 * Whether a read or write on `fd` (of this WASI filetype) can wait: pipes, FIFOs,
 * sockets and terminals can; regular files, block devices and directories cannot,
 * nor can character devices that are not terminals (/dev/null, /dev/zero,
 * /dev/urandom), which spares the common `> /dev/null` a poll per write.
 */
export function mayBlock(filetype: number, fd: number): boolean {
  if (filetype === FILETYPE.regular_file || filetype === FILETYPE.block_device || filetype === FILETYPE.directory) return false;
  if (filetype === FILETYPE.character_device) return isTerminal(fd);
  return true;
}
