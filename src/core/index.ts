/**
 * What every layer may use: fledge's error type, its exit codes, URL redaction and
 * process probes. This folder imports nothing else from src/, so any layer can depend
 * on it without pulling in the terminal (consola) or the registry.
 */
export { FledgeError, usageError, isFledgeError, type FledgeErrorOptions } from "./errors.ts";
export { EXIT, type ExitCode } from "./exit-codes.ts";
export { redactUrl, redactUrls } from "./redact.ts";
export { hostTag, isThisHost, ownerGone, pidAlive } from "./process.ts";
export { suggest } from "./suggest.ts";
export { isStrictlyWithin, isWithin } from "./paths.ts";
export { randomBytes, sameBytes, sha256, sha256Hex, type ByteSink, type Sha256 } from "./digest.ts";
export { isTerminal } from "./tty.ts";
