import { FledgeError } from "../core/errors.ts";
import { jsonText, terminalText } from "./sanitize.ts";

/** The JSON envelope version every `--json` object carries. */
export const SCHEMA_VERSION = 1;

/**
 * Results go to stdout and nowhere else; logs live in ./log.ts and go to stderr.
 * The text passes the terminal backstop (./sanitize.ts): no raw control character,
 * bidi control or invisible character reaches stdout, even one a caller forgot to escape.
 */
export function printResult(text: string): void {
  const safe = terminalText(text);
  process.stdout.write(safe.endsWith("\n") ? safe : `${safe}\n`);
}

/** Only for text fledge produced entirely and coloured itself (help screens). */
export function printTrusted(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: Record<string, unknown>): void {
  process.stdout.write(`${jsonText({ schema_version: SCHEMA_VERSION, ...value })}\n`);
}

export function errorEnvelope(err: FledgeError): Record<string, unknown> {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.hint) error.hint = err.hint;
  if (err.details !== undefined) error.details = err.details;
  return { schema_version: SCHEMA_VERSION, error };
}
