import { NO_CAPABILITIES } from "../manifest/types.ts";
import { runWasmPlugin } from "../host/wasm-runner.ts";
import { FLEDGE_VERSION } from "../version.ts";
import type { SandboxRunner } from "./index.ts";

/**
 * The zero-capability plugin sandbox, through the real plugin
 * runner: no arguments, no environment, no preopened directories, empty stdin, only
 * fledge.send/recv/exit linked, metered with the plugin limits. Only where fd 1 and
 * fd 2 go differs: the canary's report is collected from stdout, its stderr dropped.
 * The canary has no plugin directory and no store (store is not granted anyway).
 */
export const runZeroCapabilitySandbox: SandboxRunner = async (bytes, onStdout) => {
  return runWasmPlugin({
    plugin: { name: "canary", version: FLEDGE_VERSION, dir: "" },
    capabilities: { ...NO_CAPABILITIES },
    wasmPath: "canary.wasm",
    bytes,
    args: [],
    stateFile: "",
    stdout: onStdout,
    stderr: () => {},
    noCache: true,
  });
};
