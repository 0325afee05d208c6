/**
 * The native plugin runner (unsandboxed: it runs with the user's rights, which is why
 * installing one needs --trust-native).
 *
 * fledge-v1 mode: the plugin gets NDJSON on stdin/stdout (stderr inherited), no argv
 * (its args travel in `init`), `FLEDGE_PLUGIN_DIR`, and its own process group so an
 * interrupt can end everything it started. Each line is parsed and handed to the
 * shared dispatcher, strictly in order; replies go back as `response` lines.
 *
 * Interrupts: fledge handles SIGINT/SIGTERM itself while a plugin runs. The first
 * sends `{type:"cancel", reason:"user_interrupt"}` and kills any running exec; if the
 * plugin is still alive after the grace period (5 s) its group gets SIGTERM, and
 * after another 5 s SIGKILL. A second interrupt sends SIGKILL at once.
 *
 * Legacy mode (no protocol): inherited stdio, args as argv, `FLEDGE_PLUGIN_DIR`. The
 * plugin shares the terminal's foreground group, so Ctrl+C reaches it directly; fledge
 * only stays alive to report its exit code.
 *
 * fledge never dies of SIGPIPE/EPIPE: writes to a plugin that closed its stdin or
 * exited are dropped, and the runtime ignores SIGPIPE.
 */
import { cwd as processCwd } from "node:process";
import { constants as osConstants } from "node:os";
import type { Capabilities, GrantedConfinement } from "../manifest/types.ts";
import { fledgePaths } from "../registry/index.ts";
import { FledgeError, isFledgeError } from "../core/index.ts";
import { FLEDGE_VERSION } from "../version.ts";
import { PluginConsole, processIO, type HostIO } from "./console.ts";
import { dispatchMessage, type HostContext } from "./dispatcher.ts";
import { exitStatus, killGroup } from "./exec.ts";
import { pluginConfinement, spawnPlugin, type PluginConfinement } from "../confine/index.ts";
import { buildInit, cancelMessage, encodeLine, parseMessage, PROTOCOL, responseMessage, type HostMessage } from "./messages.ts";
import { detectProject, findProjectRoot } from "./project.ts";
import { PromptCancelled } from "./prompts.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

/** What the runner needs to know about the installed plugin (from the registry entry). */
export interface NativePluginEntry {
  name: string;
  dir: string;
  version: string;
  /** "fledge-v1", or undefined for legacy mode. */
  protocol?: string | undefined;
  /** GRANTED capabilities (registry), never the manifest's request. */
  capabilities: Capabilities;
  /** GRANTED confinement extras and the --unconfined choice (registry). */
  confinement?: GrantedConfinement | undefined;
}

export interface RunNativeOptions {
  entry: NativePluginEntry;
  binaryPath: string;
  args: readonly string[];
  /** Default: the git top-level of the cwd, else the cwd. */
  projectRoot?: string | undefined;
  /** Default: the registry's `stateFile(entry.name)`. */
  stateFile?: string | undefined;
  /** Default: the process streams. */
  io?: HostIO | undefined;
  /** Environment for the plugin (and metadata's filtered env). Default process.env. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** After `cancel`, wait this long before SIGTERM, and as long again before SIGKILL. Default 5000. */
  cancelGraceMs?: number | undefined;
}

export const CANCEL_GRACE_MS = 5_000;
/** One protocol line may not exceed this; longer lines are skipped with a warning. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const osSignals = osConstants.signals as Readonly<Record<string, number>>;

/** Signals fledge holds while a plugin runs (it must outlive the plugin to report its code). */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export async function runNativePlugin(opts: RunNativeOptions): Promise<number> {
  const protocol = opts.entry.protocol;
  if (protocol === undefined || protocol === "") return runLegacy(opts);
  if (protocol !== PROTOCOL) {
    throw new FledgeError(`Plugin '${opts.entry.name}' requires protocol '${renderUntrusted(String(protocol))}', which this version of fledge does not support.`, {
      code: "unsupported_protocol",
      hint: "Update fledge to use this plugin.",
    });
  }
  return runProtocol(opts);
}

function confinementOf(opts: RunNativeOptions, projectRoot: string): PluginConfinement {
  const { entry } = opts;
  return pluginConfinement({ name: entry.name, pluginDir: entry.dir, projectRoot, capabilities: entry.capabilities, granted: entry.confinement });
}

function spawnFailed(opts: RunNativeOptions, e: unknown): FledgeError {
  // A refusal by the confinement (no knowable home) already says what to do.
  if (isFledgeError(e)) return e;
  return new FledgeError(`Cannot start plugin '${opts.entry.name}' (${renderUntrusted(opts.binaryPath)}): ${renderUntrusted((e as Error).message)}`, {
    cause: e,
    code: "plugin_spawn_failed",
    hint: "Reinstall the plugin, or check that its binary exists and is executable.",
  });
}

/** Hold SIGINT/SIGTERM/SIGHUP for the duration of a run so fledge outlives its plugin. */
function holdSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}

async function runLegacy(opts: RunNativeOptions): Promise<number> {
  let proc: Bun.Subprocess;
  let settled: Promise<void>;
  try {
    const projectRoot = opts.projectRoot ?? findProjectRoot(processCwd());
    ({ proc, settled } = spawnPlugin({
      argv: [opts.binaryPath, ...opts.args],
      cwd: processCwd(),
      env: opts.env ?? process.env,
      fledgeEnv: { FLEDGE_PLUGIN_DIR: opts.entry.dir },
      confinement: confinementOf(opts, projectRoot),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }));
  } catch (e) {
    throw spawnFailed(opts, e);
  }
  // The terminal delivers Ctrl+C to the plugin too (same foreground group); a signal
  // aimed at fledge alone (kill, closing the terminal) is passed on.
  let interrupted = false;
  const release = holdSignals((signal) => {
    interrupted = true;
    if (signal !== "SIGINT") proc.kill(signal);
  });
  try {
    await proc.exited;
    await settled;
  } finally {
    release();
  }
  reportSignalDeath(opts.entry.name, proc.signalCode, interrupted, (m) => process.stderr.write(`fledge: ${m}\n`));
  return exitStatus(proc.exitCode, proc.signalCode);
}

/** The default reader of a byte stream (DOM and Node typings disagree on its name). */
interface ChunkReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(): Promise<void>;
}

/** Splits a byte stream into lines, bounding the length of any one line. */
async function* readLines(reader: ChunkReader, onTooLong: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let buffered = "";
  let skipping = false;
  for (;;) {
    let chunk: Awaited<ReturnType<ChunkReader["read"]>>;
    try {
      chunk = await reader.read();
    } catch {
      break;
    }
    if (chunk.done) break;
    let text = decoder.decode(chunk.value, { stream: true });
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0) break;
      const line = buffered + text.slice(0, nl);
      text = text.slice(nl + 1);
      buffered = "";
      if (skipping) skipping = false;
      else yield line;
    }
    if (!skipping) {
      buffered += text;
      if (buffered.length > MAX_LINE_BYTES) {
        onTooLong();
        buffered = "";
        skipping = true;
      }
    }
  }
  buffered += decoder.decode();
  if (!skipping && buffered.trim() !== "") yield buffered;
}

async function runProtocol(opts: RunNativeOptions): Promise<number> {
  const { entry } = opts;
  const io = opts.io ?? processIO();
  const con = new PluginConsole(entry.name, io);
  const projectRoot = opts.projectRoot ?? findProjectRoot(processCwd());
  const grace = opts.cancelGraceMs ?? CANCEL_GRACE_MS;
  const interrupt = new AbortController();
  const ctx: HostContext = {
    plugin: { name: entry.name, dir: entry.dir },
    stateFile: opts.stateFile ?? fledgePaths().stateFile(entry.name),
    projectRoot,
    capabilities: entry.capabilities,
    console: con,
    signal: interrupt.signal,
    env: opts.env,
    confinement: entry.confinement,
  };
  const init = buildInit({
    args: opts.args,
    project: detectProject(projectRoot),
    plugin: { name: entry.name, version: entry.version, dir: entry.dir },
    fledgeVersion: FLEDGE_VERSION,
    capabilities: entry.capabilities,
  });

  let proc: Bun.Subprocess<"pipe", "pipe", "inherit">;
  let settled: Promise<void>;
  try {
    ({ proc, settled } = spawnPlugin({
      argv: [opts.binaryPath],
      cwd: processCwd(),
      env: opts.env ?? process.env,
      fledgeEnv: { FLEDGE_PLUGIN_DIR: entry.dir },
      confinement: confinementOf(opts, projectRoot),
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
      detached: true, // its own process group: cancel/kill reaches everything it started
    }));
  } catch (e) {
    throw spawnFailed(opts, e);
  }
  const pid = proc.pid;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
    interrupt.abort(); // nobody is left to answer: close an open prompt, stop an exec
  });

  let stdinOpen = true;
  const send = (message: HostMessage): void => {
    if (!stdinOpen || exited) return;
    try {
      proc.stdin.write(encodeLine(message));
      const flushed = proc.stdin.flush();
      if (flushed instanceof Promise) flushed.catch(() => (stdinOpen = false));
    } catch {
      // EPIPE: the plugin closed its stdin or exited; it no longer wants answers.
      stdinOpen = false;
    }
  };

  const timers: ReturnType<typeof setTimeout>[] = [];
  let interrupts = 0;
  const terminate = (): void => {
    // Staged: cancel (already sent) → SIGTERM after the grace → SIGKILL after another.
    timers.push(
      setTimeout(() => {
        killGroup(pid, "SIGTERM");
        timers.push(setTimeout(() => killGroup(pid, "SIGKILL"), grace));
      }, grace),
    );
  };
  /** The user asked to stop (signal, or Ctrl+C inside a prompt): cancel, then escalate. */
  const cancelRun = (): void => {
    if (exited || interrupt.signal.aborted) return;
    con.clearProgress();
    send(cancelMessage("user_interrupt"));
    interrupt.abort();
    terminate();
  };
  const onInterrupt = (): void => {
    interrupts += 1;
    if (exited) return;
    if (interrupts === 1) cancelRun();
    else killGroup(pid, "SIGKILL");
  };
  const release = holdSignals(onInterrupt);

  let failure: FledgeError | undefined;
  let promptInterrupted = false;
  const reader = proc.stdout.getReader() as unknown as ChunkReader;
  try {
    send(init);
    // If the plugin exits while something it started still holds stdout open, stop
    // reading shortly after instead of waiting for that stray process.
    void proc.exited.then(() => {
      timers.push(setTimeout(() => void reader.cancel().catch(() => {}), 500));
    });
    for await (const line of readLines(reader, () => con.warn(`protocol line longer than ${MAX_LINE_BYTES} bytes skipped`))) {
      if (line.trim() === "") continue;
      const parsed = parseMessage(line);
      if (!parsed.ok) {
        con.warn(`malformed message skipped: ${parsed.problem}`);
        continue;
      }
      try {
        const reply = await dispatchMessage(parsed.message, ctx);
        if (reply) send(responseMessage(reply.id, reply.value));
      } catch (e) {
        if (e instanceof PromptCancelled) {
          // Ctrl+C at the plugin's question: nothing is answered (fail closed) and the
          // run stops about as fast as Ctrl+C stops a program: cancel now, SIGINT to its
          // group shortly after (not the 5 s grace of a cancel), then SIGKILL. Exit 130.
          promptInterrupted = true;
          if (!interrupt.signal.aborted) {
            con.clearProgress();
            send(cancelMessage("user_interrupt"));
            interrupt.abort();
          }
          const quick = Math.min(grace, 500);
          timers.push(
            setTimeout(() => {
              killGroup(pid, "SIGINT");
              timers.push(setTimeout(() => killGroup(pid, "SIGKILL"), quick));
            }, quick),
          );
          continue;
        }
        // A request fledge cannot answer (a prompt without a TTY): end the run.
        failure = isFledgeError(e) ? e : new FledgeError(`Plugin '${entry.name}' failed: ${renderUntrusted((e as Error).message)}`, { cause: e });
        killGroup(pid, "SIGTERM");
        timers.push(setTimeout(() => killGroup(pid, "SIGKILL"), grace));
        break;
      }
    }
    stdinOpen = false;
    try {
      void Promise.resolve(proc.stdin.end()).catch(() => {});
    } catch {
      // already closed
    }
    await proc.exited;
    await settled;
  } finally {
    release();
    for (const t of timers) clearTimeout(t);
    void reader.cancel().catch(() => {});
    con.finish();
  }
  if (failure) throw failure;
  if (promptInterrupted) throw new FledgeError(`Plugin '${entry.name}' stopped: interrupted (Ctrl+C) at its prompt, which was left unanswered`, { code: "interrupted", exitCode: 130 });
  reportSignalDeath(entry.name, proc.signalCode, interrupts > 0, (m) => con.warn(m));
  return exitStatus(proc.exitCode, proc.signalCode);
}

/** Words for the signals that end a program on their own (a crash, the OOM killer). */
const SIGNAL_WORDS: Readonly<Record<string, string>> = {
  SIGSEGV: "a segmentation fault: it crashed reading or writing memory it does not own",
  SIGBUS: "a bus error: it crashed on a bad memory access",
  SIGILL: "an illegal instruction: it crashed (or was built for another CPU)",
  SIGFPE: "an arithmetic error: it crashed (for example dividing by zero)",
  SIGABRT: "an abort: it stopped itself (abort(), a failed assertion or a panic)",
  SIGKILL: "SIGKILL: something killed it outright (often the system running out of memory)",
  SIGTERM: "SIGTERM: something asked it to stop",
  SIGHUP: "SIGHUP: its terminal went away",
  SIGPIPE: "SIGPIPE: it wrote to a pipe nobody reads",
  SIGXCPU: "SIGXCPU: it used up its CPU time limit",
  SIGSYS: "a bad system call: it crashed",
};

/**
 * A native plugin that died of a signal exits 128+n with no word of its own: say which
 * signal and what it usually means. Not for a Ctrl+C the user typed (`userStopped`).
 */
export function signalDeathMessage(name: string, signalCode: string | number | null, userStopped = false): string | undefined {
  if (signalCode === null || signalCode === undefined) return undefined;
  const sig = typeof signalCode === "number" ? (Object.entries(osSignals).find(([, n]) => n === signalCode)?.[0] ?? `signal ${signalCode}`) : signalCode;
  if (userStopped || sig === "SIGINT") return undefined;
  const code = exitStatus(null, signalCode);
  return `plugin '${name}' was killed by ${SIGNAL_WORDS[sig] ? `${SIGNAL_WORDS[sig]}` : sig} (exit ${code}); this is a problem in the plugin: report it to its author`;
}

function reportSignalDeath(name: string, signalCode: string | number | null, userStopped: boolean, warn: (m: string) => void): void {
  const m = signalDeathMessage(name, signalCode, userStopped);
  if (m) warn(m);
}
