/**
 * The speed rows of `bun run bench`: each fledge figure measured side by side with its
 * baseline in one run (the two commands alternate, first one then the other, so load
 * on the shared machine hits both alike), as medians of whole-process CPU time (user +
 * system, from the child's rusage) or peak RSS, printed as a ratio against the goal.
 *
 *   start    `fledge --version`                  vs a compiled Bun hello world      <= 1.3x
 *   hello    `fledge wasm run hello.wasm` (warm) vs Bun's raw node:wasi             <= 1.0x
 *   yosys    `fledge wasm run yosys.wasm -V`     vs Bun's raw node:wasi             <= 1.05x
 *   prepare  `fledge wasm prepare yosys.wasm`    vs read + WebAssembly.compile      <= 1.5x, >= 60 MB/s
 *   memory   peak RSS: hello, yosys synth        vs Bun's raw node:wasi             <= 1.2x
 *            peak RSS: prepare yosys             vs compile alone                   <= 1.5x
 *   list     `fledge plugins list` with 1000 plugins (total CPU time)               <= 30 ms
 *            and the first list after a registry change (no snapshot, no remembered table)
 *   copy     `fledge plugins install DIR --copy` vs `cp -r DIR`                     <= 2x
 *
 * yosys is a real third-party module (30.8 MB, @yowasp/yosys on the npm registry),
 * fetched once with `npm pack` into the bench cache (FLEDGE_BENCH_CACHE, default
 * ~/.cache/fledge-bench); without the registry its rows are skipped.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakePlugins } from "./bench-plugins.ts";
import { benchCacheDir } from "./bench-metering.ts";

type Row = (section: string, what: string, value: string, target: string, met: boolean | null) => void;

interface Sample {
  cpuMs: number;
  wallMs: number;
  rssMiB: number;
}

const ROOT = join(import.meta.dir, "..");
const RUNNER = join(ROOT, "scripts", "compare-wasi", "wasi-runner.mjs");
const YOSYS_PKG = "@yowasp/yosys@0.55.944";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One whole process: CPU time and peak RSS from its rusage. */
function proc(cmd: string[], env: Record<string, string> = {}, before?: () => void): Sample {
  before?.();
  const t0 = performance.now();
  const p = Bun.spawnSync(cmd, {
    stdout: "ignore",
    stderr: "pipe",
    stdin: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...env },
  });
  const wallMs = performance.now() - t0;
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().slice(0, 2000)}`);
  const u = p.resourceUsage;
  return { cpuMs: Number(u.cpuTime.user + u.cpuTime.system) / 1000, wallMs, rssMiB: u.maxRSS / 2 ** 20 };
}

/** `n` rounds of a and b alternating (a b, b a, ...): medians of each. */
function sideBySide(n: number, a: () => Sample, b: () => Sample): { a: Sample; b: Sample } {
  const as: Sample[] = [];
  const bs: Sample[] = [];
  a(); // warm the page cache for both
  b();
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      as.push(a());
      bs.push(b());
    } else {
      bs.push(b());
      as.push(a());
    }
  }
  const med = (xs: Sample[]): Sample => ({ cpuMs: median(xs.map((x) => x.cpuMs)), wallMs: median(xs.map((x) => x.wallMs)), rssMiB: median(xs.map((x) => x.rssMiB)) });
  return { a: med(as), b: med(bs) };
}

function ratioRow(row: Row, section: string, what: string, a: number, b: number, unit: string, goal: number): void {
  const r = a / b;
  row(section, `${what}: ${a.toFixed(unit === "MiB" ? 0 : 1)} ${unit} / ${b.toFixed(unit === "MiB" ? 0 : 1)} ${unit}`, `${r.toFixed(2)}x`, `<= ${goal}x`, r <= goal);
}

/** A compiled Bun hello world, built once per Bun version into the bench cache. */
function bunHello(): string {
  const dir = join(benchCacheDir(), `bun-hello-${Bun.version}`);
  const bin = join(dir, "hello");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "hello.ts"), 'console.log("hello world");\n');
    const b = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", "--bytecode", join(dir, "hello.ts"), "--outfile", bin], { stdout: "ignore", stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`bun build --compile hello.ts failed: ${b.stderr.toString()}`);
  }
  return bin;
}

/** yosys.wasm and its share folder (techmap libraries, preopened at /share) from @yowasp/yosys on the npm registry, cached; null when they cannot be had. */
export function yosysWasm(): { wasm: string; share: string } | null {
  const dir = join(benchCacheDir(), "yosys-0.55.944");
  const file = join(dir, "yosys.wasm");
  const share = join(dir, "share");
  if (existsSync(file) && existsSync(share)) return { wasm: file, share };
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const pack = Bun.spawnSync(["npm", "pack", YOSYS_PKG, "--pack-destination", tmp], { stdout: "pipe", stderr: "pipe" });
    if (pack.exitCode !== 0) return null;
    const tgz = pack.stdout.toString().trim().split("\n").pop()!;
    const x = Bun.spawnSync(["tar", "xzf", join(tmp, tgz), "-C", tmp, "package/gen/yosys.core.wasm", "package/gen/share"], { stderr: "pipe" });
    if (x.exitCode !== 0) return null;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, "package", "gen", "share"), share);
    renameSync(join(tmp, "package", "gen", "yosys.core.wasm"), file);
    return { wasm: file, share };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A small design for `yosys synth` (a counter with an adder). */
const DESIGN = `module top(input clk, input rst, input [15:0] a, input [15:0] b, output reg [15:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + a * b;
endmodule
`;

export async function benchSpeed(row: Row, opts: { quick: boolean; bin: string; tmp: string; skip: Set<string> }): Promise<void> {
  const { quick, bin, tmp, skip } = opts;
  const n = quick ? 5 : 15;
  const cfg = join(tmp, "speed-cfg");
  const env = { FLEDGE_CONFIG_DIR: cfg };

  if (!skip.has("start")) {
    process.stderr.write("start: fledge --version vs a compiled Bun hello world (CPU time)\n");
    const hello = bunHello();
    const r = sideBySide(n * 2, () => proc([bin, "--version"]), () => proc([hello]));
    ratioRow(row, "start", "fledge --version / Bun hello world", r.a.cpuMs, r.b.cpuMs, "ms", 1.3);
  }

  const helloWasm = join(tmp, "hello.wasm");
  copyFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm"), helloWasm);
  if (!skip.has("hello")) {
    process.stderr.write("hello: cached start of a hello-world module (CPU time)\n");
    proc([bin, "wasm", "prepare", helloWasm], env);
    // A stamp is written once the file has settled (src/wasm/source-stamp.ts): run once after that.
    await Bun.sleep(2_100);
    proc([bin, "wasm", "run", helloWasm], env);
    const r = sideBySide(n * 2, () => proc([bin, "wasm", "run", helloWasm], env), () => proc([process.execPath, RUNNER, helloWasm]));
    ratioRow(row, "cached start", "wasm run hello.wasm (cache warm) / Bun node:wasi", r.a.cpuMs, r.b.cpuMs, "ms", 1.0);
    ratioRow(row, "memory", "peak RSS, wasm run hello.wasm / Bun node:wasi", r.a.rssMiB, r.b.rssMiB, "MiB", 1.2);
  }

  const fetched = skip.has("yosys") && skip.has("prepare") ? null : yosysWasm();
  const yosys = fetched?.wasm;
  if (!yosys && !(skip.has("yosys") && skip.has("prepare"))) process.stderr.write("  (yosys.wasm could not be fetched from the npm registry: its rows are skipped)\n");
  const yn = quick ? 3 : 7;
  if (yosys && !skip.has("yosys")) {
    process.stderr.write("yosys: cached start of a 30.8 MB third-party module (CPU time)\n");
    proc([bin, "wasm", "prepare", yosys], env);
    proc([bin, "wasm", "run", yosys, "-V"], env); // stamps the source once it has settled
    const r = sideBySide(yn, () => proc([bin, "wasm", "run", yosys, "-V"], env), () => proc([process.execPath, RUNNER, yosys, "-V"]));
    ratioRow(row, "cached start", "wasm run yosys.wasm -V (cache warm) / Bun node:wasi", r.a.cpuMs, r.b.cpuMs, "ms", 1.05);
    const work = join(tmp, "synth");
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, "top.v"), DESIGN);
    // synth's technology mapping reads libraries the npm package keeps inside its JS
    // loader; the generic passes before it need none.
    const script = "read_verilog /w/top.v; hierarchy -top top; proc; opt; memory; opt; fsm; opt; wreduce; alumacc; share; opt; stat";
    const dirs = ["--dir", `${work}::/w`];
    const s = sideBySide(
      quick ? 1 : 3,
      () => proc([bin, "wasm", "run", ...dirs, yosys, "-q", "-p", script], env),
      () => proc([process.execPath, RUNNER, ...dirs, yosys, "-q", "-p", script]),
    );
    ratioRow(row, "memory", "peak RSS, yosys elaborate+optimize / Bun node:wasi", s.a.rssMiB, s.b.rssMiB, "MiB", 1.2);
    ratioRow(row, "cached start", "yosys elaborate+optimize CPU time / Bun node:wasi", s.a.cpuMs, s.b.cpuMs, "ms", 1.05);
  }

  if (yosys && !skip.has("prepare")) {
    process.stderr.write("prepare: first prepare of yosys.wasm vs read + WebAssembly.compile (CPU time)\n");
    const compile = join(tmp, "compile.mjs");
    writeFileSync(compile, 'import { readFileSync } from "node:fs";\nawait WebAssembly.compile(readFileSync(process.argv[2]));\n');
    const fresh = join(tmp, "prepare-cfg");
    const r = sideBySide(
      quick ? 1 : 3,
      () => proc([bin, "wasm", "prepare", yosys], { FLEDGE_CONFIG_DIR: fresh }, () => rmSync(fresh, { recursive: true, force: true })),
      () => proc([process.execPath, compile, yosys]),
    );
    const mb = Bun.file(yosys).size / 1e6;
    ratioRow(row, "prepare", "wasm prepare yosys.wasm / read + compile", r.a.cpuMs, r.b.cpuMs, "ms", 1.5);
    // Validation runs on a second thread beside the rewrite: wall time shows that overlap, CPU time cannot.
    ratioRow(row, "prepare", "wasm prepare yosys.wasm / read + compile, wall time", r.a.wallMs, r.b.wallMs, "ms", 1.5);
    const rate = mb / (r.a.cpuMs / 1000);
    row("prepare", `wasm prepare yosys.wasm throughput (${mb.toFixed(1)} MB)`, `${rate.toFixed(0)} MB/s`, ">= 60 MB/s", rate >= 60);
    ratioRow(row, "memory", "peak RSS, wasm prepare yosys.wasm / compile alone", r.a.rssMiB, r.b.rssMiB, "MiB", 1.5);
  }

  if (!skip.has("list")) {
    process.stderr.write("list: plugins list with 1000 plugins (CPU time)\n");
    const listCfg = join(tmp, "list-1000");
    fakePlugins(listCfg, 1000);
    const r = sideBySide(n, () => proc([bin, "plugins", "list"], { FLEDGE_CONFIG_DIR: listCfg }), () => proc([bin, "--version"]));
    row("list", `plugins list, 1000 plugins (--version: ${r.b.cpuMs.toFixed(1)} ms)`, `${r.a.cpuMs.toFixed(1)} ms (${(((r.a.cpuMs - r.b.cpuMs) / 1000) * 1000).toFixed(0)} us a plugin)`, "<= 30 ms", r.a.cpuMs <= 30);
    // The first list after plugins.toml changed: no snapshot, no remembered table (both in <config>/cache).
    const cold = sideBySide(n, () => proc([bin, "plugins", "list"], { FLEDGE_CONFIG_DIR: listCfg }, () => rmSync(join(listCfg, "cache"), { recursive: true, force: true })), () => proc([bin, "--version"]));
    row("list", "plugins list, 1000 plugins, first after a registry change (cache removed)", `${cold.a.cpuMs.toFixed(1)} ms`, "", null);
  }

  if (!skip.has("copy")) {
    process.stderr.write("copy: install a local plugin folder with --copy vs cp -r (CPU time)\n");
    const src = join(tmp, "local-plugin");
    cpSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm"), src, { recursive: true });
    const icfg = join(tmp, "copy-cfg");
    const dest = join(tmp, "cp-dest");
    const r = sideBySide(
      n,
      () => proc([bin, "plugins", "install", src, "--copy", "--yes"], { FLEDGE_CONFIG_DIR: icfg }, () => rmSync(icfg, { recursive: true, force: true })),
      () => proc(["cp", "-r", src, dest], {}, () => rmSync(dest, { recursive: true, force: true })),
    );
    ratioRow(row, "install", "plugins install DIR --copy / cp -r DIR", r.a.cpuMs, r.b.cpuMs, "ms", 2);
  }
}
