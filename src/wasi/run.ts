import { EXIT, FledgeError } from "../core/index.ts";
import { WasiDeadlineExceeded } from "./context.ts";
import { WasiExit } from "./exit.ts";
import type { Gate } from "./gate.ts";
import { createWasi, WASI_MODULE, type ImportModules, type WasiOptions } from "./host.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { resolveImports } from "./link.ts";
import { describeTrap } from "./traps.ts";

/**
 * Run a WASI command module: check its exports, instantiate with the WASI imports
 * (plus the caller's host import modules, gated like WASI, and the engine's own
 * modules such as the fuel meter's refuel), bind
 * memory, call `_start`. proc_exit → its code; returning from _start → 0; a trap →
 * FledgeError(EXIT.trap) naming the trap. Host resources are always released.
 */
export async function runCommand(
  module: WebAssembly.Module,
  opts: WasiOptions,
  hostImports: ImportModules | ((gate: Gate) => ImportModules) = {},
  engineImports: ImportModules = {},
): Promise<{ exitCode: number }> {
  checkShape(module);
  const declared = new Set(WebAssembly.Module.imports(module).flatMap((i) => (i.module === WASI_MODULE && i.kind === "function" ? [i.name] : [])));
  const wasi = createWasi({ ...opts, only: declared });
  try {
    // Every host function passes the run's gate (./gate.ts); only the engine's own
    // modules (the meter's refuel, which is the budget itself) are linked beside it.
    const gated = wasi.gate.link(typeof hostImports === "function" ? hostImports(wasi.gate) : hostImports);
    const imports: ImportModules = { ...gated, [WASI_MODULE]: { ...wasi.imports, ...(gated[WASI_MODULE] ?? {}) } };
    for (const [name, mod] of Object.entries(engineImports)) {
      if (name in imports) throw new FledgeError(`internal: engine import module '${name}' collides with a host module`, { code: "wasm_link" });
      imports[name] = mod;
    }
    // Exactly the imports the module declares, own properties only (./link.ts).
    const resolved = resolveImports(module, imports);
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, resolved);
    } catch (e) {
      if (e instanceof WebAssembly.LinkError || e instanceof TypeError) {
        throw new FledgeError(`cannot link the module: ${renderUntrusted(e.message)}`, { cause: e, code: "wasm_link", hint: "fledge provides wasi_snapshot_preview1 (WASI preview 1) only; build for wasm32-wasip1" });
      }
      throw e;
    }
    const memory = instance.exports.memory;
    const start = instance.exports._start;
    if (!(memory instanceof WebAssembly.Memory)) throw new FledgeError("the module's 'memory' export is not a memory", { code: "wasm_shape" });
    if (typeof start !== "function") throw new FledgeError("the module's '_start' export is not a function", { code: "wasm_shape" });
    wasi.bindMemory(memory);
    opts.onInstance?.(instance);
    (start as () => void)();
    // A guest that caught its own exit (catch_all) and returned still ended by it.
    const ending = wasi.gate.ending;
    return { exitCode: ending ? outcome(ending.e) : 0 };
  } catch (e) {
    // The first run-ending exception decides, not the trap a halted guest ends with.
    const ending = wasi.gate.ending;
    return { exitCode: outcome(ending ? ending.e : e) };
  } finally {
    wasi.closeAll();
  }
}

/** The exit code for how a run ended, or a FledgeError to report. */
function outcome(e: unknown): number {
  if (e instanceof WasiExit) return e.code;
  if (e instanceof FledgeError) throw e;
  if (e instanceof WasiDeadlineExceeded) {
    throw new FledgeError("time limit reached: the module was still waiting when its wall-clock deadline passed", { code: "time_limit", exitCode: EXIT.timeLimit, hint: "raise it with --timeout SECONDS" });
  }
  if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError || (e instanceof Error && /call stack/i.test(e.message))) {
    const trap = describeTrap(e.message);
    throw new FledgeError(`the module trapped: ${trap.kind}`, { cause: e, code: "trap", exitCode: EXIT.trap, hint: trap.hint });
  }
  throw e;
}

/** Refuse modules that cannot be WASI commands before creating any host state. */
function checkShape(module: WebAssembly.Module): void {
  const exports = WebAssembly.Module.exports(module);
  const has = (name: string, kind: string) => exports.some((x) => x.name === name && x.kind === kind);
  if (!has("_start", "function")) {
    throw new FledgeError("the module does not export a '_start' function, so it is not a WASI command", { code: "wasm_shape", hint: "build an executable (wasm32-wasip1 command), not a library/reactor" });
  }
  if (!has("memory", "memory")) {
    throw new FledgeError("the module does not export its 'memory'", { code: "wasm_shape", hint: "WASI modules must export their linear memory as 'memory'" });
  }
  const legacy = WebAssembly.Module.imports(module).find((i) => i.module === "wasi_unstable");
  if (legacy) throw new FledgeError("the module imports 'wasi_unstable' (WASI preview 0), which fledge does not support", { code: "wasm_link", hint: "rebuild for wasm32-wasip1" });
}

/**
 * A guest exit code as a process exit status: POSIX truncation to 8 bits, except a
 * non-zero code never becomes success (exit(256) would otherwise read as 0).
 */
export function processExitCode(code: number): number {
  const c = code & 0xff;
  return code !== 0 && c === 0 ? 1 : c;
}
