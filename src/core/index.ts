/**
 * What every layer may use: fledge's error type, its exit codes, URL redaction,
 * process probes and the flags wasm guests are built with. This folder imports nothing else from src/, so any layer can depend
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
export { readRegularFile } from "./read-file.ts";
export {
  C_OPTIMIZE,
  DEFAULT_WASI_SYSROOT,
  REPO_C_STD,
  REPO_C_WARNINGS,
  RUST_RELEASE_PROFILE,
  RUST_WASI_TARGETS,
  WASI_C_TARGET,
  cargoWasmCommand,
  rustWasiTarget,
  wasiClangCommand,
  wasiClangFlags,
  wasiClangTargetFlags,
  type RustWasiTarget,
} from "./guest-toolchain.ts";
