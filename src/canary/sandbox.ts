import { runCommand } from "../wasi/index.ts";
import type { SandboxRunner } from "./index.ts";

/**
 * The zero-capability plugin sandbox (contract section 9): no arguments, no
 * environment, no preopened directories, empty stdin, stderr captured.
 */
export const runZeroCapabilitySandbox: SandboxRunner = async (bytes, onStdout) => {
  const module = await WebAssembly.compile(bytes);
  const { exitCode } = await runCommand(module, {
    args: [],
    env: [],
    preopens: [],
    stdin: "empty",
    stdout: onStdout,
    stderr: () => {},
    deadline: performance.now() + 60_000,
  });
  return exitCode;
};
