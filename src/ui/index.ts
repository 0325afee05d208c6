export { FledgeError, usageError, isFledgeError } from "./errors.ts";
export { EXIT, type ExitCode } from "./exit-codes.ts";
export { canPrompt, envFlag, setNonInteractive, useColor } from "./env.ts";
export { printResult, printTrusted, printJson, errorEnvelope, SCHEMA_VERSION } from "./output.ts";
export { log } from "./log.ts";
export { suggest } from "./suggest.ts";
export { renderUntrusted, terminalText, jsonText, createSanitizer, sanitizeOutput, type Sanitizer, type GuestProfile } from "./sanitize.ts";
export { confirm, confirmOutcome, feedKeys, interruptedError, type ConfirmOutcome, type ConfirmIO, type KeyState } from "./prompt.ts";
export { redactUrl, redactUrls } from "./redact.ts";
