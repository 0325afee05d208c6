/**
 * fledge-v1 host services shared by native and wasm plugins:
 * the message format, the dispatcher that enforces granted capabilities, the store,
 * exec, metadata, prompts and console services, the native runner and the `fledge`
 * wasm import module.
 */
export { runNativePlugin, CANCEL_GRACE_MS, type NativePluginEntry, type RunNativeOptions } from "./native.ts";
export {
  dispatchMessage,
  dispatchMessageSync,
  planMessage,
  NOT_GRANTED_EXEC,
  type HostContext,
  type Plan,
  type Reply,
} from "./dispatcher.ts";
export {
  buildInit,
  cancelMessage,
  encodeLine,
  parseMessage,
  responseMessage,
  validateMessage,
  PROTOCOL,
  type BuildInitOptions,
  type CancelMessage,
  type HostMessage,
  type InitMessage,
  type ParseResult,
  type PluginMessage,
  type RequestId,
  type ResponseMessage,
} from "./messages.ts";
export { detectProject, findProjectRoot, type GitInfo, type ProjectInfo } from "./project.ts";
export { PluginConsole, processIO, type HostIO } from "./console.ts";
export { storeGet, storeSet, checkStoreKey, STORE_LIMITS } from "./store.ts";
export { runExec, resolveExecCwd, execTimeoutMs, EXEC_LIMITS, type ExecRequest, type ExecResult } from "./exec.ts";
export { runExecSync } from "./exec-sync.ts";
export { collectMetadata, filterEnv, ENV_ALLOWLIST, METADATA_KEYS } from "./metadata.ts";
export { answerInteractive, answerInteractiveSync, nonInteractiveAnswer, validateAnswer, PromptCancelled } from "./prompts.ts";
export {
  createFledgeImports,
  checkModuleImports,
  fledgeImportsFor,
  FledgeImportError,
  FLEDGE_MODULE,
  ALWAYS_LINKED,
  CAPABILITY_IMPORTS,
  MAX_GUEST_MESSAGE_BYTES,
  type FledgeImports,
  type FledgeImportsOptions,
  type FledgeImportName,
  type HostFunction,
} from "./wasm-imports.ts";
export {
  runWasmPlugin,
  pluginLimits,
  pluginPreopens,
  pluginDataDir,
  sandboxOptions,
  preparePluginModule,
  pluginHostVersion,
  stderrLines,
  syncProcessIO,
  PLUGIN_LIMIT_DEFAULTS,
  type PluginLimits,
  type PreparedPlugin,
  type WasmPluginOptions,
} from "./wasm-runner.ts";
export {
  runPluginCommand,
  resolvePluginCommand,
  locateCommandBinary,
  checkIntegrity,
  chooseRunner,
  commandNotFound,
  installedCommands,
  type DispatchOptions,
  type PluginRunner,
  type ResolvedCommand,
} from "./dispatch.ts";
