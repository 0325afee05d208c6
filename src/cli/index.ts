import { defineCommand } from "citty";
import { FLEDGE_VERSION } from "../version.ts";
import { versionLine } from "./version.ts";
import { fsErrorToFledge } from "../ui/fs-errors.ts";
import { jsonText, stripAnsi, terminalText } from "../ui/sanitize.ts";
import { EXIT, FledgeError, isFledgeError, isTerminal, redactUrls, usageError } from "../core/index.ts";
import { debugEnabled, useColor, errorEnvelope, log, printResult, printTrusted, setNonInteractive, stdoutStream, writeStdout } from "../ui/index.ts";
import { BUILTIN_COMMANDS, type BuiltinTopCommand } from "../manifest/commands.ts";
import { declareAliases, resolve, runLeaf } from "./framework.ts";
import { renderHelp } from "./help.ts";
import { terminalColumns } from "../ui/table.ts";
import { setHardStopReport } from "../wasm/load-watchdog.ts";

export const root = declareAliases(defineCommand({
  meta: {
    name: "fledge",
    version: FLEDGE_VERSION,
    description: "Install plugins from GitHub and run them in a sandbox. Global: --non-interactive or --ni (never prompt).",
  },
  subCommands: {
    plugins: () => import("./plugins.ts").then((m) => m.default),
    trust: () => import("./trust.ts").then((m) => m.default),
    hooks: () => import("./hooks.ts").then((m) => m.default),
    wasm: () => import("./wasm.ts").then((m) => m.default),
    cache: () => import("./cache.ts").then((m) => m.default),
    completion: () => import("./completion.ts").then((m) => m.default),
    canary: () => import("./canary.ts").then((m) => m.default),
  } satisfies Record<BuiltinTopCommand, unknown>, // exactly manifest's list: a plugin command of these names is shadowed
}), { plugin: "plugins" });

export { versionLine } from "./version.ts";

/** Run the CLI; returns the process exit code instead of exiting, so tests can call it. */
export async function main(argv: readonly string[]): Promise<number> {
  // Whether fledge's own arguments asked for JSON; `resolve` keeps a guest's tail
  // (`fledge wasm run m.wasm --json`) and a plugin's arguments out of it.
  const seen = { json: false };
  let json: boolean | undefined;
  try {
    const r = await resolve(root, argv, seen);
    if ("unknown" in r) {
      // Not a built-in: dispatch to the installed plugin that owns the command. Its
      // arguments (even --json) are the plugin's, so fledge's own errors stay plain.
      json = false;
      if (r.nonInteractive) setNonInteractive(true);
      const builtins = BUILTIN_COMMANDS;
      // A reader that closes stdout early ends fledge with exit 0, as for built-ins.
      stdoutStream();
      const { runPluginCommand } = await import("../host/dispatch.ts");
      return await runPluginCommand(r.unknown, r.rest, { builtins });
    }
    json = r.json;
    // A run's hard deadline stop (its own thread) reports as this command reports errors.
    setHardStopReport(json ? (err) => ({ fd: 1, text: `${jsonText(errorEnvelope(err))}\n` }) : null);
    if (r.nonInteractive) setNonInteractive(true);
    if (r.path.length === 0 && (r.args.includes("--version") || r.args.includes("-v") || r.args.includes("-V"))) {
      printResult(versionLine());
      return EXIT.ok;
    }
    if (r.help || (r.cmd.subCommands && r.path.length === 0)) {
      printTrusted(await helpFor(r.cmd, r.path, 1));
      return EXIT.ok;
    }
    if (r.cmd.subCommands) {
      process.stderr.write(`${await helpFor(r.cmd, r.path, 2)}\n`);
      throw usageError(`'fledge ${r.path.join(" ")}' needs a sub-command`, `run 'fledge ${r.path.join(" ")} --help' to see them`);
    }
    const result = await runLeaf(r.cmd, r.args, r.tail);
    return typeof result === "number" ? result : EXIT.ok;
  } catch (e) {
    return reportError(e, json ?? seen.json);
  }
}

/** Help laid out for the terminal it goes to (fd 1 or 2): its width and colour (plain with NO_COLOR or on a pipe). */
async function helpFor(cmd: Parameters<typeof renderHelp>[0], path: readonly string[], fd: 1 | 2): Promise<string> {
  const tty = isTerminal(fd);
  const color = useColor({ isTTY: tty });
  // The stream is only touched on a terminal, to learn its width (stdout is built lazily).
  const text = await renderHelp(cmd, path, tty ? terminalColumns(fd === 1 ? process.stdout : process.stderr) : terminalColumns({ isTTY: false }), color);
  return color ? text : terminalText(stripAnsi(text));
}

/** Report an error as every fledge command does (stderr, or a JSON envelope on stdout); returns its exit code. */
export function reportError(e: unknown, json: boolean): number {
  const err = toFledgeError(e);
  if (json) {
    writeStdout(`${jsonText(errorEnvelope(err))}\n`);
  } else {
    log.error(err.message);
    if (err.hint) log.info(err.hint);
  }
  if (debugEnabled()) process.stderr.write(terminalText(redactUrls(stackReport(err))));
  return err.exitCode;
}

/**
 * For --debug / FLEDGE_DEBUG: the stack of the error and of each error it was caused
 * by, on stderr (stdout keeps its JSON). Shown escaped (a message may hold untrusted
 * text) and with URLs redacted (a cause's message may hold a signed URL).
 */
export function stackReport(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && !seen.has(e) && parts.length < 8; e = e instanceof Error ? e.cause : undefined) {
    seen.add(e);
    const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    parts.push(parts.length === 0 ? text : `caused by: ${text}`);
  }
  return `${parts.join("\n")}\n`;
}

function toFledgeError(e: unknown): FledgeError {
  if (isFledgeError(e)) return e;
  if (e instanceof Error && e.name === "CLIError") {
    // citty's own argument errors (missing positional, bad enum value) are usage errors.
    return usageError(stripAnsi(e.message), "run the command with --help to see its arguments");
  }
  // The user's disk (a file where a folder belongs, read-only, full) is not a bug.
  const fs = fsErrorToFledge(e);
  if (fs) return fs;
  const message = e instanceof Error ? e.message : String(e);
  const hint = debugEnabled() ? "this is a bug in fledge; please report it with the command you ran and the stack below" : "this is a bug in fledge; please report it with the command you ran (run it again with --debug, or FLEDGE_DEBUG=1, for the stack)";
  return new FledgeError(`internal error: ${message}`, { code: "internal", exitCode: EXIT.error, hint, cause: e });
}
