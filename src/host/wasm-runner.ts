/**
 * The wasm plugin runner: one fledge-v1 plugin run inside
 * fledge's WASI host, metered, with exactly the authority its GRANTED capabilities
 * give it.
 *
 * Sandbox, decided in {@link pluginPreopens} and {@link sandboxOptions}:
 * no environment, no WASI argv (as the original: arguments travel in `init`), empty
 * stdin, preopens only for `filesystem = "project"` (/project read-only) and
 * `"plugin"` (the same plus `<plugin dir>/data` read-write at /plugin). WASI stdout
 * goes through the plugin console's sanitizer; WASI stderr is shown line by line,
 * prefixed with the plugin name.
 *
 * The `fledge` import module comes from ./wasm-imports.ts: only the granted functions
 * are linked, and a module importing anything else is refused before it runs.
 *
 * Everything the guest prints is written synchronously: the guest runs on this
 * thread, so the event loop cannot drain an async stream until it ends, and a
 * chatty guest would otherwise pile its whole output up in memory.
 */
import { lstatSync, mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { cwd as processCwd } from "node:process";
import type { Capabilities, GrantedConfinement } from "../manifest/types.ts";
import { configDir } from "../registry/paths.ts";
import { closedLine, createSanitizer, renderUntrusted } from "../ui/sanitize.ts";
import { EXIT, FledgeError, isFledgeError } from "../core/index.ts";
import { useColor } from "../ui/index.ts";
import { FLEDGE_VERSION } from "../version.ts";
import { hostVersionString, loadPreparedModule } from "../wasm/prepared.ts";
import { assertPreopensSpareFledgeState } from "../wasm/preopen-guard.ts";
import { DEFAULT_LIMITS, limitError, type LimitReason, type PluginLimits } from "../wasm/limits.ts";
import { holdRunDeadline } from "../wasm/load-watchdog.ts";
import { holdRunMemory, memoryGuardError } from "../wasm/memory-guard.ts";
import { runLoadedModule } from "../wasm/run.ts";
import { processExitCode, readyBefore, waitReady, type OutputSink, type Preopen } from "../wasi/index.ts";
import { LINE_OVERHEAD_BYTES, PluginConsole, type HostIO } from "./console.ts";
import { writeAllSync } from "./terminal-sink.ts";
import { dispatchMessageSync, type HostContext } from "./dispatcher.ts";
import { buildInit } from "./messages.ts";
import { detectProject, findProjectRoot } from "./project.ts";
import { checkModuleImports, createFledgeImports, FLEDGE_MODULE } from "./wasm-imports.ts";

export { terminalSink } from "./terminal-sink.ts";

// ------------------------------------------------------------------- limits

// One table for plugins and `wasm run` (src/wasm/limits.ts); re-exported for older imports.
export { DEFAULT_LIMITS as PLUGIN_LIMIT_DEFAULTS, pluginLimits, type PluginLimits } from "../wasm/limits.ts";

/** A limit hit by a plugin: the wasm part's message and exit code, with a hint that fits plugins. */
function pluginLimitError(name: string, reason: LimitReason, limits: PluginLimits): FledgeError {
  const base = limitError(reason, { fuel: limits.fuel, timeoutMs: limits.timeoutMs, maxMemoryBytes: limits.maxMemoryBytes });
  const key = reason === "fuel" ? "fuel = N (or \"none\")" : reason === "deadline" ? "timeout = SECONDS" : 'memory = "1GiB"';
  return new FledgeError(`Plugin '${name}': ${base.message.replace(/the module/, "the plugin")}`, {
    code: base.code,
    exitCode: base.exitCode,
    hint: `raise it for all plugins in ${join(configDir(), "config.toml")}: [limits] ${key}`,
  });
}

// ------------------------------------------------------------------ sandbox

/**
 * `<plugin dir>/data`, created on demand: the only host directory a plugin may
 * write. It must be a real directory directly inside the plugin dir: a `data`
 * symlink (to `..`, to $HOME) would hand the guest something else, so it is refused.
 */
export function pluginDataDir(pluginDir: string): string {
  const root = realpathSync(pluginDir);
  const data = join(root, "data");
  try {
    mkdirSync(data, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = lstatSync(data, { throwIfNoEntry: false });
  if (!st?.isDirectory() || st.isSymbolicLink()) {
    throw new FledgeError(`Plugin data directory ${data} is not a plain directory (a symlink or a file is in the way)`, {
      code: "plugin_data_dir",
      hint: `remove ${data} and run the plugin again; fledge recreates it`,
    });
  }
  return data;
}

/**
 * THE filesystem decision for a plugin: what its GRANTED
 * `filesystem` capability preopens. Anything but "project" or "plugin" gets nothing.
 * `dataDir` is only evaluated for "plugin", so no directory is created otherwise.
 */
export function pluginPreopens(capabilities: Pick<Capabilities, "filesystem">, projectRoot: string, dataDir: () => string): Preopen[] {
  switch (capabilities.filesystem) {
    case "project":
      return [{ hostPath: projectRoot, guestPath: "/project", readOnly: true }];
    case "plugin": {
      const preopens = [
        { hostPath: projectRoot, guestPath: "/project", readOnly: true },
        { hostPath: dataDir(), guestPath: "/plugin", readOnly: false },
      ];
      assertPreopensSpareFledgeState(preopens, configDir());
      return preopens;
    }
    default:
      return [];
  }
}

// ------------------------------------------------------- compile + meter

export interface PreparedPlugin {
  module: WebAssembly.Module;
  /** Present when the module imports its memory rather than defining it. */
  memoryImport?: { module: string; name: string; initial: number; maximum: number } | undefined;
}

export interface PrepareOptions {
  limits: PluginLimits;
  warn: (message: string) => void;
  /** Skip the on-disk cache (the embedded canary has no file to cache beside). */
  noCache?: boolean | undefined;
  /** performance.now() when the run started: preparing and compiling count against limits.timeoutMs. */
  startedAt?: number;
}

/** The cache key's host version: fledge, instrumenter and Bun versions plus the memory cap baked into the bytes. */
/** Line 2 of the cache stamp for a plugin run (see src/wasm/prepared.ts). */
export function pluginHostVersion(limits: PluginLimits): string {
  return hostVersionString(limits.maxMemoryBytes);
}

/**
 * The "compile + meter" step: the wasm part's prepared-module loader (validate,
 * instrument, cap memory; through fledge's authenticated cache (src/wasm/cache.ts); compiled once per
 * process). The meter itself is created per run in {@link runWasmPlugin}.
 */
export async function preparePluginModule(wasmPath: string, source: Uint8Array, opts: PrepareOptions): Promise<PreparedPlugin> {
  const loaded = await loadPreparedModule(wasmPath, source, {
    maxMemoryBytes: opts.limits.maxMemoryBytes,
    configDir: configDir(),
    warn: opts.warn,
    noCache: opts.noCache,
    timeoutMs: opts.limits.timeoutMs,
    startedAt: opts.startedAt ?? performance.now(),
  });
  return { module: loaded.module, memoryImport: loaded.memoryImport };
}

// ------------------------------------------------------------------- output

/** The process streams, written synchronously (see the module comment); `ready` bounds waits for room (see writeAllSync). */
export function syncProcessIO(ready?: (fd: number) => boolean): HostIO {
  return {
    stdout: (text) => void writeAllSync(1, text, ready),
    stderr: (text) => void writeAllSync(2, text, ready),
    interactive: Boolean(process.stderr.isTTY),
    color: useColor(process.stderr),
  };
}

/** Longest stderr line kept whole; longer ones are shown in pieces. */
const MAX_STDERR_LINE = 64 * 1024;

/**
 * WASI stderr as log lines: `  [plugin] line`, sanitized like all plugin output.
 * Returns the byte sink for fd 2 and a flush for the end of the run.
 */
export function stderrLines(pluginName: string, write: (text: string) => void): { sink: OutputSink; flush: () => void } {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  // "line" profile: colours only, `\r` and cursor moves shown escaped: a line cannot rewrite its prefix.
  const sanitizer = createSanitizer("line");
  const name = renderUntrusted(pluginName);
  let partial = "";
  /** A `\r` held back until we know whether it ends a CRLF line ending (dropped) or not (shown). */
  let pendingCr = false;
  const line = (text: string): string => `  [${name}] ${closedLine(text)}`;
  /** Write what one slice of input made, in one piece; answers its size (charged by fd_write). */
  const emit = (lines: string[]): number => {
    if (lines.length === 0) return 0;
    const text = lines.join("");
    write(text);
    return text.length + lines.length * LINE_OVERHEAD_BYTES;
  };
  const take = (input: string): number => {
    let text = pendingCr ? `\r${input}` : input;
    pendingCr = text.endsWith("\r") && input !== "";
    if (pendingCr) text = text.slice(0, -1);
    partial += sanitizer.write(text.replace(/\r\n/g, "\n"));
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = partial.indexOf("\n", start);
      if (nl < 0) break;
      lines.push(line(partial.slice(start, nl)));
      start = nl + 1;
    }
    partial = partial.slice(start);
    while (partial.length > MAX_STDERR_LINE) {
      lines.push(line(partial.slice(0, MAX_STDERR_LINE)));
      partial = partial.slice(MAX_STDERR_LINE);
    }
    return emit(lines);
  };
  return {
    sink: (chunk) => take(decoder.decode(chunk, { stream: true })),
    flush: () => {
      take(decoder.decode());
      if (pendingCr) partial += sanitizer.write("\r");
      pendingCr = false;
      partial += sanitizer.end();
      if (partial !== "") emit([line(partial)]);
      partial = "";
    },
  };
}


// ---------------------------------------------------------------------- run

export interface WasmPluginOptions {
  plugin: { name: string; version: string; dir: string };
  /** GRANTED capabilities (the registry's), never the manifest's request. */
  capabilities: Capabilities;
  /** The module file (names the cache files) and its bytes, already integrity-checked by the caller. */
  wasmPath: string;
  bytes: Uint8Array;
  args: readonly string[];
  /** Default: the git top-level of the cwd, else the cwd. */
  projectRoot?: string | undefined;
  /** The plugin's store (registry `stateFile(name)`). */
  stateFile: string;
  limits?: PluginLimits | undefined;
  /** Default: the process streams, written synchronously. */
  io?: HostIO | undefined;
  /** Replace where WASI fd 1 / fd 2 go (the canary collects its report from fd 1). */
  stdout?: ((chunk: Uint8Array) => void) | undefined;
  stderr?: ((chunk: Uint8Array) => void) | undefined;
  /** Environment for `metadata.env` (filtered); default process.env. Never given to the guest. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** GRANTED confinement (registry): what an `exec` the guest asks for runs under. */
  confinement?: GrantedConfinement | undefined;
  noCache?: boolean | undefined;
}

/**
 * THE sandbox a plugin runs in: no env, no argv, empty stdin,
 * the preopens its filesystem grant allows.
 */
export function sandboxOptions(capabilities: Capabilities, projectRoot: string, pluginDir: string): { args: string[]; env: [string, string][]; preopens: Preopen[]; stdin: "empty" } {
  return { args: [], env: [], preopens: pluginPreopens(capabilities, projectRoot, () => pluginDataDir(pluginDir)), stdin: "empty" };
}

/** Run a wasm plugin to completion; resolves to the exit code fledge should exit with. */
export async function runWasmPlugin(opts: WasmPluginOptions): Promise<number> {
  const { plugin } = opts;
  const limits = opts.limits ?? DEFAULT_LIMITS;
  // The deadline covers preparing and compiling the module as well as running it.
  const startedAt = performance.now();
  // The hard stop (its own thread, CLI only) holds the deadline over loading and
  // running whatever a fuel unit costs, with the message the meter's stop reports.
  const release = holdRunDeadline(limits.timeoutMs === null ? null : startedAt + limits.timeoutMs, pluginLimitError(plugin.name, "deadline", limits));
  // The same thread holds the process under [limits] memory plus fledge's allowance.
  const wording = { setting: "[limits] memory", what: "the plugin", prefix: `Plugin '${plugin.name}': `, hint: pluginLimitError(plugin.name, "memory", limits).hint };
  const memory = holdRunMemory(limits.maxMemoryBytes, (phase) => memoryGuardError(limits.maxMemoryBytes, phase, wording));
  try {
    return await runHeld(opts, limits, startedAt, memory.started);
  } finally {
    release();
    memory.release();
  }
}

/** {@link runWasmPlugin} under its held deadline. */
async function runHeld(opts: WasmPluginOptions, limits: PluginLimits, startedAt: number, started: () => void): Promise<number> {
  const { plugin, capabilities } = opts;
  // Console output waits for room only until the run's deadline (set once the run is linked).
  let timeLeft: () => number = () => Infinity;
  const io = opts.io ?? syncProcessIO((fd) => readyBefore(fd, true, timeLeft));
  const con = new PluginConsole(plugin.name, io);
  let prepared: PreparedPlugin;
  try {
    prepared = await preparePluginModule(opts.wasmPath, opts.bytes, { limits, warn: (m) => con.warn(m), noCache: opts.noCache, startedAt });
  } catch (e) {
    // A module declaring more memory than the cap is refused here, before it runs.
    if (isFledgeError(e) && e.code === "memory_limit") throw pluginLimitError(plugin.name, "memory", limits);
    if (isFledgeError(e) && e.code === "time_limit") throw pluginLimitError(plugin.name, "deadline", limits);
    throw e;
  }
  // Checked on the module that will actually be instantiated, whatever the cache held.
  checkModuleImports(WebAssembly.Module.imports(prepared.module), capabilities);
  started();

  const projectRoot = opts.projectRoot ?? findProjectRoot(processCwd());
  const sandbox = sandboxOptions(capabilities, projectRoot, plugin.dir);
  const ctx: HostContext = { plugin: { name: plugin.name, dir: plugin.dir }, stateFile: opts.stateFile, projectRoot, capabilities, console: con, env: opts.env, confinement: opts.confinement };
  const init = buildInit({ args: opts.args, project: detectProject(projectRoot), plugin, fledgeVersion: FLEDGE_VERSION, capabilities });

  const stderr = stderrLines(plugin.name, (t) => io.stderr(t));
  const refusals = fileRefusalWatch();
  // Output messages (fledge.send "output") carry guest text too.
  const output = con.output.bind(con);
  con.output = (text: string) => {
    refusals.seeText(text);
    output(text);
  };
  const stdoutDecoder = new TextDecoder("utf-8", { fatal: false });
  try {
    const { exitCode } = await runLoadedModule(
      { module: prepared.module, memoryImport: prepared.memoryImport, cache: "bypass", cachePath: undefined },
      {
        ...sandbox,
        fuel: limits.fuel,
        timeoutMs: limits.timeoutMs,
        startedAt,
        maxMemoryBytes: limits.maxMemoryBytes,
        stdout: (chunk) => {
          refusals.see(chunk);
          if (opts.stdout) opts.stdout(chunk);
          else con.output(stdoutDecoder.decode(chunk, { stream: true }));
        },
        stderr: (chunk) => {
          refusals.see(chunk);
          (opts.stderr ?? stderr.sink)(chunk);
        },
        // The one metered runner links these through the same gate as WASI.
        hostModules: (link) => {
          // A prompt's terminal read waits with the run's deadline, like every host call.
          ctx.waitReadable = (fd) => void waitReady(fd, false, link.gate.timeLeft, link.gate.deadline);
          ctx.timeLeftMs = () => Math.min(link.gate.timeLeft(), 15_000);
          timeLeft = link.gate.timeLeft;
          // What the console makes of guest text (escapes, prefixed lines) is charged as the
          // guest's work, a slice at a time, so a flood stops at the deadline or on fuel.
          con.meter = (bytes) => link.gate.bytes(bytes, true);
          return {
            [FLEDGE_MODULE]: createFledgeImports({
              getMemory: link.memory,
              gate: link.gate,
              capabilities,
              dispatch: (m) => dispatchMessageSync(m, ctx),
              init,
              warn: (m) => con.warn(m),
            }).imports,
          };
        },
      },
    );
    return processExitCode(exitCode);
  } catch (e) {
    throw pluginRunError(plugin.name, e, limits);
  } finally {
    if (!opts.stdout) con.output(stdoutDecoder.decode());
    stderr.flush();
    const note = refusals.seen() ? fileRefusalNote(plugin.name, capabilities.filesystem) : undefined;
    if (note) con.warn(note);
    con.finish();
  }
}

/**
 * A plugin refused a file prints wasi-libc's text for ENOTCAPABLE ("Capabilities
 * insufficient"), which does not say what to change. fledge watches the plugin's
 * stderr for it (the text is fixed by libc; a guest faking it only gets this note).
 */
function fileRefusalWatch(): { see: (chunk: Uint8Array) => void; seeText: (text: string) => void; seen: () => boolean } {
  const decoder = new TextDecoder("latin1");
  let tail = "";
  let found = false;
  const seeText = (more: string): void => {
    if (found) return;
    const text = tail + more;
    found = /Capabilities insufficient|not ?capable/i.test(text);
    tail = text.slice(-40);
  };
  return { see: (chunk) => seeText(decoder.decode(chunk, { stream: true })), seeText, seen: () => found };
}

/** What to tell the user when a plugin was refused a file: the grant it has and the one it needs. */
export function fileRefusalNote(name: string, granted: Capabilities["filesystem"]): string | undefined {
  if (granted === "project") return `plugin '${name}' was refused a file outside the project folder and its data/ folder; filesystem = "project" grants only those`;
  return (
    `plugin '${name}' was refused a file: it is granted filesystem = "${granted}"` +
    `${granted === "plugin" ? " (only its own data/ folder)" : " (no files at all)"}. ` +
    `To read the project's files (read-only) it must ask for filesystem = "project" under [capabilities] in its plugin.toml; ` +
    `then 'fledge plugins update ${name}' (or reinstall it) asks you to grant it`
  );
}

/** The limit a runner's limit error stands for (src/wasm/limits.ts codes). */
const LIMIT_CODES: Readonly<Record<string, LimitReason>> = { fuel_exhausted: "fuel", time_limit: "deadline", memory_limit: "memory" };

/** How a run that did not end with an exit code is reported: always naming the plugin. */
function pluginRunError(name: string, e: unknown, limits: PluginLimits): FledgeError {
  if (!isFledgeError(e)) {
    return new FledgeError(`Plugin '${name}' failed: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { cause: e, code: "plugin_failed" });
  }
  const limit = LIMIT_CODES[e.code];
  if (limit) return pluginLimitError(name, limit, limits);
  if (e.code === "trap") return new FledgeError(`Plugin '${name}' trapped: ${e.message.replace(/^the module trapped: /, "")}`, { cause: e, code: "trap", exitCode: EXIT.trap, hint: e.hint });
  if (e.exitCode !== EXIT.error || e.code === "prompt_cancelled") return e;
  return new FledgeError(`Plugin '${name}' failed: ${e.message}`, { cause: e, code: e.code, exitCode: e.exitCode, hint: e.hint, details: e.details });
}
