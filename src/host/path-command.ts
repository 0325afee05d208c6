/**
 * Git-style dispatch: `fledge foo` runs an executable `fledge-foo` found on PATH when
 * no built-in and no installed plugin provides `foo` (as the original and git do).
 *
 * Such a program was never installed, consented to or hashed by fledge: it is the
 * user's own native code and runs unconfined with their full rights. fledge says so on
 * stderr every time it runs one, and the lookup is the last resort, so a `fledge-plugins`
 * dropped somewhere on PATH can never take over `fledge plugins`, and a `fledge-<cmd>`
 * can never shadow a command an installed plugin owns (the caller checks both first).
 */
import { findProgram } from "../core/programs.ts";
import { FledgeError, log } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { exitStatus } from "./exec.ts";

/** Names that may become `fledge-<name>`: a word, never a path, never a control character. */
const PATH_COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** THE rule for which names may be looked up on PATH at all. */
export function isPathCommandName(name: string): boolean {
  return name.length <= 128 && PATH_COMMAND_NAME.test(name) && !name.includes("..");
}

/**
 * THE PATH lookup: the first `fledge-<name>` that is an executable regular file in an
 * absolute PATH entry. Relative and empty entries (which mean "the current folder",
 * wherever the user happens to stand) are skipped, so a checked-out repository can
 * never plant a command.
 */
export function findPathCommand(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!isPathCommandName(name)) return undefined;
  return findProgram(`fledge-${name}`, env.PATH);
}

/** Run a PATH command with the user's stdio, arguments verbatim; resolves to its exit code. */
export async function runPathCommand(name: string, file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  log.warn(`running ${renderUntrusted(file)}: a native program found on PATH, not an installed plugin; it runs unconfined with your full user rights (fledge did not install or check it)`);
  let proc: Bun.Subprocess;
  try {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    proc = Bun.spawn([file, ...args], { stdio: ["inherit", "inherit", "inherit"], env: childEnv });
  } catch (e) {
    throw new FledgeError(`cannot start ${renderUntrusted(file)} for 'fledge ${renderUntrusted(name)}': ${renderUntrusted((e as Error).message)}`, { cause: e, code: "plugin_spawn_failed" });
  }
  // Ctrl+C reaches the child through the terminal; fledge waits to report its code.
  const hold = (signal: NodeJS.Signals): void => {
    if (signal !== "SIGINT") proc.kill(signal);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, hold);
  try {
    await proc.exited;
  } finally {
    for (const s of signals) process.off(s, hold);
  }
  return exitStatus(proc.exitCode, proc.signalCode);
}
