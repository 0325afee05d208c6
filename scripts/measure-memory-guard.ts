/**
 * What the memory guard (src/wasm/memory-guard.ts) costs and how tight it is, each
 * figure from fresh fledge processes (their own rusage):
 *
 * - overshoot: peak RSS of a process the guard stopped, against its limit
 *   (`--max-memory 1MiB` + HOST_MEMORY_ALLOWANCE), for hostile modules loaded by
 *   `wasm run` and `wasm prepare`;
 * - sampling CPU: user + system time of `wasm run` of a guest idle for 3 s
 *   (hostgate.wasm `p`, ended by `--timeout 3`);
 * - start-up: wall time and CPU of a cached `wasm run hello.wasm`, median of 10.
 *
 * The last two compare with another checkout (`--baseline DIR`, e.g. an export of the
 * commit before the guard, with its node_modules linked), run interleaved with this one.
 *
 *   bun run scripts/measure-memory-guard.ts [--baseline DIR] [--runs N]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HOST_MEMORY_ALLOWANCE } from "../src/wasm/memory-guard.ts";
import { addsModule, emptyLoopsModule } from "../tests/helpers/loop-modules.ts";

const ROOT = join(import.meta.dir, "..");
const MiB = 2 ** 20;
const { values } = parseArgs({ options: { baseline: { type: "string" }, runs: { type: "string", default: "3" } } });
const runs = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), "fledge-measure-guard-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, FLEDGE_CONFIG_DIR: join(dir, "cfg"), NO_COLOR: "1" };
mkdirSync(env.FLEDGE_CONFIG_DIR, { recursive: true });

interface Sample {
  code: number;
  peak: number;
  cpuMs: number;
  wallMs: number;
}

function fledge(checkout: string, args: string[]): Sample {
  const t = performance.now();
  const p = Bun.spawnSync([process.execPath, join(checkout, "src", "main.ts"), ...args], { env, stdout: "ignore", stderr: "ignore", stdin: "ignore" });
  const wallMs = performance.now() - t;
  const { user, system } = p.resourceUsage.cpuTime;
  return { code: p.exitCode ?? -1, peak: p.resourceUsage.maxRSS, cpuMs: Number(user + system) / 1000, wallMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

// Overshoot.
const limit = MiB + HOST_MEMORY_ALLOWANCE;
const adds = join(dir, "adds.wasm");
const empty = join(dir, "empty.wasm");
writeFileSync(adds, addsModule());
writeFileSync(empty, emptyLoopsModule());
console.log(`overshoot: peak RSS of the stopped process - limit (${mib(limit)})`);
for (const [what, args] of [
  ["wasm run, accepted module (compile)", ["wasm", "run", "--no-cache", "--max-memory", "1MiB", adds]],
  ["wasm run, refused by the size cap", ["wasm", "run", "--no-cache", "--max-memory", "1MiB", empty]],
  ["wasm prepare, refused by the size cap", ["wasm", "prepare", "--max-memory", "1MiB", empty]],
] as const) {
  const s = Array.from({ length: runs }, () => fledge(ROOT, [...args]));
  console.log(`  ${what}: exit ${[...new Set(s.map((x) => x.code))].join("/")}, ${s.map((x) => mib(x.peak - limit)).join(", ")}`);
}

// Sampling CPU and start-up, interleaved with the baseline.
const checkouts: Array<[string, string]> = [["guard", ROOT]];
if (values.baseline) checkouts.push(["baseline", values.baseline]);
const idle = ["wasm", "run", "--timeout", "3", join(ROOT, "tests", "fixtures", "wasi", "hostgate.wasm"), "p"];
const hello = ["wasm", "run", join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm")];
const cpu = new Map<string, number[]>();
const start = new Map<string, Sample[]>();
for (const [, c] of checkouts) fledge(c, hello); // fills each checkout's cache entry
for (let i = 0; i < runs; i++) for (const [name, c] of checkouts) cpu.set(name, [...(cpu.get(name) ?? []), fledge(c, idle).cpuMs]);
for (let i = 0; i < 10; i++) for (const [name, c] of checkouts) start.set(name, [...(start.get(name) ?? []), fledge(c, hello)]);
console.log("idle 3 s guest, user+sys CPU ms:");
for (const [name] of checkouts) console.log(`  ${name}: ${cpu.get(name)!.map((x) => x.toFixed(0)).join(", ")}`);
console.log("cached hello.wasm, median of 10:");
for (const [name] of checkouts) {
  const s = start.get(name)!;
  console.log(`  ${name}: wall ${median(s.map((x) => x.wallMs)).toFixed(1)} ms, CPU ${median(s.map((x) => x.cpuMs)).toFixed(1)} ms, peak ${mib(median(s.map((x) => x.peak)))}`);
}
