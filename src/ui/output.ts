import { FledgeError } from "./errors.ts";

/** The JSON envelope version every `--json` object carries. */
export const SCHEMA_VERSION = 1;

/** Results go to stdout and nowhere else; logs live in ./log.ts and go to stderr. */
export function printResult(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ schema_version: SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

export function errorEnvelope(err: FledgeError): Record<string, unknown> {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.hint) error.hint = err.hint;
  if (err.details !== undefined) error.details = err.details;
  return { schema_version: SCHEMA_VERSION, error };
}
