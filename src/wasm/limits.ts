/**
 * Limit errors and size parsing. Each limit ends the run with its own exit code and a
 * message that names the limit and the flag that raises it (exit codes in src/core/exit-codes.ts).
 */
import { EXIT, FledgeError, usageError } from "../core/index.ts";

export type LimitReason = "fuel" | "deadline" | "memory";

export interface LimitValues {
  /** Fuel budget in units; null = unlimited. */
  fuel?: bigint | null;
  /** Wall-clock limit in ms. */
  timeoutMs?: number | null;
  /** Memory limit in bytes. */
  maxMemoryBytes?: number | null;
  /** For memory refusals: how many bytes the module asked for. */
  requestedBytes?: number;
}

/** The limits of one run as `fledge wasm run` takes them; null = unlimited. */
export interface RunLimits {
  fuel: bigint | null;
  timeoutMs: number | null;
  maxMemoryBytes: number | null;
}

/** The limits of a plugin run: always a memory and a time limit (config.toml may lift only fuel). */
export interface PluginLimits {
  /** Fuel units; null = unlimited. */
  fuel: bigint | null;
  maxMemoryBytes: number;
  timeoutMs: number;
}

/**
 * THE default limits, for plugins and for `fledge wasm run` alike: 10^12 fuel units,
 * 256 MiB of memory, 60 s of wall-clock time. Raised per run with --fuel/--max-memory/
 * --timeout, or for all plugins in config.toml `[limits]`.
 */
export const DEFAULT_LIMITS: Readonly<PluginLimits> = Object.freeze({
  fuel: 1_000_000_000_000n,
  maxMemoryBytes: 256 * 1024 * 1024,
  timeoutMs: 60_000,
});

/** config.toml's `[limits]` table (read by src/registry/config.ts). */
export interface LimitsConfig {
  fuel?: number | "none";
  memory?: string | number;
  /** Wall-clock limit in seconds. */
  timeout?: number;
}

/** The limits for a plugin run: the defaults, overridden by config.toml `[limits]`. */
export function pluginLimits(config: LimitsConfig | undefined): PluginLimits {
  const out: PluginLimits = { ...DEFAULT_LIMITS };
  if (config?.fuel !== undefined) out.fuel = config.fuel === "none" ? null : BigInt(Math.floor(config.fuel));
  if (config?.memory !== undefined) {
    try {
      out.maxMemoryBytes = typeof config.memory === "number" ? Math.floor(config.memory) : parseSize(config.memory);
    } catch {
      throw new FledgeError(`config.toml [limits] memory = ${JSON.stringify(config.memory)} is not a size`, {
        code: "config_invalid",
        hint: 'use a size such as "256MiB" or "1GiB", or a number of bytes',
      });
    }
    const over = memoryLimitOverMax(out.maxMemoryBytes);
    if (over) throw new FledgeError(`config.toml [limits] memory = ${JSON.stringify(config.memory)} is ${over}`, { code: "config_invalid", hint: 'use at most "4GiB"' });
  }
  if (config?.timeout !== undefined) out.timeoutMs = config.timeout * 1000;
  return out;
}

/** 64 KiB wasm pages. */
export const PAGE_SIZE = 65536;
/** Largest 32-bit memory: 65536 pages (4 GiB). */
export const MAX_PAGES = 65536;

/** The largest memory limit fledge takes: what a 32-bit wasm memory can ever be. */
export const MAX_MEMORY_LIMIT_BYTES = MAX_PAGES * PAGE_SIZE;

/**
 * THE check on a memory limit's upper end, for every place one is parsed (`--max-memory`,
 * `[limits] memory`): a guest cannot use more than 4 GiB, and the memory guard's bound
 * is the limit plus fledge's allowance, so a larger limit would only lift that bound.
 * Returns why `bytes` is refused (to follow the value in the message), or undefined.
 */
export function memoryLimitOverMax(bytes: number): string | undefined {
  if (bytes <= MAX_MEMORY_LIMIT_BYTES) return undefined;
  return `more than the maximum of ${formatSize(MAX_MEMORY_LIMIT_BYTES)} (a 32-bit WebAssembly memory cannot be larger)`;
}

export function formatSize(bytes: number): string {
  const units: Array<[string, number]> = [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ];
  for (const [u, n] of units) if (bytes >= n && bytes % (n / 16) === 0) return `${+(bytes / n).toFixed(4)} ${u}`;
  return `${bytes} bytes`;
}

function groupDigits(v: bigint): string {
  return v.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function limitError(reason: LimitReason, limits: LimitValues = {}): FledgeError {
  switch (reason) {
    case "fuel": {
      const budget = limits.fuel;
      const what = budget === undefined || budget === null ? "its fuel budget" : `its fuel budget of ${groupDigits(budget)} units`;
      return new FledgeError(`fuel exhausted: the module used up ${what}`, {
        code: "fuel_exhausted",
        exitCode: EXIT.fuelExhausted,
        hint: "raise the limit with --fuel N, or remove it with --fuel none",
      });
    }
    case "deadline": {
      const ms = limits.timeoutMs;
      const what = ms === undefined || ms === null ? "its time limit" : `its time limit of ${+(ms / 1000).toFixed(3)} s`;
      return new FledgeError(`time limit reached: the module ran past ${what}`, {
        code: "time_limit",
        exitCode: EXIT.timeLimit,
        hint: "raise the limit with --timeout SECONDS",
      });
    }
    case "memory": {
      const max = limits.maxMemoryBytes;
      const limit = max === undefined || max === null ? "the memory limit" : `the memory limit of ${formatSize(max)}`;
      const req = limits.requestedBytes === undefined ? "more memory than" : `${formatSize(limits.requestedBytes)}, more than`;
      return new FledgeError(`memory limit: the module needs ${req} ${limit}`, {
        code: "memory_limit",
        exitCode: EXIT.memoryLimit,
        hint: "raise the limit with --max-memory SIZE (for example --max-memory 1GiB)",
      });
    }
  }
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  kib: 2 ** 10,
  kb: 1e3,
  m: 2 ** 20,
  mib: 2 ** 20,
  mb: 1e6,
  g: 2 ** 30,
  gib: 2 ** 30,
  gb: 1e9,
  t: 2 ** 40,
  tib: 2 ** 40,
  tb: 1e12,
};

/**
 * Parses sizes like "256MiB", "1.5GiB", "64k", "1000000". Bare K/M/G are binary
 * (as in most CLIs); KB/MB/GB are decimal. Returns whole bytes.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw usageError(`invalid size "${text}"`, "use a number of bytes with an optional unit, e.g. 256MiB, 1GiB, 512KiB");
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw usageError(`size "${text}" is too large`);
  return bytes;
}
