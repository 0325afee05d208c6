/**
 * Run fledge's `main(argv)` inside the test process instead of spawning
 * `bun src/main.ts` (a spawn costs a whole runtime start and module load, about
 * 0.5-1 s on a loaded machine). For tests that check only what fledge prints and its
 * exit code. Not for tests that need a real process: a TTY, signals, a kill, closed
 * pipes, the compiled binary, or concurrency between fledge processes; those keep
 * `runFledge` / `runFledgeAsync` (a real child process).
 *
 * What a child process would have had is recreated for the call and restored after:
 * - fds 1 and 2 point at temp files (dup2 through bun:ffi), so every write fledge
 *   makes (write(2) on fd 1, consola, a guest's writes) is captured byte for byte;
 * - process.env is exactly the given environment, the cwd is the given one;
 * - stdin is not a terminal (as `stdin: "ignore"`), so nothing prompts;
 * - process.exit throws instead of ending the test run, and its code is the result.
 * Calls are serialized: two at once would share the fds.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunResult } from "./cli.ts";

interface Fds {
  dup(fd: number): number;
  dup2(from: number, to: number): number;
  fsync(fd: number): number;
}

let fds: Fds | null | undefined;
function libc(): Fds | null {
  if (fds !== undefined) return fds;
  fds = null;
  if (process.platform !== "linux" && process.platform !== "darwin") return fds;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const names = process.platform === "darwin" ? ["libSystem.B.dylib"] : ["libc.so.6", `libc.musl-${process.arch === "x64" ? "x86_64" : "aarch64"}.so.1`, "libc.so"];
    for (const name of names) {
      try {
        const s = dlopen(name, {
          dup: { args: [FFIType.i32], returns: FFIType.i32 },
          dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
          fsync: { args: [FFIType.i32], returns: FFIType.i32 },
        }).symbols;
        fds = { dup: (fd) => s.dup(fd), dup2: (a, b) => s.dup2(a, b), fsync: (fd) => s.fsync(fd) };
        break;
      } catch {
        // next name
      }
    }
  } catch {
    // no bun:ffi
  }
  return fds;
}

/** Whether in-process runs are possible here (else callers spawn). */
export function canRunInProcess(): boolean {
  return libc() !== null;
}

/**
 * A stream write becomes a synchronous write(2) on its fd while fledge runs: the
 * runtime may otherwise still hold it when the fds are switched back, and it keeps
 * the order with fledge's direct writes to the same fd.
 */
function syncWrites(stream: NodeJS.WriteStream, fd: number): () => void {
  const original = Object.getOwnPropertyDescriptor(stream, "write");
  stream.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
    writeSync(fd, typeof chunk === "string" ? Buffer.from(chunk, typeof enc === "string" ? (enc as BufferEncoding) : "utf8") : chunk);
    const done = typeof enc === "function" ? enc : cb;
    if (typeof done === "function") queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof stream.write;
  return () => {
    if (original) Object.defineProperty(stream, "write", original);
    else delete (stream as { write?: unknown }).write;
  };
}

class ExitCalled extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`);
  }
}

let queue: Promise<unknown> = Promise.resolve();

export interface InProcessOptions {
  env: Record<string, string>;
  cwd: string;
}

/** `main(args)` in this process; see the module comment. */
export function runMainInProcess(args: string[], opts: InProcessOptions): Promise<RunResult> {
  const run = queue.then(() => once(args, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function once(args: string[], opts: InProcessOptions): Promise<RunResult> {
  const c = libc();
  if (!c) throw new Error("in-process runs need libc dup2 through bun:ffi");
  const { main } = await import("../../src/cli/index.ts");
  const ui = await import("../../src/ui/index.ts");
  const dir = mkdtempSync(join(tmpdir(), "fledge-inproc-"));
  const out = openSync(join(dir, "out"), "w+");
  const err = openSync(join(dir, "err"), "w+");
  const saved = { out: c.dup(1), err: c.dup(2) };
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const savedExit = process.exit;
  const savedExitCode = process.exitCode;
  const stdinTTY = Object.getOwnPropertyDescriptor(process.stdin, "isTTY");
  let code: number;
  const restores: (() => void)[] = [];
  try {
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, opts.env);
    process.chdir(opts.cwd);
    Object.defineProperty(process.stdin, "isTTY", { value: false, configurable: true });
    process.exit = ((n?: number) => {
      throw new ExitCalled(n ?? 0);
    }) as typeof process.exit;
    ui.setNonInteractive(false);
    ui.setDebug(false);
    ui.resetLog();
    c.dup2(out, 1);
    c.dup2(err, 2);
    restores.push(syncWrites(process.stdout, 1), syncWrites(process.stderr, 2));
    try {
      code = await main(args);
    } catch (e) {
      if (!(e instanceof ExitCalled)) throw e;
      code = e.code;
    }
  } finally {
    for (const restore of restores.splice(0)) restore();
    c.fsync(1);
    c.fsync(2);
    c.dup2(saved.out, 1);
    c.dup2(saved.err, 2);
    closeSync(saved.out);
    closeSync(saved.err);
    process.exit = savedExit;
    process.exitCode = savedExitCode;
    if (stdinTTY) Object.defineProperty(process.stdin, "isTTY", stdinTTY);
    else delete (process.stdin as { isTTY?: boolean }).isTTY;
    process.chdir(savedCwd);
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    ui.setNonInteractive(false);
    ui.setDebug(false);
    ui.resetLog();
  }
  closeSync(out);
  closeSync(err);
  const result = { code, stdout: readFileSync(join(dir, "out"), "utf8"), stderr: readFileSync(join(dir, "err"), "utf8") };
  rmSync(dir, { recursive: true, force: true });
  return result;
}
