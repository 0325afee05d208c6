/** Environment-derived switches shared by every command. */

/** As the original: 1, true, yes, y, on; case-insensitive, surrounding blanks ignored. */
const TRUTHY = new Set(["1", "true", "yes", "y", "on"]);

export function envFlag(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[name];
  return v !== undefined && TRUTHY.has(v.trim().toLowerCase());
}

let forcedDebug = false;

/** Set by the global `--debug` flag. */
export function setDebug(on: boolean): void {
  forcedDebug = on;
}

/** Show the stack of an unexpected error (and of what a FledgeError was caused by): --debug or FLEDGE_DEBUG. */
export function debugEnabled(): boolean {
  return forcedDebug || envFlag("FLEDGE_DEBUG");
}

let forcedNonInteractive = false;

/** Set by the global `--non-interactive` flag. */
export function setNonInteractive(on: boolean): void {
  forcedNonInteractive = on;
}

/** May fledge prompt? Never without a TTY on stdin, never under --non-interactive / FLEDGE_NON_INTERACTIVE. */
export function canPrompt(): boolean {
  if (forcedNonInteractive || envFlag("FLEDGE_NON_INTERACTIVE")) return false;
  return Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY);
}

/** Colour only on a TTY and never with NO_COLOR set (any value, per no-color.org). */
export function useColor(stream: { isTTY?: boolean } = process.stderr): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  return Boolean(stream.isTTY);
}
