/**
 * Peak RSS (and wall time) of fledge while it LOADS a module: decode, instrument,
 * validate, compile. Each measurement is one fresh `fledge` process (from source, or
 * dist/fledge with --binary) with its own temporary FLEDGE_CONFIG_DIR and HOME; the
 * peak is the child's rusage maxrss as the kernel reports it when the child is
 * reaped (it covers the child's own reaped children too), so no /usr/bin/time is
 * needed.
 *
 *   bun scripts/measure-load-rss.ts [--runs N] [--max-memory SIZE] [--binary] [--root DIR] module.wasm... [-- guest args]
 *
 * Per module, four runs (medians over N, default 1):
 *   prepare        fledge wasm prepare M                 (instrument + write the cache)
 *   run --no-cache fledge wasm run --no-cache M -- ARGS  (instrument + compile + run)
 *   run cached     fledge wasm run M -- ARGS             (after a prepare: read the cache + compile + run)
 * --max-memory is passed to every command (the cache is keyed by it). --root measures
 * another checkout of fledge (before/after comparisons). A module that
 * fledge refuses (e.g. over the instrumented size cap) is still measured: the exit
 * code is printed beside its peak.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

let ROOT = join(import.meta.dir, "..");

interface Sample {
  code: number;
  peakBytes: number;
  seconds: number;
}

function usage(): never {
  console.error("usage: bun scripts/measure-load-rss.ts [--runs N] [--max-memory SIZE] [--binary] [--root DIR] module.wasm... [-- guest args]");
  process.exit(2);
}

function parseArgs(argv: string[]): { runs: number; maxMemory: string | null; binary: boolean; modules: string[]; guest: string[] } {
  const dash = argv.indexOf("--");
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const guest = dash >= 0 ? argv.slice(dash + 1) : [];
  let runs = 1;
  let maxMemory: string | null = null;
  let binary = false;
  const modules: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!;
    if (a === "--runs") runs = Number(own[++i]);
    else if (a === "--max-memory") maxMemory = own[++i] ?? usage();
    else if (a === "--binary") binary = true;
    else if (a === "--root") ROOT = own[++i] ?? usage();
    else if (a.startsWith("-")) usage();
    else modules.push(a);
  }
  if (!Number.isInteger(runs) || runs < 1 || modules.length === 0) usage();
  return { runs, maxMemory, binary, modules, guest };
}

/** One fledge command in a fresh process; `config` is the config folder (kept across a prepare and the run after it). */
function fledge(cmd: string[], config: string, home: string, binary: boolean): Sample {
  const argv = binary ? [join(ROOT, "dist", "fledge"), ...cmd] : [process.execPath, join(ROOT, "src", "main.ts"), ...cmd];
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { env: { ...process.env, FLEDGE_CONFIG_DIR: config, HOME: home }, stdout: "ignore", stderr: "pipe" });
  const seconds = (performance.now() - t0) / 1000;
  // Bun converts the kernel's ru_maxrss (KiB) to bytes.
  return { code: r.exitCode ?? -1, peakBytes: r.resourceUsage.maxRSS, seconds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function measure(label: string, runs: number, one: () => Sample): void {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(one());
  const peak = median(samples.map((s) => s.peakBytes)) / 2 ** 20;
  const secs = median(samples.map((s) => s.seconds));
  const codes = [...new Set(samples.map((s) => s.code))].join(",");
  console.log(`${label.padEnd(44)} peak ${peak.toFixed(0).padStart(5)} MiB  ${secs.toFixed(2).padStart(6)} s  exit ${codes}`);
}

function main(): void {
  const { runs, maxMemory, binary, modules, guest } = parseArgs(process.argv.slice(2));
  if (binary && !existsSync(join(ROOT, "dist", "fledge"))) throw new Error("--binary: dist/fledge is not built (bun run build)");
  const mem = maxMemory ? ["--max-memory", maxMemory] : [];
  const tail = guest.length ? ["--", ...guest] : [];
  for (const m of modules) {
    const name = basename(m);
    // Each sample gets fresh folders: nothing cached leaks from one run into the next.
    const fresh = <T>(f: (config: string, home: string) => T): T => {
      const dir = mkdtempSync(join(tmpdir(), "fledge-load-rss-"));
      try {
        return f(join(dir, "config"), dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    measure(`${name}: wasm prepare`, runs, () => fresh((c, h) => fledge(["wasm", "prepare", ...mem, m], c, h, binary)));
    measure(`${name}: wasm run --no-cache`, runs, () => fresh((c, h) => fledge(["wasm", "run", "--no-cache", ...mem, m, ...tail], c, h, binary)));
    measure(`${name}: wasm run (cached)`, runs, () =>
      fresh((c, h) => {
        fledge(["wasm", "prepare", ...mem, m], c, h, binary);
        return fledge(["wasm", "run", ...mem, m, ...tail], c, h, binary);
      }),
    );
  }
}

main();
