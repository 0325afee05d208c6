import { writeSync } from "node:fs";
import { FledgeError } from "../core/errors.ts";
import { jsonText, terminalText } from "./sanitize.ts";

/** The JSON envelope version every `--json` object carries. */
export const SCHEMA_VERSION = 1;

let stream: NodeJS.WriteStream | undefined;

/**
 * process.stdout, with fledge's closed-pipe rule attached on first use: a reader that
 * went away (`fledge plugins list | head -1`) ends fledge quietly with exit 0 instead
 * of an exception. Touching process.stdout makes the runtime build its stream
 * machinery (milliseconds at start-up), so nothing does until output needs it.
 */
export function stdoutStream(): NodeJS.WriteStream {
  if (!stream) {
    stream = process.stdout;
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(0);
    });
  }
  return stream;
}

/**
 * process.stdout for a writer with its own closed-pipe handling (a plugin's output):
 * from now on fledge's own output goes through the stream too, so nothing overtakes
 * what it still buffers; fledge's exit-0 rule is not attached here.
 */
export function adoptStdoutStream(): NodeJS.WriteStream {
  stream ??= process.stdout;
  return stream;
}

/**
 * Write to stdout. Until something needed the stream, a plain write(2) on fd 1 (in
 * order with a guest's own writes, which also go straight to the fd); once the stream
 * exists, always the stream, so nothing overtakes text it still buffers. A full
 * non-blocking pipe hands the rest to the stream; a closed one ends fledge with exit 0.
 */
export function writeStdout(text: string): void {
  if (stream) {
    stream.write(text);
    return;
  }
  let buf = Buffer.from(text, "utf8");
  try {
    while (buf.length > 0) buf = buf.subarray(writeSync(1, buf));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EPIPE") process.exit(0);
    if (code !== "EAGAIN") throw e;
    stdoutStream().write(buf);
  }
}

/**
 * Results go to stdout and nowhere else; logs live in ./log.ts and go to stderr.
 * The text passes the terminal backstop (./sanitize.ts): no raw control character,
 * bidi control or invisible character reaches stdout, even one a caller forgot to escape.
 */
export function printResult(text: string): void {
  const safe = terminalText(text);
  writeStdout(safe.endsWith("\n") ? safe : `${safe}\n`);
}

/** Only for text fledge produced entirely and coloured itself (help screens). */
export function printTrusted(text: string): void {
  writeStdout(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: Record<string, unknown>): void {
  writeStdout(`${jsonText({ schema_version: SCHEMA_VERSION, ...value })}\n`);
}

export function errorEnvelope(err: FledgeError): Record<string, unknown> {
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.hint) error.hint = err.hint;
  if (err.details !== undefined) error.details = err.details;
  return { schema_version: SCHEMA_VERSION, error };
}
