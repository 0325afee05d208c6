/**
 * The `exec` service: run a shell command for a plugin that was granted `exec`.
 *
 * Fixes over the original: both pipes are read concurrently
 * while the command runs (the original read them after exit and deadlocked past the
 * 64 KiB pipe buffer), each capped at 10 MiB with the rest drained and discarded, and
 * the command runs in its own process group (spawned detached, i.e. setsid) so a
 * timeout or an interrupt kills everything it started with one kill(-pgid).
 *
 * Background children: `sleep 100 &` inherits the pipes and would keep them open
 * forever. When the command's main process exits we wait a short grace for the pipes
 * to close, then kill whatever is left in its process group. An exec therefore never
 * leaves processes behind (a command that really wants a daemon must setsid it itself).
 *
 * The command runs under the requesting plugin's confinement (src/confine), like
 * a native plugin: it is plugin code too.
 */
import { realpathSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { resolve } from "node:path";
import { isWithin } from "../core/index.ts";
import { spawnPlugin, type PluginConfinement } from "../confine/index.ts";

export const EXEC_LIMITS = {
  defaultTimeoutSeconds: 30,
  maxTimeoutSeconds: 300,
  maxOutputBytes: 10 * 1024 * 1024,
  timeoutCode: 124,
  interruptedCode: 130,
  spawnFailedCode: 127,
  /** How long pipes may stay open after the main process exited (background children). */
  exitGraceMs: 250,
} as const;

export interface ExecRequest {
  command: string;
  cwd?: string | undefined;
  /** Seconds; default 30, capped at 300. */
  timeout?: number | undefined;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecContext {
  projectRoot: string;
  pluginDir: string;
  /** Aborting kills the command's process group (user interrupt). */
  signal?: AbortSignal | undefined;
  /** Override the maximum output per stream (tests). */
  maxOutputBytes?: number | undefined;
  /** fledge's environment (default process.env); a confined command gets its allowlisted part. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** The requesting plugin's confinement: the command runs under it. */
  confinement: PluginConfinement;
}

export type CwdResolution = { ok: true; cwd: string } | { ok: false; message: string };

function realDir(path: string): string | undefined {
  try {
    const real = realpathSync(path);
    return statSync(real).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}


/**
 * THE exec containment decision. The requested cwd (relative to the project root, or
 * absolute; default the project root) is resolved with realpath, so symlinks and `..`
 * are followed to where they really lead, and must then be the project root, the
 * plugin dir, or inside one of them (both roots also realpath'd). Missing directories
 * are refused: there is nothing to run in, and realpath could not vouch for them.
 */
export function resolveExecCwd(requested: string | undefined, projectRoot: string, pluginDir: string): CwdResolution {
  const wanted = requested === undefined || requested === "" ? projectRoot : resolve(projectRoot, requested);
  const real = realDir(wanted);
  if (real === undefined) {
    return { ok: false, message: `exec cwd '${requested ?? wanted}' does not exist or is not a directory` };
  }
  const roots = [realDir(projectRoot), realDir(pluginDir)].filter((r): r is string => r !== undefined);
  if (roots.some((root) => isWithin(real, root))) return { ok: true, cwd: real };
  return { ok: false, message: `exec cwd '${requested ?? wanted}' escapes the project and plugin directory` };
}

/** Seconds requested → milliseconds used: default 30 s, at most 300 s; nonsense means default. */
export function execTimeoutMs(timeout: number | undefined): number {
  const s =
    timeout === undefined || !Number.isFinite(timeout) || timeout <= 0
      ? EXEC_LIMITS.defaultTimeoutSeconds
      : Math.min(timeout, EXEC_LIMITS.maxTimeoutSeconds);
  return Math.round(s * 1000);
}

/** Signal a whole process group; a group that is already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/** Exit status the shell way: the code, or 128 + signal number. */
export function exitStatus(exitCode: number | null, signalCode: string | number | null): number {
  if (exitCode !== null) return exitCode;
  const n = typeof signalCode === "number" ? signalCode : signalCode ? (osConstants.signals as Record<string, number>)[signalCode] : undefined;
  return 128 + (n ?? 0);
}

/** The default reader of a byte stream (the DOM and Node typings disagree on its name). */
interface ChunkReader {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  cancel(): Promise<void>;
}

/** Reads a stream to the end, keeping at most `cap` bytes and discarding the rest. */
class CappedCollector {
  private chunks: Uint8Array[] = [];
  private kept = 0;
  truncated = false;
  readonly done: Promise<void>;
  private reader: ChunkReader;

  constructor(stream: ReadableStream<Uint8Array>, private readonly cap: number) {
    this.reader = stream.getReader() as unknown as ChunkReader;
    this.done = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) return;
        const room = this.cap - this.kept;
        if (value.length <= room) {
          this.chunks.push(value);
          this.kept += value.length;
        } else {
          if (room > 0) this.chunks.push(value.subarray(0, room));
          this.kept = this.cap;
          this.truncated = true; // keep draining so the writer never blocks
        }
      }
    } catch {
      // cancelled or pipe error: keep what we have
    }
  }

  cancel(): void {
    this.reader.cancel().catch(() => {});
  }

  text(label: string): string {
    const text = new TextDecoder("utf-8", { fatal: false }).decode(Buffer.concat(this.chunks));
    if (!this.truncated) return text;
    return `${text}\n[fledge: ${label} truncated: output exceeded ${this.cap} bytes]\n`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Run an exec request for a plugin. Never throws: every failure is an ExecResult. */
export async function runExec(req: ExecRequest, ctx: ExecContext): Promise<ExecResult> {
  const where = resolveExecCwd(req.cwd, ctx.projectRoot, ctx.pluginDir);
  if (!where.ok) return { code: 1, stdout: "", stderr: where.message };
  if (ctx.signal?.aborted) return { code: EXEC_LIMITS.interruptedCode, stdout: "", stderr: "command interrupted" };

  const timeoutMs = execTimeoutMs(req.timeout);
  const cap = ctx.maxOutputBytes ?? EXEC_LIMITS.maxOutputBytes;
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  let settled: Promise<void>;
  try {
    ({ proc, settled } = spawnPlugin({
      argv: ["sh", "-c", req.command],
      cwd: where.cwd,
      env: ctx.env ?? process.env,
      fledgeEnv: {},
      confinement: ctx.confinement,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true, // own session + process group: kill(-pid) reaches everything it starts
      warnUnconfined: false,
    }));
  } catch (e) {
    return { code: EXEC_LIMITS.spawnFailedCode, stdout: "", stderr: `exec failed to start: ${(e as Error).message}` };
  }
  const pid = proc.pid;
  const out = new CappedCollector(proc.stdout, cap);
  const err = new CappedCollector(proc.stderr, cap);

  let timedOut = false;
  let interrupted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid, "SIGKILL");
  }, timeoutMs);
  const onAbort = (): void => {
    interrupted = true;
    killGroup(pid, "SIGKILL");
  };
  ctx.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    await proc.exited;
    await settled;
    // Background children may hold the pipes open: give them a moment, then clean up
    // the rest of the group so nothing outlives the exec and the reads can finish.
    const drained = Promise.all([out.done, err.done]);
    await Promise.race([drained, sleep(EXEC_LIMITS.exitGraceMs)]);
    killGroup(pid, "SIGKILL");
    await Promise.race([drained, sleep(EXEC_LIMITS.exitGraceMs)]);
    out.cancel();
    err.cancel();
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener("abort", onAbort);
  }

  const stdout = out.text("stdout");
  const stderr = err.text("stderr");
  if (timedOut) {
    const n = timeoutMs / 1000;
    return { code: EXEC_LIMITS.timeoutCode, stdout, stderr: `${stderr}command timed out after ${n}s` };
  }
  if (interrupted) return { code: EXEC_LIMITS.interruptedCode, stdout, stderr: `${stderr}command interrupted` };
  return { code: exitStatus(proc.exitCode, proc.signalCode), stdout, stderr };
}
