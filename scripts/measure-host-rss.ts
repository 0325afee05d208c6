/**
 * Peak RSS of fledge against guests that make the HOST allocate (issue 10, item 4):
 * directory listings, 16 MiB messages, idle loops. Each case runs in a fresh process
 * under /usr/bin/time (max resident set size); the report compares it with the
 * run's --max-memory plus HOST_RSS_CONSTANT, the bound README states.
 *
 *   bun run scripts/measure-host-rss.ts            # all cases
 *   bun run scripts/measure-host-rss.ts readdir    # one case
 *
 * Module-level caps (tables, function counts, nesting) are measured by their own
 * tests; this script covers what a running guest can make the host hold.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const MAIN = join(ROOT, "src", "main.ts");
const GUESTS = join(ROOT, "tests", "fixtures", "wasi");
/** The documented bound: fledge's peak RSS stays under max-memory plus this. */
export const HOST_RSS_CONSTANT = 256 * 1024 * 1024;

interface Case {
  name: string;
  what: string;
  maxMemory: number;
  /** argv after `bun`, or a driver (args for this script's --plugin mode). */
  argv: (dir: string) => string[];
  setup?: (dir: string) => void;
}

const MiB = 1024 * 1024;

const CASES: Case[] = [
  {
    name: "idle",
    what: "baseline: sched_yield loop for 1 s",
    maxMemory: 1 * MiB,
    argv: () => [MAIN, "wasm", "run", "--max-memory", "1MiB", "--timeout", "1", join(GUESTS, "hostgate.wasm"), "y"],
  },
  {
    name: "readdir",
    what: "80 directory fds, each fd_readdir'd from cookie 0, over 20,000 names of 200+ bytes",
    maxMemory: 1 * MiB,
    setup: (dir) => {
      const d = join(dir, "names");
      mkdirSync(d);
      for (let i = 0; i < 20_000; i++) writeFileSync(join(d, `${"n".repeat(200)}${i}`), "");
    },
    argv: (dir) => [MAIN, "wasm", "run", "--max-memory", "1MiB", "--timeout", "120", "--dir", `${join(dir, "names")}::/d`, join(GUESTS, "hostgate.wasm"), "d", "80"],
  },
  {
    name: "sendflood",
    what: "zero-capability plugin: 16 MiB sends (nested brackets, then a padded message) in a loop for 3 s",
    maxMemory: 64 * MiB,
    argv: () => [join(ROOT, "scripts", "measure-host-rss.ts"), "--plugin", join(GUESTS, "sendflood.wasm"), String(64 * MiB), "3000"],
  },
];

/** --plugin mode: run one wasm plugin in this process (the real runner), for the sendflood case. */
async function pluginMode(wasm: string, maxMemory: number, timeoutMs: number): Promise<void> {
  const { runWasmPlugin } = await import("../src/host/wasm-runner.ts");
  const { NO_CAPABILITIES } = await import("../src/manifest/types.ts");
  const dir = mkdtempSync(join(tmpdir(), "fledge-rss-plugin-"));
  let warnings = 0;
  try {
    await runWasmPlugin({
      plugin: { name: "flood", version: "1.0.0", dir },
      capabilities: { ...NO_CAPABILITIES },
      wasmPath: join(dir, "p.wasm"),
      bytes: new Uint8Array(readFileSync(wasm)),
      args: [],
      projectRoot: dir,
      stateFile: join(dir, "state.json"),
      limits: { fuel: null, maxMemoryBytes: maxMemory, timeoutMs },
      io: { stdout: () => {}, stderr: () => void warnings++, interactive: false, color: false },
      noCache: true,
    });
  } catch (e) {
    console.error(`ended: ${(e as Error).message} (${warnings} warnings)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measure(c: Case): { peak: number; code: number | null; seconds: number; tail: string } {
  const dir = mkdtempSync(join(tmpdir(), `fledge-rss-${c.name}-`));
  try {
    c.setup?.(dir);
    const started = performance.now();
    const r = spawnSync("/usr/bin/time", ["-f", "RSS_KB=%M", process.execPath, ...c.argv(dir)], {
      env: { ...process.env, FLEDGE_CONFIG_DIR: join(dir, "config"), HOME: dir, NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 300_000,
    });
    const kb = /RSS_KB=(\d+)/.exec(r.stderr ?? "")?.[1];
    const tail = (r.stderr ?? "").replace(/RSS_KB=\d+\s*/, "").trim().split("\n").filter(Boolean).slice(-1)[0] ?? "";
    return { peak: kb ? Number(kb) * 1024 : NaN, code: r.status, seconds: (performance.now() - started) / 1000, tail };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--plugin") return pluginMode(argv[1]!, Number(argv[2]), Number(argv[3]));
  const only = new Set(argv);
  console.log(`bound: peak RSS <= max-memory + ${HOST_RSS_CONSTANT / MiB} MiB\n`);
  console.log("case        max-memory  peak RSS   bound     ok   exit  time   what");
  let failed = false;
  for (const c of CASES) {
    if (only.size > 0 && !only.has(c.name)) continue;
    const m = measure(c);
    const bound = c.maxMemory + HOST_RSS_CONSTANT;
    const ok = m.peak <= bound;
    failed ||= !ok;
    const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`.padEnd(10);
    console.log(`${c.name.padEnd(12)}${mib(c.maxMemory)}  ${mib(m.peak)} ${mib(bound)}${ok ? "yes" : "NO "}  ${String(m.code).padEnd(5)} ${m.seconds.toFixed(1).padStart(5)}s ${c.what}`);
    if (m.tail) console.log(`            ${m.tail}`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
