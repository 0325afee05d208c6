import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/**
 * Run fledge as a real child process. The environment is minimal and explicit so a
 * developer's own config or tokens never leak into a test; NO_COLOR keeps output plain.
 */
export function runFledge(args: string[], opts: RunOptions = {}): RunResult {
  const cmd = opts.bin ? [opts.bin, ...args] : [process.execPath, MAIN, ...args];
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
  const proc = Bun.spawnSync(cmd, {
    env,
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin === undefined ? "ignore" : typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 30_000,
  });
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
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
