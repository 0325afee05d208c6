// Exit codes live in src/core (every layer may use them); kept here for older imports.
export { EXIT, type ExitCode } from "../core/exit-codes.ts";
