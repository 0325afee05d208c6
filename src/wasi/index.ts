/**
 * fledge's own WASI preview 1 host. One file per concern:
 * errno.ts (errno table + host error mapping), types.ts (flags, rights, layouts),
 * memory.ts (bounds-checked guest memory), fdtable.ts (fds, rights gate, renumber),
 * hostfs.ts + resolve.ts (containment under a preopen), readonly.ts (the read-only
 * gate), fns-*.ts and poll.ts (the 46 functions), host.ts (createWasi), run.ts.
 */
export { createWasi, WASI_MODULE, type Preopen, type ImportModules, type ImportValue, type Wasi, type WasiOptions } from "./host.ts";
export { runCommand, processExitCode } from "./run.ts";
export { WasiExit } from "./exit.ts";
export { WasiDeadlineExceeded } from "./context.ts";
export { ERRNO, errnoOf } from "./errno.ts";
export { GuestMemory } from "./memory.ts";
export { resolveInPreopen, RESOLVE_COST, type Resolution } from "./resolve.ts";
export { createGate, deadlineBudget, HOST_COST, DEFAULT_COST, type Gate, type HostBudget, type HostCost } from "./gate.ts";
export { pollFd, readyBefore, waitReady } from "./wait.ts";
export { POLL_SUBSCRIPTION_COST } from "./poll.ts";
export { SINK_SLICE, type OutputSink } from "./fdtable.ts";
