import { createConsola, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola";
import { useColor } from "./env.ts";
import { terminalText } from "./sanitize.ts";
import { boundedTerminalStream } from "./terminal-write.ts";

/**
 * The one logger. consola writes to stderr only, so stdout stays clean for results
 * and plugin output. Colour follows NO_COLOR and whether stderr is a TTY. On a
 * terminal nobody reads (a stalled `script`, a paused pager) a message is dropped
 * after a bounded wait rather than holding fledge (./terminal-write.ts).
 */
const stderr = boundedTerminalStream(process.stderr, 2);
export const log: ConsolaInstance = createConsola({
  stdout: stderr,
  stderr,
  formatOptions: { colors: useColor(process.stderr), date: false, compact: true },
});

/** Message text through the terminal backstop before consola adds its own (trusted) colours. */
function guardArg(arg: unknown): unknown {
  if (typeof arg === "string") return terminalText(arg);
  if (arg instanceof Error) {
    const copy = new Error(terminalText(arg.message));
    copy.stack = arg.stack === undefined ? undefined : terminalText(arg.stack);
    return copy;
  }
  return arg;
}

const inner: ConsolaReporter[] = [...log.options.reporters];
log.setReporters([
  {
    log(logObj: LogObject, ctx) {
      const guarded = { ...logObj, args: logObj.args.map(guardArg) } as LogObject;
      if (typeof logObj.message === "string") guarded.message = terminalText(logObj.message);
      if (typeof logObj.additional === "string") guarded.additional = terminalText(logObj.additional);
      for (const r of inner) r.log(guarded, ctx);
    },
  },
]);
