import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunInProcess, runMainInProcess } from "./inproc.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const MAIN = join(ROOT, "src", "main.ts");
export const SHARED = join(ROOT, "..", "shared");
export const DIST = join(ROOT, "dist", "fledge");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string | Uint8Array;
  /** Run this executable instead of `bun src/main.ts` (e.g. the compiled dist/fledge). */
  bin?: string;
  timeoutMs?: number;
}

/** `s` as one POSIX shell word (for command lines run under `script -c` or `sh -c`). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Put a `fledge` on `binDir` (created) that runs this checkout, for examples that call `fledge` by name. */
export function writeFledgeShim(binDir: string): void {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, "fledge"), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
  chmodSync(join(binDir, "fledge"), 0o755);
}

/** The command line of a fledge child: the built binary `bin`, or bun on src/main.ts. */
function fledgeCommand(args: string[], opts: RunOptions): string[] {
  return opts.bin ? [opts.bin, ...args] : [process.execPath, MAIN, ...args];
}

/** How every fledge child runs: the explicit environment, piped output, stdin closed unless given, a time limit. */
function childSpawnOptions(opts: RunOptions) {
  return {
    env: childEnv(opts),
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin === undefined ? ("ignore" as const) : typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    timeout: opts.timeoutMs ?? 30_000,
  };
}

/**
 * Run fledge as a real child process. The environment is minimal and explicit so a
 * developer's own config or tokens never leak into a test; NO_COLOR keeps output plain.
 */
export function runFledge(args: string[], opts: RunOptions = {}): RunResult {
  const proc = Bun.spawnSync(fledgeCommand(args, opts), childSpawnOptions(opts));
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

/**
 * The fast path for a test that checks only output and exit code: fledge's main(argv)
 * in this process (tests/helpers/inproc.ts), with the same environment, cwd and
 * non-terminal stdin a child would get. Falls back to a real child where that cannot
 * be done (no bun:ffi), and always spawns for `bin` or `stdin`.
 */
export async function runFledgeInProcess(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (opts.bin === undefined && opts.stdin === undefined && canRunInProcess()) {
    return runMainInProcess(args, { env: childEnv(opts), cwd: opts.cwd ?? ROOT });
  }
  const proc = Bun.spawn(fledgeCommand(args, opts), childSpawnOptions(opts));
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** The minimal, explicit environment fledge runs with in tests. */
export function childEnv(opts: RunOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    NO_COLOR: "1",
  };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // A test that names no config location must still not write the developer's real
  // one (fledge's prepared-module cache lives in <config>/cache/wasm).
  const named = opts.env ?? {};
  if (!("FLEDGE_CONFIG_DIR" in named) && !("XDG_CONFIG_HOME" in named) && !("HOME" in named)) env.FLEDGE_CONFIG_DIR = defaultTestConfig();
  return env;
}

let testConfig: string | undefined;
/** One throwaway config folder per test process, removed when it exits. */
function defaultTestConfig(): string {
  if (!testConfig) {
    testConfig = mkdtempSync(join(tmpdir(), "fledge-test-config-"));
    const dir = testConfig;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return testConfig;
}

/** A fresh temp dir; call the returned cleanup in afterEach/afterAll. */
export function tempDir(prefix = "fledge-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
