/**
 * THE link decision: which host values a guest module receives.
 *
 * `WebAssembly.instantiate` looks import names up with ordinary property access, so a
 * plain import object also answers names fledge never provided: `constructor.constructor`
 * is the host's `Function`, `constructor.keys` is `Object.keys`, `__proto__.constructor`
 * is `Object`. With those a guest can compile and run JavaScript inside fledge (and so
 * run any command), bypassing every capability, the gate and the meter. The rule that
 * makes this class impossible: the engine is handed a fresh null-prototype object that
 * holds exactly the imports the module declares, each taken as an OWN property of the
 * host's tables and of the right kind. Anything else is refused before instantiation,
 * naming the import.
 */
import { FledgeError } from "../core/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import type { ImportModules, ImportValue } from "./host.ts";

/** What `WebAssembly.instantiate` accepts as its import object. */
export type ResolvedImports = Record<string, Record<string, ImportValue>>;

const LINK_HINT = "fledge provides wasi_snapshot_preview1 (WASI preview 1) and, to plugins, the fledge module; build for wasm32-wasip1";

/** The import kind a host value can satisfy, or undefined for a value no import may receive. */
function kindOf(value: unknown): string | undefined {
  if (typeof value === "function") return "function";
  if (value instanceof WebAssembly.Memory) return "memory";
  if (value instanceof WebAssembly.Table) return "table";
  if (value instanceof WebAssembly.Global) return "global";
  // A plain number links to an immutable global import.
  if (typeof value === "number") return "global";
  return undefined;
}

function ownValue(table: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
}

/**
 * The import object for `module`: exactly its declared imports, each an own property of
 * `available[module][name]` with a matching kind, in null-prototype objects. Throws a
 * FledgeError (code wasm_link) naming the first import fledge does not provide.
 */
export function resolveImports(module: WebAssembly.Module, available: ImportModules): ResolvedImports {
  const out: ResolvedImports = Object.create(null) as ResolvedImports;
  for (const imp of WebAssembly.Module.imports(module)) {
    const table = ownValue(available, imp.module) as Readonly<Record<string, unknown>> | undefined;
    const value = table !== undefined && table !== null ? ownValue(table, imp.name) : undefined;
    const where = `${renderUntrusted(imp.module)}.${renderUntrusted(imp.name)}`;
    if (value === undefined) {
      throw new FledgeError(`cannot link the module: it imports ${where} (a ${imp.kind}), which fledge does not provide`, { code: "wasm_link", hint: LINK_HINT });
    }
    const kind = kindOf(value);
    if (kind !== imp.kind) {
      throw new FledgeError(`cannot link the module: it imports ${where} as a ${imp.kind}, but fledge provides it as a ${kind ?? "value"}`, { code: "wasm_link", hint: LINK_HINT });
    }
    let mod = Object.prototype.hasOwnProperty.call(out, imp.module) ? out[imp.module] : undefined;
    if (mod === undefined) {
      mod = Object.create(null) as Record<string, ImportValue>;
      Object.defineProperty(out, imp.module, { value: mod, enumerable: true, writable: true, configurable: true });
    }
    Object.defineProperty(mod, imp.name, { value: value as ImportValue, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
