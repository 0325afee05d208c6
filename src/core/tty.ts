/**
 * Whether a file descriptor is a terminal, without loading `node:tty`: that module
 * brings in the runtime's stream machinery and costs a compiled fledge about 5 ms of
 * CPU time at start, for a question the runtime answers natively. Bun's `tty_wrap`
 * binding (as Node's) gives the same isatty(3) answer; `node:tty` is the fallback for
 * a runtime without it.
 */
import type * as Tty from "node:tty";

type TtyBinding = { isTTY(fd: number): boolean };

let probe: ((fd: number) => boolean) | undefined;

export function isTerminal(fd: number): boolean {
  if (!probe) {
    try {
      const binding = process.binding("tty_wrap") as Partial<TtyBinding>;
      if (typeof binding.isTTY === "function") probe = (n) => binding.isTTY!(n) === true;
    } catch {}
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    probe ??= (require("node:tty") as typeof Tty).isatty;
  }
  return probe(fd);
}
