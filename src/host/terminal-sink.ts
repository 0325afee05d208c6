/**
 * Guest output written synchronously to fledge's own stdout/stderr: the guest runs on
 * this thread, so the event loop cannot drain an async stream until it ends. Kept
 * apart from the plugin runner so `fledge wasm run` loads only this.
 */
import { writeSync } from "node:fs";
import { isTerminal } from "../core/tty.ts";
import { colourLeftOn, createSanitizer, SGR_RESET } from "../ui/sanitize.ts";
import { nonBlockingTerminal } from "../ui/terminal-write.ts";
import { readyBefore, type OutputSink } from "../wasi/index.ts";

/**
 * Synchronous writes with backpressure; a closed reader (EPIPE) loses output, never
 * fledge. With `ready` (a plugin run), each piece first waits for room until the
 * run's deadline, in pieces a pipe takes without blocking; when `ready` says the
 * time is up the rest is dropped, so a reader that never reads cannot hold fledge.
 * A terminal is written through a non-blocking open of it (../ui/terminal-write.ts):
 * poll promises a terminal only some room, and a blocking write of a whole piece
 * would wait for a stalled reader. Answers the byte size of `text` (what fledge made
 * of guest output, charged by fd_write).
 */
export function writeAllSync(fd: number, text: string, ready?: (fd: number) => boolean): number {
  let buf = Buffer.from(text, "utf8");
  const size = buf.length;
  const out = ready ? nonBlockingTerminal(fd) : fd;
  let stalls = 0;
  while (buf.length > 0) {
    if (ready && !ready(fd)) return size;
    try {
      buf = buf.subarray(writeSync(out, buf, 0, ready ? Math.min(buf.length, 4096) : buf.length));
      stalls = 0;
    } catch (e) {
      // Full (a terminal may claim room it does not have for the whole piece): wait and
      // retry; a second of no progress at all ends the attempt, output is dropped.
      if ((e as NodeJS.ErrnoException).code === "EAGAIN" && ++stalls < 1_000) {
        Bun.sleepSync(1);
        continue;
      }
      return size;
    }
  }
  return size;
}

/**
 * A guest's fd 1 or 2 for `fledge wasm run`. On a terminal, output passes the guest
 * sanitizer ("stream" profile: colours and same-line moves, everything else shown
 * escaped). Not a terminal: the bytes are the program's data (a compiler's output, a
 * file being piped) and are passed unchanged, which cannot act on any terminal.
 */
export function terminalSink(fd: 1 | 2): { sink: number | OutputSink; flush: () => void } {
  if (!isTerminal(fd)) return { sink: fd, flush: () => {} };
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const sanitizer = createSanitizer("stream");
  let coloured = false;
  // A terminal whose reader stopped (a paused `script`, a suspended pager) would block
  // a write for as long as it likes: like a pipe, each piece waits for room only until
  // the run's deadline, and after it what does not fit at once is dropped (the final
  // flush included), so fledge ends at the deadline.
  let timeLeft: () => number = () => Infinity;
  const ready = (f: number): boolean => readyBefore(f, true, timeLeft);
  const put = (text: string): number => {
    if (text === "") return 0;
    coloured = colourLeftOn(text, coloured);
    return writeAllSync(fd, text, ready);
  };
  return {
    sink: (chunk, left) => {
      if (left) timeLeft = left;
      return put(sanitizer.write(decoder.decode(chunk, { stream: true })));
    },
    flush: () => {
      put(sanitizer.write(decoder.decode()) + sanitizer.end());
      if (coloured) writeAllSync(fd, SGR_RESET, ready);
    },
  };
}
