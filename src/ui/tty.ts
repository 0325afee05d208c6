/**
 * Whether a file descriptor is a terminal, without loading `node:tty`.
 *
 * In Bun, importing `node:tty` builds the runtime's stream machinery, and touching
 * `process.stdout`/`process.stderr` builds their streams: each costs milliseconds of
 * start-up (measured: about 9 ms for the import alone in the compiled binary) that a
 * command whose output goes to a pipe or a file never needs. The runtime's own
 * `tty_wrap` binding answers the same isatty(3) question for free; `node:tty` is only
 * the fallback for a runtime without it.
 */

interface TtyWrap {
  isTTY(fd: number): boolean;
}

let wrap: TtyWrap | null | undefined;

function ttyWrap(): TtyWrap | null {
  if (wrap !== undefined) return wrap;
  wrap = null;
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
    const b = binding?.call(process, "tty_wrap") as Partial<TtyWrap> | undefined;
    if (b && typeof b.isTTY === "function") wrap = b as TtyWrap;
  } catch {
    // no binding: the fallback below
  }
  return wrap;
}

/** isatty(3) on `fd`. */
export function isTerminal(fd: number): boolean {
  const w = ttyWrap();
  if (w) return Boolean(w.isTTY(fd));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { isatty } = require("node:tty") as typeof import("node:tty");
  return isatty(fd);
}
