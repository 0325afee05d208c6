// FledgeError, EXIT and redaction live in src/core; re-exported so existing imports keep working.
export { FledgeError, usageError, isFledgeError } from "../core/errors.ts";
export { EXIT, type ExitCode } from "../core/exit-codes.ts";
export { canPrompt, debugEnabled, envFlag, setDebug, setNonInteractive, useColor } from "./env.ts";
export { printResult, printTrusted, printJson, errorEnvelope, stdoutStream, stdoutStreamOutlivingReader, writeStdout, SCHEMA_VERSION } from "./output.ts";
export { log, resetLog, type Logger } from "./log.ts";
export { suggest } from "../core/suggest.ts";
export { renderUntrusted, terminalText, jsonText, createSanitizer, sanitizeOutput, type Sanitizer, type GuestProfile } from "./sanitize.ts";
export { confirm, confirmOutcome, feedKeys, interruptedError, type ConfirmOutcome, type ConfirmIO, type KeyState } from "./prompt.ts";
export { redactUrl, redactUrls } from "../core/redact.ts";
export { chooseOutcome, feedChoice, type ChooseOutcome } from "./choose.ts";
