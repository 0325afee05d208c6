/**
 * The wasm part: a binary reader/writer and the instrumentation that enforces fuel,
 * deadline, memory and table limits. Data flows: cli → host → wasm → wasi; wasm imports
 * only wasi and core (tests/architecture.test.ts checks every edge).
 */
export { parseModule } from "./parse.ts";
export { encodeModule } from "./encode.ts";
export { decodeCode, encodeCode, skipInstr, type Instr } from "./code.ts";
export { decodeModule, validateBody, type BodyCounts, type BodyEnv } from "./decoder.ts";
export { MODULE_CAPS, DECODER_VERSION, TABLE_ELEMENTS_DEFAULT, TABLE_ELEMENTS_HARD, type ModuleCap } from "./caps.ts";
export { emptyModule, SEC } from "./module.ts";
export type {
  Module,
  FuncType,
  Limits,
  TableType,
  GlobalType,
  Import,
  ImportDesc,
  Export,
  Global,
  ElementSegment,
  DataSegment,
  FunctionBody,
  CustomSection,
  ValType,
} from "./module.ts";
export {
  instrument,
  METER_MODULE,
  REFUEL_NAME,
  FUEL_EXPORT,
  INSTRUMENTER_VERSION,
  DEFAULT_MAX_TABLE_ELEMENTS,
  type InstrumentOptions,
  type InstrumentResult,
  type InstrumentStats,
  type ImportInfo,
  type ExportInfo,
} from "./instrument.ts";
export { createMeter, type Meter, type MeterOptions, type StopReason, type WasmImports, type WasmExports } from "./meter.ts";
export { limitError, parseSize, formatSize, pluginLimits, DEFAULT_LIMITS, PAGE_SIZE, type LimitReason, type LimitValues, type LimitsConfig, type PluginLimits, type RunLimits } from "./limits.ts";
export { refuseFeature } from "./errors.ts";
export { prepareModule } from "./prepare.ts";
export { runModuleFile, runPrepared, runLoadedModule, type HostLink, type RunLoadedOptions, type RunModuleOptions, type RunModuleResult } from "./run.ts";
export { abandonedLoadWork, checkPreparedSize, preparedSizeCap, PREPARED_CAP, withinDeadline } from "./prepared.ts";
export { enableHardLoadWatchdog } from "./load-watchdog.ts";
export { holdRunMemory, memoryGuardError, memoryGuardLimit, HOST_MEMORY_ALLOWANCE, UNLIMITED_GUEST_MEMORY, type GuardPhase, type GuardWording, type MemoryHold } from "./memory-guard.ts";
export { MEMORY_SAMPLE_MS } from "./watchdog-thread.ts";
