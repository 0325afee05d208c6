/**
 * Installer benchmarks (merged into `bun run bench` by the lead):
 * - install_ms: `fledge plugins install owner/repo` of a small prebuilt wasm plugin
 *   from the loopback fake GitHub API (resolve ref, download, extract, validate,
 *   hash, commit); no build step. Each run uses a fresh config dir.
 * - list_100_ms: `fledge plugins list --json` with 100 installed plugins.
 * Both are wall-clock times of a whole fledge process, median of RUNS runs.
 * Prints one JSON object on stdout; human lines on stderr.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakePlugins } from "./bench-plugins.ts";
import { startGithubServer } from "../tests/helpers/github-server.ts";

const ROOT = join(import.meta.dir, "..");
const MAIN = join(ROOT, "src", "main.ts");
/** `bun run bench` passes the compiled binary; run alone, the sources are used. */
const CMD = process.env.BENCH_FLEDGE_BIN ? [process.env.BENCH_FLEDGE_BIN] : [process.execPath, MAIN];
const HELLO = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm");
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

async function fledge(args: string[], env: Record<string, string>): Promise<number> {
  const start = performance.now();
  const p = Bun.spawn([...CMD, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const ms = performance.now() - start;
  if (code !== 0) throw new Error(`fledge ${args.join(" ")} failed (${code}): ${err}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const tmp = mkdtempSync(join(tmpdir(), "fledge-bench-install-"));
const gh = await startGithubServer();
try {
  gh.addRepo("bench/hello-wasm", { dir: HELLO });
  const installs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const config = join(tmp, `install-${i}`);
    installs.push(await fledge(["plugins", "install", "bench/hello-wasm"], { FLEDGE_CONFIG_DIR: config, FLEDGE_GITHUB_API_URL: gh.url }));
  }

  // 100 installed plugins, written directly (the registry and one dir per plugin).
  const config = join(tmp, "list-100");
  fakePlugins(config, 100);
  const lists: number[] = [];
  for (let i = 0; i < RUNS; i++) lists.push(await fledge(["plugins", "list", "--json"], { FLEDGE_CONFIG_DIR: config }));

  const result = { install_ms: Math.round(median(installs) * 10) / 10, list_100_ms: Math.round(median(lists) * 10) / 10, runs: RUNS };
  process.stderr.write(`install (loopback GitHub, no build): median ${result.install_ms} ms over ${RUNS} runs\n`);
  process.stderr.write(`plugins list --json, 100 plugins:   median ${result.list_100_ms} ms over ${RUNS} runs\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  gh.stop();
  rmSync(tmp, { recursive: true, force: true });
}
