/**
 * `fledge wasm run`: its arguments, the run itself, and a fast start that reaches it
 * without the command framework. A cached start of a small module costs a few
 * milliseconds of work, so what fledge loads before it is most of the bill: citty
 * (and `node:util`), the logger's consola, the help and prompt code, the other
 * commands. src/main.ts hands `wasm run` straight to {@link runWasmFast}, which takes
 * the common, well-formed command lines (only this command's own flags, each with its
 * value, and a module) and gives everything else (help, global flags, a malformed
 * head) back to the full CLI, which then reports or runs it exactly as before. Both
 * paths run the module through {@link runWasm}.
 */
import type { ArgsDef } from "citty";
import { statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { FledgeError, isTerminal, usageError, wasiClangCommand } from "../core/index.ts";
import { log } from "../ui/log.ts";
import { loadPreparedModule, type LoadOptions, type ModuleSource } from "../wasm/prepared.ts";
import { writeTerminalBounded } from "../ui/terminal-write.ts";
import { runLoadedModule } from "../wasm/run.ts";
import { assertPreopensSpareFledgeState } from "../wasm/preopen-guard.ts";
import { DEFAULT_LIMITS, limitError, memoryLimitOverMax, parseSize, type RunLimits } from "../wasm/limits.ts";
import { holdRunDeadline } from "../wasm/load-watchdog.ts";
import { holdRunMemory, memoryGuardError } from "../wasm/memory-guard.ts";
import { processExitCode, type Preopen } from "../wasi/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { terminalSink } from "../host/terminal-sink.ts";
import { configDir } from "../registry/paths.ts";
import { splitPassthrough, type PassthroughOptions } from "./passthrough.ts";

/** `wasm run`'s flags (citty's definition, also what the fast start accepts). */
export const RUN_ARGS = {
  dir: { type: "string", description: "preopen HOST[::GUEST][:ro] (repeatable; default guest path /<basename>; :ro read-only)" },
  env: { type: "string", description: "K=V passed to the guest (repeatable; nothing else from the host environment is passed)" },
  fuel: { type: "string", description: "instruction budget in fuel units, or 'none' (default 1000000000000; exit 122 when exhausted)" },
  timeout: { type: "string", description: "wall-clock limit in seconds, or 'none' (default 60; exit 124)" },
  "max-memory": { type: "string", description: "memory limit: bytes or with KiB/MiB/GiB (default 256MiB; exit 123 when a module needs more)" },
  "no-cache": { type: "boolean", description: "do not read or write fledge's prepared-module cache (<config>/cache/wasm)" },
  module: { type: "positional", required: false, description: "the .wasm file; everything after it goes to the module as arguments" },
} as const satisfies ArgsDef;

/** How `wasm run` is cut: a `--` right after the module is fledge's separator (as with wasmtime). */
export const RUN_PASSTHROUGH: PassthroughOptions = { separatorAfter: true };

/**
 * `fledge wasm run [--dir HOST[::GUEST][:ro]]... [--env K=V]... <file.wasm> [args...]`
 * Everything after the module path goes to the guest verbatim: the framework cuts it
 * off before any parsing (markPassthrough). We parse our own head ourselves because
 * the flags repeat.
 */

export interface RunArgs {
  dirs: Preopen[];
  env: [string, string][];
  file: string;
  guestArgs: string[];
  limits: RunLimits;
  noCache: boolean;
}

// The defaults are the plugins' defaults: one table in src/wasm/limits.ts.
export { DEFAULT_LIMITS, type RunLimits };

export function parseFuel(v: string): bigint | null {
  if (v === "none") return null;
  if (!/^\d+(_\d+)*$/.test(v)) throw usageError(`bad --fuel '${v}': expected a whole number of units or 'none'`, "e.g. --fuel 50000000000 or --fuel none");
  const n = BigInt(v.replaceAll("_", ""));
  if (n <= 0n) throw usageError(`bad --fuel '${v}': must be at least 1`, "use --fuel none for no instruction limit");
  return n;
}

export function parseTimeout(v: string): number | null {
  if (v === "none") return null;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n <= 0) throw usageError(`bad --timeout '${v}': expected seconds greater than 0, or 'none'`, "e.g. --timeout 120 or --timeout 0.5");
  return n * 1000;
}

export function parseMemory(v: string): number {
  try {
    const n = parseSize(v);
    if (n < 65536) throw new Error("smaller than one 64 KiB page");
    const over = memoryLimitOverMax(n);
    if (over) throw new Error(over);
    return n;
  } catch (e) {
    throw usageError(`bad --max-memory '${v}': ${e instanceof Error ? e.message : String(e)}`, "e.g. --max-memory 512MiB (bytes, or with KiB/MiB/GiB; at most 4GiB)");
  }
}

/** `HOST[::GUEST][:ro]` → a preopen. Checks syntax and that HOST is a directory. */
export function parseDir(spec: string): Preopen {
  let rest = spec;
  let readOnly = false;
  if (rest.endsWith(":ro")) {
    readOnly = true;
    rest = rest.slice(0, -3);
  }
  let host = rest;
  let guest: string | undefined;
  const sep = rest.indexOf("::");
  if (sep !== -1) {
    host = rest.slice(0, sep);
    guest = rest.slice(sep + 2);
    if (guest === "" || guest.includes("\0")) throw badDir(spec, "the guest path after '::' is empty");
  }
  if (host === "") throw badDir(spec, "the host directory is empty");
  let st;
  try {
    st = statSync(host);
  } catch {
    throw badDir(spec, `host directory '${host}' does not exist`);
  }
  if (!st.isDirectory()) throw badDir(spec, `'${host}' is not a directory`);
  if (guest === undefined) {
    // `--dir .` (or `/`) becomes the guest root "/", which wasi-libc also uses for relative
    // paths, like `wasmtime --dir .`; `..` is named by the directory's real name.
    const literal = basename(host.replace(/\/+$/, ""));
    const base = literal === ".." ? basename(resolve(host)) : literal;
    guest = base === "" || base === "." ? "/" : `/${base}`;
  }
  return { hostPath: host, guestPath: guest, readOnly };
}

function badDir(spec: string, why: string): FledgeError {
  return new FledgeError(`bad --dir '${spec}': ${why}`, { code: "bad_dir", hint: "use --dir HOST[::GUEST][:ro], e.g. --dir ./data::/data:ro" });
}

export function parseEnv(spec: string): [string, string] {
  const eq = spec.indexOf("=");
  const key = eq === -1 ? "" : spec.slice(0, eq);
  if (eq <= 0 || key.includes("\0") || spec.includes("\0")) {
    throw new FledgeError(`bad --env '${spec}': expected K=V with a non-empty name`, { code: "bad_env", hint: "e.g. --env GREETING=hello" });
  }
  return [key, spec.slice(eq + 1)];
}

/**
 * Parse our head (flags and the module path, as cut by the framework's splitPassthrough);
 * `guestArgs` is the tail, untouched.
 */
export function parseRunArgs(raw: readonly string[], guestArgs: readonly string[] = []): RunArgs {
  const dirs: Preopen[] = [];
  const env: [string, string][] = [];
  const limits: RunLimits = { ...DEFAULT_LIMITS };
  let noCache = false;
  let i = 0;
  let file: string | undefined;
  const value = (flag: string, tok: string): string => {
    if (tok.includes("=")) return tok.slice(tok.indexOf("=") + 1);
    const v = raw[++i];
    if (v === undefined) throw usageError(`option '${flag}' needs a value`);
    return v;
  };
  for (; i < raw.length; i++) {
    const tok = raw[i]!;
    if (tok === "--") {
      file = raw[++i];
      i++;
      break;
    }
    if (tok === "--dir" || tok.startsWith("--dir=")) dirs.push(parseDir(value("--dir", tok)));
    else if (tok === "--env" || tok.startsWith("--env=")) env.push(parseEnv(value("--env", tok)));
    else if (tok === "--fuel" || tok.startsWith("--fuel=")) limits.fuel = parseFuel(value("--fuel", tok));
    else if (tok === "--timeout" || tok.startsWith("--timeout=")) limits.timeoutMs = parseTimeout(value("--timeout", tok));
    else if (tok === "--max-memory" || tok.startsWith("--max-memory=")) limits.maxMemoryBytes = parseMemory(value("--max-memory", tok));
    else if (tok === "--no-cache") noCache = true;
    else if (tok.startsWith("-") && tok !== "-") throw usageError(`unknown option '${tok}' for 'fledge wasm run'`, "run 'fledge wasm run --help' to see the options");
    else {
      file = tok;
      i++;
      break;
    }
  }
  if (file === undefined) throw usageError("missing the module to run", "usage: fledge wasm run [--dir HOST[::GUEST][:ro]]... [--env K=V]... <file.wasm> [args...]");
  // The framework ends the head at the module path; anything after it here means the
  // caller skipped splitPassthrough, and guessing would re-parse a guest's arguments.
  if (i < raw.length) throw new Error(`parseRunArgs: arguments after the module path must come as guestArgs (got ${JSON.stringify(raw.slice(i))})`);
  return { dirs, env, file, guestArgs: [...guestArgs], limits, noCache };
}

/** A module path fledge can read, with clear errors for the usual mistakes (the bytes are read later, only when needed). */
export function moduleFile(file: string): { path: string; check: (bytes: Uint8Array) => void } {
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch {
    throw notFound(file);
  }
  return { path: file, check: (bytes) => checkModuleBytes(file, bytes) };
}

function notFound(file: string): FledgeError {
  return new FledgeError(`cannot read module '${file}': no such file`, { code: "not_found", hint: "check the path to the .wasm file" });
}

function checkModuleBytes(file: string, bytes: Uint8Array): void {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new FledgeError(`'${file}' is not a WebAssembly module (no \\0asm header)`, { code: "not_wasm", hint: `pass a compiled .wasm file, e.g. ${wasiClangCommand("x.wasm", ["x.c"]).join(" ")}` });
  }
}

/** Modules from this size up show their first prepare on a terminal (smaller ones take a blink). */
export const PROGRESS_MIN_BYTES = 1024 * 1024;

/**
 * What a slow first prepare shows on a terminal (stderr), erased when it is done; on a
 * pipe or a file, nothing (the output there is data).
 */
export function prepareProgress(file: string, terminal: boolean = isTerminal(2)): LoadOptions["progress"] {
  if (!terminal) return undefined;
  let size = 0;
  let shown = false;
  return (stage, bytes) => {
    if (bytes) size = bytes;
    if (stage === "done") {
      if (shown) writeTerminalBounded(2, "\r\u001b[K");
      shown = false;
      return;
    }
    if (size < PROGRESS_MIN_BYTES) return;
    const what = stage === "prepare" ? "validating and metering" : "compiling";
    writeTerminalBounded(2, `\r\u001b[K${what} ${renderUntrusted(basename(file))} (${(size / 2 ** 20).toFixed(1)} MiB; first run only, cached for the next)...`);
    shown = true;
  };
}

/** Validate, instrument and cache; a malformed module is reported against the file the user named. */
async function load(file: string, source: ModuleSource, maxMemoryBytes: number | null, noCache: boolean, deadline?: { timeoutMs: number | null; startedAt: number }) {
  const warn = (m: string) => log.warn(m);
  try {
    return await loadPreparedModule(resolve(file), source, { maxMemoryBytes, noCache, warn, configDir: configDir(), progress: prepareProgress(file), ...deadline });
  } catch (e) {
    if (e instanceof FledgeError) throw e;
    throw new FledgeError(`'${renderUntrusted(file)}' is not a valid WebAssembly module: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { cause: e, code: "not_wasm" });
  }
}

/** Run the module of a parsed `wasm run` command line (head: fledge's flags and the module; tail: the guest's arguments). */
export async function runWasm(head: readonly string[], tail: readonly string[]): Promise<number> {
  // The deadline covers the whole command: reading, instrumenting and compiling count.
  const startedAt = 0; // performance.now() counts from process start
  const a = parseRunArgs(head, tail);
  assertPreopensSpareFledgeState(a.dirs, configDir());
  // The hard stop (its own thread) holds the deadline over loading and running, whatever
  // a fuel unit costs; it ends the process with the message the meter's stop prints.
  const timeoutMs = a.limits.timeoutMs;
  const releaseDeadline = holdRunDeadline(timeoutMs === null ? null : startedAt + timeoutMs, limitError("deadline", { timeoutMs }));
  // The same thread holds the process under --max-memory plus fledge's allowance.
  const memory = holdRunMemory(a.limits.maxMemoryBytes, (phase) => memoryGuardError(a.limits.maxMemoryBytes, phase));
  const release = () => {
    releaseDeadline();
    memory.release();
  };
  let loaded: Awaited<ReturnType<typeof load>>;
  try {
    loaded = await load(a.file, moduleFile(a.file), a.limits.maxMemoryBytes, a.noCache, { timeoutMs, startedAt });
  } catch (e) {
    release();
    throw e;
  }
  memory.started();
  // On a terminal the guest's output is sanitized (untrusted text); piped, it is data, passed unchanged.
  const out = terminalSink(1);
  const err = terminalSink(2);
  try {
    const { exitCode } = await runLoadedModule(loaded, {
      args: [basename(a.file), ...a.guestArgs],
      env: a.env,
      preopens: a.dirs,
      stdin: 0,
      stdout: out.sink,
      stderr: err.sink,
      ...a.limits,
      startedAt,
    });
    return processExitCode(exitCode);
  } finally {
    release();
    out.flush();
    err.flush();
  }
}

const VALUE_FLAGS = new Set(Object.entries(RUN_ARGS).flatMap(([name, def]) => (def.type === "string" ? [`--${name}`] : [])));
const PLAIN_FLAGS = new Set(Object.entries(RUN_ARGS).flatMap(([name, def]) => (def.type === "boolean" ? [`--${name}`] : [])));

/**
 * The head the fast start takes: only `wasm run`'s own flags (a value flag with its
 * value, as `--flag=v` or `--flag v`), an optional `--`, then the module. Anything
 * else (help, `--json`, global flags, an unknown or incomplete flag, no module) is
 * the full CLI's to parse and report.
 */
function fastHead(head: readonly string[]): boolean {
  for (let i = 0; i < head.length; i++) {
    const tok = head[i]!;
    const last = i === head.length - 1;
    if (tok === "--") return i === head.length - 2;
    if (!tok.startsWith("-") || tok === "-") return last;
    const eq = tok.indexOf("=");
    const flag = eq === -1 ? tok : tok.slice(0, eq);
    if (VALUE_FLAGS.has(flag)) {
      if (eq === -1) i++;
      continue;
    }
    if (!PLAIN_FLAGS.has(tok)) return false;
  }
  return false;
}

/**
 * `fledge wasm run ...` (the arguments after `run`) without the command framework;
 * undefined when the full CLI must handle the command line (see {@link fastHead}). An
 * error is reported as the full CLI reports it.
 */
export async function runWasmFast(args: readonly string[]): Promise<number | undefined> {
  const { head, tail } = splitPassthrough(args, VALUE_FLAGS, RUN_PASSTHROUGH);
  if (!fastHead(head)) return undefined;
  try {
    return await runWasm(head, tail);
  } catch (e) {
    const { reportError } = await import("./index.ts");
    return reportError(e, false);
  }
}
