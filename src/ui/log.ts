import type { ConsolaInstance, ConsolaReporter, LogObject } from "consola";
import { useColor } from "./env.ts";
import { terminalText } from "./sanitize.ts";
import { boundedTerminalStream } from "./terminal-write.ts";

/**
 * The one logger. consola writes to stderr only, so stdout stays clean for results
 * and plugin output. Colour follows NO_COLOR and whether stderr is a TTY. On a
 * terminal nobody reads (a stalled `script`, a paused pager) a message is dropped
 * after a bounded wait rather than holding fledge (./terminal-write.ts).
 *
 * Built on first use: creating consola (and touching process.stderr, which makes the
 * runtime build its stream machinery) costs milliseconds that `fledge --version` and
 * a quiet `wasm run` never need. consola is loaded with a synchronous require so the
 * logger keeps its synchronous interface.
 */
export interface Logger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  success(...args: unknown[]): void;
  start(...args: unknown[]): void;
  log(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

let instance: ConsolaInstance | undefined;

/** consola's level for info messages (LogLevels.info): errors, warnings, info, success. */
const INFO_LEVEL = 3;

function consola(): ConsolaInstance {
  if (instance) return instance;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createConsola } = require("consola") as typeof import("consola");
  const stderr = boundedTerminalStream(process.stderr, 2);
  // `fancy` is read by consola's node entry (its types there declare it; the core types do not).
  const options: Parameters<typeof createConsola>[0] & { fancy: boolean } = {
    // Info and up, always: consola would drop to warnings only (losing every hint) when
    // NODE_ENV=test or TEST is set, which is the user's project setting, not fledge's.
    level: INFO_LEVEL,
    // consola's own choice reads CI/NODE_ENV/TEST once, when its module first loads;
    // decided here from the environment of the run that builds the logger instead.
    fancy: !(envSet("CI") || envSet("TEST") || process.env.NODE_ENV === "test"),
    stdout: stderr,
    stderr,
    formatOptions: { colors: useColor(process.stderr), date: false, compact: true },
  };
  const c = createConsola(options);
  const inner: ConsolaReporter[] = [...c.options.reporters];
  c.setReporters([
    {
      log(logObj: LogObject, ctx) {
        const guarded = { ...logObj, args: logObj.args.map(guardArg) } as LogObject;
        if (typeof logObj.message === "string") guarded.message = terminalText(logObj.message);
        if (typeof logObj.additional === "string") guarded.additional = terminalText(logObj.additional);
        for (const r of inner) r.log(guarded, ctx);
      },
    },
  ]);
  instance = c;
  return c;
}

function envSet(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== "" && v !== "false" && v !== "0";
}

/**
 * Forget the logger so the next message builds it for the current environment and
 * stderr. A run of main() inside another process (tests/helpers/inproc.ts) calls this:
 * the environment it runs with is not the one the first logger was built in.
 */
export function resetLog(): void {
  instance = undefined;
}

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

export const log: Logger = {
  error: (...a) => consola().error(...(a as [unknown])),
  warn: (...a) => consola().warn(...(a as [unknown])),
  info: (...a) => consola().info(...(a as [unknown])),
  success: (...a) => consola().success(...(a as [unknown])),
  start: (...a) => consola().start(...(a as [unknown])),
  log: (...a) => consola().log(...(a as [unknown])),
  debug: (...a) => consola().debug(...(a as [unknown])),
};
