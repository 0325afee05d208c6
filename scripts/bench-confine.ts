/**
 * What confinement adds to a native plugin's start (README "Start cost"): the same
 * trivial shell plugin (tests/fixtures/plugins/hello-native) installed twice, once
 * confined and once `--unconfined`, run side by side (alternating, medians) through the
 * built binary (dist/fledge, when present) and from source. CPU time is user+sys of the
 * whole fledge process tree from its rusage (fledge waits for the launcher and the
 * plugin, so theirs is included); wall time is shown too but means little on a shared
 * machine. Also: the policy alone (confinementRules in-process, cold and warm) and its
 * rule count.
 *
 *   bun scripts/bench-confine.ts [rounds=15]
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confinementRules } from "../src/confine/policy.ts";

const ROOT = join(import.meta.dir, "..");
const rounds = Number(process.argv[2] ?? 15);

interface Sample {
  cpuMs: number;
  wallMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const base = realpathSync(mkdtempSync(join(tmpdir(), "fledge-bench-confine-")));
const home = join(base, "home");
const config = join(home, ".config", "fledge");
const project = join(base, "project");
for (const d of [join(home, ".ssh"), join(home, "notes"), join(home, ".config", "gh"), join(project, "src")]) mkdirSync(d, { recursive: true });
for (const n of ["a", "b", "c", "d", "e", "f", "g", "h"]) mkdirSync(join(home, `dir-${n}`), { recursive: true });
writeFileSync(join(home, ".bashrc"), "");
Bun.spawnSync(["git", "init", "-q", project]);
const env: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: config, NO_COLOR: "1", LANG: "C" };

function fledgeCmd(dev: boolean): string[] {
  return dev ? [process.execPath, join(ROOT, "src", "main.ts")] : [join(ROOT, "dist", "fledge")];
}

function run(cmd: string[]): Sample {
  const t0 = performance.now();
  const p = Bun.spawnSync(cmd, { cwd: project, env, stdout: "ignore", stderr: "pipe", stdin: "ignore" });
  const wallMs = performance.now() - t0;
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().slice(0, 2000)}`);
  const u = p.resourceUsage;
  return { cpuMs: Number(u.cpuTime.user + u.cpuTime.system) / 1000, wallMs };
}

function install(dev: boolean): void {
  const src = join(ROOT, "tests", "fixtures", "plugins", "hello-native");
  const free = join(base, "hello-free");
  cpSync(src, free, { recursive: true });
  const manifest = join(free, "plugin.toml");
  writeFileSync(manifest, readFileSync(manifest, "utf8").replaceAll("hello-native", "hello-free").replace('binary = "bin/hello-free"', 'binary = "bin/hello-native"'));
  for (const [dir, extra] of [[src, []], [free, ["--unconfined"]]] as const) {
    const p = Bun.spawnSync([...fledgeCmd(dev), "plugins", "install", dir, "--copy", "--yes", "--trust-native", ...extra], { cwd: project, env, stdout: "ignore", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`install failed: ${p.stderr.toString()}`);
  }
}

function sideBySide(dev: boolean): void {
  const confined = (): Sample => run([...fledgeCmd(dev), "hello-native"]);
  const free = (): Sample => run([...fledgeCmd(dev), "hello-free"]);
  const as: Sample[] = [];
  const bs: Sample[] = [];
  confined();
  free();
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      as.push(confined());
      bs.push(free());
    } else {
      bs.push(free());
      as.push(confined());
    }
  }
  const a = { cpu: median(as.map((s) => s.cpuMs)), wall: median(as.map((s) => s.wallMs)) };
  const b = { cpu: median(bs.map((s) => s.cpuMs)), wall: median(bs.map((s) => s.wallMs)) };
  const label = dev ? "from source" : "dist/fledge";
  console.log(`${label}: confined ${a.cpu.toFixed(1)} ms CPU (${a.wall.toFixed(0)} ms wall), unconfined ${b.cpu.toFixed(1)} ms CPU (${b.wall.toFixed(0)} ms wall): +${(a.cpu - b.cpu).toFixed(1)} ms CPU, ${(a.cpu / b.cpu).toFixed(2)}x`);
}

function policy(): void {
  const grant = { pluginDir: join(config, "plugins", "hello-native"), projectRoot: project, projectWritable: false, network: false, tempDir: join(base, "tmp"), fledgeConfigDir: config };
  const cpu = (): number => {
    const u0 = process.cpuUsage();
    confinementRules(grant, env);
    const u = process.cpuUsage(u0);
    return (u.user + u.system) / 1000;
  };
  const cold = cpu();
  const warm: number[] = [];
  for (let i = 0; i < rounds; i++) warm.push(cpu());
  const rules = confinementRules(grant, env).fs.length;
  const rw = confinementRules({ ...grant, projectWritable: true }, env).fs.length;
  console.log(`policy (in-process): cold ${cold.toFixed(1)} ms CPU, warm median ${median(warm).toFixed(1)} ms CPU; ${rules} rules (${rw} with the project writable)`);
}

try {
  console.log(`load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}, ${rounds} rounds each`);
  policy();
  install(true);
  if (existsSync(join(ROOT, "dist", "fledge"))) sideBySide(false);
  else console.log("dist/fledge: not built (bun run build)");
  sideBySide(true);
} finally {
  rmSync(base, { recursive: true, force: true });
}
