/**
 * A child process's own peak RSS, whatever the test process holds. Linux carries the
 * high-water mark of the address space a process had before exec into the rusage of
 * the new program, and Bun starts children with a vfork-style clone that shares the
 * parent's address space until exec: a fledge child spawned straight from a test
 * process that had grown to 1.8 GB (another test file in the same worker) reported a
 * 1.8 GB peak. So the command runs under a small launcher process
 * (./peak-rss-launcher.ts) that spawns it and reports its rusage: the inherited mark is
 * then the launcher's own (a bare Bun, ~40 MiB), below any fledge process's peak.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LAUNCHER = join(import.meta.dir, "peak-rss-launcher.ts");

export interface MeasuredRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The command's own peak RSS in bytes. */
  peak: number;
}

export interface MeasuredOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeout?: number;
  /** An fd for the command's stderr instead of capturing it (the result's stderr is then empty). */
  stderr?: number;
}

/** Runs `argv` (stdin ignored, stdout and stderr captured) and measures its peak RSS. */
export function spawnMeasured(argv: string[], opts: MeasuredOptions = {}): MeasuredRun {
  const dir = mkdtempSync(join(tmpdir(), "fledge-peak-"));
  try {
    const out = join(dir, "peak");
    const p = Bun.spawnSync([process.execPath, LAUNCHER, out, ...argv], {
      cwd: opts.cwd,
      env: opts.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: opts.stderr ?? "pipe",
      timeout: opts.timeout ?? 120_000,
    });
    let peak = Number.NaN;
    try {
      peak = Number(readFileSync(out, "utf8"));
    } catch {
      // The launcher did not finish (timeout): the caller sees NaN and fails its bound.
    }
    return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr?.toString() ?? "", peak };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
