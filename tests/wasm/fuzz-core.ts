/**
 * Differential fuzzing of the instrumenter: run a module and its instrumented form
 * side by side and compare everything observable. Shared by fuzz.test.ts and
 * scripts/fuzz-wasm.ts.
 */
import { createMeter, instrument, parseModule } from "../../src/wasm/index.ts";
import { ttfModule } from "./helpers.ts";

export interface FuzzOutcome {
  seed: number;
  /** wasm-opt could not generate a module for this seed, or the engine rejects the original. */
  skipped?: string;
  /** Non-empty when original and instrumented behaved differently. */
  divergence?: string;
  exportsCalled: number;
  bytes: number;
  /** The small-budget copy ran out of fuel (and matched the original until then). */
  smallStopped?: boolean;
}

/** Fixed arguments by value type. */
function argFor(t: number): unknown {
  switch (t) {
    case 0x7f:
      return 7;
    case 0x7e:
      return 7n;
    case 0x7d:
      return 1.5;
    case 0x7c:
      return -2.25;
    default:
      return null; // funcref/externref; v128 cannot cross into JS and throws in both
  }
}

function describe(v: unknown): unknown {
  if (typeof v === "function") return "<function>";
  if (Array.isArray(v)) return v.map(describe);
  if (typeof v === "number" && Number.isNaN(v)) return "NaN";
  if (typeof v === "bigint") return `${v}n`;
  return v;
}

function callOutcome(fn: () => unknown): unknown {
  try {
    return { ok: describe(fn()) };
  } catch (e) {
    // JSC appends "(evaluating '<JS expression>')", which differs per call site.
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { trap: msg.replace(/ \(evaluating '.*'\)$/s, "") };
  }
}

interface Side {
  log: unknown[];
  exports: WebAssembly.Instance["exports"] | null;
  error: unknown;
}

function instantiateSide(bytes: Uint8Array, extra: Record<string, Record<string, unknown>>): Side {
  const log: unknown[] = [];
  const mod = new WebAssembly.Module(bytes);
  const imports: Record<string, Record<string, unknown>> = { ...extra };
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imports[imp.module]?.[imp.name] !== undefined) continue;
    if (imp.kind !== "function") continue;
    (imports[imp.module] ??= {})[imp.name] = (...args: unknown[]) => {
      log.push([imp.name, ...args.map(describe)]);
    };
  }
  try {
    const inst = new WebAssembly.Instance(mod, imports as never);
    return { log, exports: inst.exports, error: null };
  } catch (e) {
    return { log, exports: null, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

/** Generates, instruments, validates and differentially runs one seed. */
export function fuzzOne(dir: string, seed: number): FuzzOutcome {
  const original = ttfModule(dir, seed);
  if (!original) return { seed, skipped: "wasm-opt failed", exportsCalled: 0, bytes: 0 };
  if (!WebAssembly.validate(original)) return { seed, skipped: "original does not validate in JSC", exportsCalled: 0, bytes: original.length };
  const out: FuzzOutcome = { seed, exportsCalled: 0, bytes: original.length };
  let prepared: Uint8Array;
  try {
    prepared = instrument(original, { fuel: true, maxMemoryBytes: 256 << 20 }).bytes;
  } catch (e) {
    out.divergence = `instrument threw: ${String(e)}`;
    return out;
  }
  if (!WebAssembly.validate(prepared)) {
    out.divergence = "instrumented module does not validate";
    return out;
  }
  const m = parseModule(original);
  const funcTypes: number[] = [];
  for (const imp of m.imports) if (imp.desc.kind === "func") funcTypes.push(imp.desc.type);
  funcTypes.push(...m.functions);

  // Ample fuel; the deadline only guards against a hang (ttf modules carry their own hang limit).
  const meter = createMeter({ fuel: 100_000_000_000n, deadline: performance.now() + 60_000 });
  const a = instantiateSide(original, {});
  const b = instantiateSide(prepared, meter.imports as Record<string, Record<string, unknown>>);
  // A third copy on a small budget: until the meter stops it, it must behave exactly
  // like the original; once stopped, it must stay stopped.
  const small = createMeter({ fuel: BigInt(50 + (seed % 40) * 40), deadline: performance.now() + 60_000 });
  const c = instantiateSide(prepared, small.imports as Record<string, Record<string, unknown>>);
  if (stable(a.error) !== stable(b.error)) {
    out.divergence = `instantiation: ${stable(a.error)} vs ${stable(b.error)}`;
    return out;
  }
  if (!a.exports || !b.exports) return out;
  let smallLive = c.exports !== null;
  const reset = (e: WebAssembly.Instance["exports"]) => {
    const f = e.hangLimitInitializer;
    if (typeof f === "function") (f as () => void)();
  };
  for (const exp of m.exports) {
    if (exp.kind !== 0 || exp.name === "hangLimitInitializer") continue;
    const type = m.types[funcTypes[exp.index]!]!;
    const args = type.params.map(argFor);
    reset(a.exports);
    reset(b.exports);
    const ra = callOutcome(() => (a.exports![exp.name] as (...x: unknown[]) => unknown)(...args));
    const rb = callOutcome(() => (b.exports![exp.name] as (...x: unknown[]) => unknown)(...args));
    out.exportsCalled++;
    if (smallLive && c.exports) {
      const rc = callOutcome(() => {
        reset(c.exports!);
        return (c.exports![exp.name] as (...x: unknown[]) => unknown)(...args);
      });
      if (small.reason() !== null) {
        smallLive = false;
        out.smallStopped = true;
        if (small.reason() !== "fuel") {
          out.divergence = `small budget stopped with reason ${small.reason()}`;
          return out;
        }
      } else if (stable(rc) !== stable(ra)) {
        out.divergence = `export ${exp.name} on a small budget: ${stable(ra)} vs ${stable(rc)}`;
        return out;
      }
    }
    if (stable(ra) !== stable(rb)) {
      out.divergence = `export ${exp.name}: ${stable(ra)} vs ${stable(rb)}`;
      return out;
    }
    if (meter.reason() !== null) {
      out.divergence = `meter stopped the run (${meter.reason()}) with ample fuel`;
      return out;
    }
  }
  if (stable(a.log) !== stable(b.log)) out.divergence = `import call logs differ (${a.log.length} vs ${b.log.length} calls)`;
  return out;
}
