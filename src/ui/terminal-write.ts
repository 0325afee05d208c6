/**
 * Writes to a terminal that cannot block fledge for longer than it allows.
 *
 * A write(2) to a terminal blocks until the terminal takes all of it, and poll(2)
 * only promises some room, not a piece's worth. A terminal whose reader stopped (a
 * paused `script … | sleep`, a suspended pager, a full tmux pane) would then hold
 * fledge for as long as it likes: past a run's deadline with a guest's output, or at
 * the end with fledge's own error message. So deadline-bounded writers go through
 * {@link nonBlockingTerminal}, and fledge's logger through {@link boundedTerminalStream}.
 */
import { constants as fsConstants, openSync, writeSync } from "node:fs";
import { isTerminal } from "../core/tty.ts";

/** How long fledge's own message may wait for a terminal that takes nothing at all. */
export const TERMINAL_STALL_MS = 2_000;

/** Non-blocking descriptions of our terminals, opened once per fd. */
const writers = new Map<number, number>();

/**
 * The terminal on `fd` opened again (a new open file description, so the shell's own
 * fd stays blocking) with O_NONBLOCK: a full terminal answers EAGAIN instead of
 * blocking, and the writer goes back to its bounded wait. Not a terminal, or /proc
 * unavailable: `fd` itself.
 */
export function nonBlockingTerminal(fd: number): number {
  const known = writers.get(fd);
  if (known !== undefined) return known;
  let out = fd;
  if (isTerminal(fd)) {
    try {
      out = openSync(`/proc/self/fd/${fd}`, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
    } catch {
      out = fd;
    }
  }
  writers.set(fd, out);
  return out;
}

/**
 * Write all of `text` to the terminal on `fd`, waiting while it takes nothing for at
 * most `stallMs` in a row; after that the rest is dropped (a message nobody reads).
 */
export function writeTerminalBounded(fd: number, text: string, stallMs: number = TERMINAL_STALL_MS): void {
  const out = nonBlockingTerminal(fd);
  let buf = Buffer.from(text, "utf8");
  let stalled = 0;
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(out, buf));
      stalled = 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN" || stalled >= stallMs) return;
      Bun.sleepSync(5);
      stalled += 5;
    }
  }
}

/**
 * `stream` (process.stderr) for a logger: on a terminal, its writes go through
 * {@link writeTerminalBounded}; everything else (isTTY, columns, events) is the
 * stream's own. Not a terminal: the stream unchanged (pipes and files never stall
 * fledge's last words the same way; a closed pipe is EPIPE).
 */
export function boundedTerminalStream(stream: NodeJS.WriteStream, fd: number): NodeJS.WriteStream {
  if (!stream.isTTY) return stream;
  return new Proxy(stream, {
    get(target, key) {
      if (key === "write") {
        return (chunk: unknown): boolean => {
          writeTerminalBounded(fd, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
          return true;
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
