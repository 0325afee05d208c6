import { EXIT } from "./exit-codes.ts";
import { redactUrls } from "./redact.ts";

export interface FledgeErrorOptions {
  code?: string;
  exitCode?: number;
  hint?: string;
  details?: unknown;
  /** The error this one explains (kept for `--debug`, never shown by default). */
  cause?: unknown;
}

/** Every failure fledge reports on purpose. `code` is the stable machine-readable id used in JSON envelopes. */
export class FledgeError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(message: string, opts: FledgeErrorOptions = {}) {
    // Any URL in any error loses its userinfo and query: the class, not each call site.
    super(redactUrls(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "FledgeError";
    this.code = opts.code ?? "error";
    this.exitCode = opts.exitCode ?? EXIT.error;
    this.hint = opts.hint === undefined ? undefined : redactUrls(opts.hint);
    this.details = opts.details;
  }
}

/** A mistake in how fledge was called (bad flag, unknown command): exit 2. */
export function usageError(message: string, hint?: string): FledgeError {
  return new FledgeError(message, { code: "usage", exitCode: EXIT.usage, hint });
}

export function isFledgeError(e: unknown): e is FledgeError {
  return e instanceof FledgeError;
}
