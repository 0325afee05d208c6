/**
 * Side-by-side comparison of WASI preview1 hosts:
 *   (a) fledge            `bun src/main.ts wasm run ...`
 *   (b) Node node:wasi    `node scripts/compare-wasi/wasi-runner.mjs ...`
 *   (c) Bun node:wasi     `bun  scripts/compare-wasi/wasi-runner.mjs ...`
 *
 * Workloads:
 *   - the conformance guests in tests/fixtures/wasi/*.wasm, invoked the way
 *     tests/wasi/*.test.ts invoke them; every `ok <case>` / `FAIL <case>` line is a case;
 *   - fstool's scripted sequence (tests/wasi-real/realprog-lib.ts), each step a case,
 *     judged against the same sequence run natively (needs `cc`);
 *   - the escape probes (tests/fixtures/realprog/escape-probe.wasm), one process per case.
 *
 * Every guest process gets a timeout, a fresh temp preopen and a temp cwd; the .wasm is
 * copied into a temp dir first so no host writes anything (e.g. a prepared-module cache)
 * beside the committed fixtures. Nothing outside the temp dirs is touched.
 *
 * Usage: bun scripts/compare-wasi.ts [--timeout SECONDS] [--only fledge,node,bun,bun+stubs]
 *                                    [--skip guests,fstool,escape-probe,<guest name>]
 *                                    [--json FILE] [--markdown FILE]
 *                                    [--fledge-bin PATH]   (e.g. dist/fledge instead of src/main.ts)
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import {
  FSTOOL_C,
  FSTOOL_WASM,
  GUEST_ROOT,
  nativeBuildCommand,
  normalizeOutput,
  PROBE_WASM,
  probeCases,
  REPO_ROOT,
  SEQUENCE,
  seedTree,
  setupProbeLayout,
  snapshotOutside,
  snapshotTree,
  substituteRoot,
} from "../tests/wasi-real/realprog-lib.ts";
import { GUEST_SPECS, type GuestInvocation, type GuestSpec, type Invocation } from "./compare-wasi/guests.ts";

// ---------------------------------------------------------------- options

interface Options {
  timeoutMs: number;
  only: Set<string> | null;
  skip: Set<string>;
  json: string | null;
  markdown: string | null;
  fledgeBin: string | null;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { timeoutMs: 20_000, only: null, skip: new Set(), json: null, markdown: null, fledgeBin: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--timeout") o.timeoutMs = Math.max(1, Number(next())) * 1000;
    else if (a === "--only") o.only = new Set(next().split(","));
    else if (a === "--skip") for (const s of next().split(",")) o.skip.add(s);
    else if (a === "--json") o.json = next();
    else if (a === "--fledge-bin") o.fledgeBin = next();
    else if (a === "--markdown") o.markdown = next();
    else if (a === "-h" || a === "--help") {
      console.log(
        "usage: bun scripts/compare-wasi.ts [--timeout S] [--only fledge,node,bun,bun+stubs] [--skip guests,fstool,escape-probe,<guest name>] [--json FILE] [--markdown FILE] [--fledge-bin PATH]",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------- hosts

interface Host {
  name: string;
  label: string;
  command(inv: Invocation): string[];
}

const BUN = process.execPath;
const NODE = Bun.which("node");
const RUNNER = join(REPO_ROOT, "scripts", "compare-wasi", "wasi-runner.mjs");
const MAIN = join(REPO_ROOT, "src", "main.ts");
/** How fledge is started: `bun src/main.ts` unless --fledge-bin names a compiled binary. */
let FLEDGE_CMD: string[] = [BUN, MAIN];

function hostFlags(inv: Invocation): string[] {
  const out: string[] = [];
  for (const d of inv.dirs) out.push("--dir", `${d.host}::${d.guest}${d.ro ? ":ro" : ""}`);
  for (const [k, v] of Object.entries(inv.env ?? {})) out.push("--env", `${k}=${v}`);
  return out;
}

const HOSTS: Host[] = [
  {
    name: "fledge",
    label: "fledge",
    // `--` keeps guest arguments such as `-C` away from fledge's own option parser.
    command: (inv) => [...FLEDGE_CMD, "wasm", "run", ...hostFlags(inv), inv.wasm, "--", ...inv.args],
  },
  {
    name: "node",
    label: `node:wasi (Node ${NODE ? nodeVersion() : "missing"})`,
    command: (inv) => [NODE ?? "node", "--no-warnings", RUNNER, ...hostFlags(inv), inv.wasm, ...inv.args],
  },
  {
    name: "bun",
    label: `node:wasi (Bun ${Bun.version})`,
    command: (inv) => [BUN, RUNNER, ...hostFlags(inv), inv.wasm, ...inv.args],
  },
  {
    // Bun's node:wasi lacks sock_accept, so any module importing it fails to link.
    // This column fills such gaps with ENOSYS stubs to measure everything else.
    name: "bun+stubs",
    label: `node:wasi (Bun ${Bun.version}) with missing imports stubbed to ENOSYS`,
    command: (inv) => [BUN, RUNNER, "--stub-missing", ...hostFlags(inv), inv.wasm, ...inv.args],
  },
];

function nodeVersion(): string {
  const r = Bun.spawnSync([NODE ?? "node", "--version"], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().trim().replace(/^v/, "");
}

// ---------------------------------------------------------------- processes

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  signal: string | null;
}

/** Temp dirs made by this run; all removed at exit (or earlier by dropTemp). */
const TEMPS = new Set<string>();
function temp(prefix: string): string {
  const p = mkdtempSync(join(tmpdir(), `fledge-cmp-${prefix}-`));
  TEMPS.add(p);
  return p;
}
function dropTemp(p: string): void {
  rmSync(p, { recursive: true, force: true });
  TEMPS.delete(p);
}

let SCRATCH_CWD = "";
let FLEDGE_CONFIG = "";

interface ProcOptions {
  stdin?: string | undefined;
  cwd?: string | undefined;
  hostEnv?: Record<string, string> | undefined;
}

async function runProc(cmd: string[], opts: ProcOptions, timeoutMs: number): Promise<ProcResult> {
  const { stdin } = opts;
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? SCRATCH_CWD,
    // A minimal env: no host variables reach a guest by accident, and fledge's own
    // config/cache lands in a temp dir.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: SCRATCH_CWD, NO_COLOR: "1", FLEDGE_CONFIG_DIR: FLEDGE_CONFIG, ...opts.hostEnv },
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  // Our own timer, so a timeout is told apart from a guest that made its host die by
  // a signal (node:wasi's proc_raise signals the host process).
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    const signal = proc.signalCode === null ? null : String(proc.signalCode);
    return { code, stdout, stderr, timedOut, signal };
  } finally {
    clearTimeout(timer);
  }
}

function describeExit(r: ProcResult): string {
  if (r.timedOut) return "timed out";
  if (r.signal) return `killed by ${r.signal}`;
  const last = r.stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "";
  return `exit ${r.code}${last ? `: ${last.slice(0, 160)}` : ""}`;
}

// ---------------------------------------------------------------- results

interface CaseResult {
  pass: boolean;
  detail: string;
}

/** suite -> case -> host -> result */
type Results = Map<string, Map<string, Map<string, CaseResult>>>;

function record(results: Results, suite: string, name: string, host: string, r: CaseResult): void {
  let s = results.get(suite);
  if (!s) results.set(suite, (s = new Map()));
  let c = s.get(name);
  if (!c) s.set(name, (c = new Map()));
  c.set(host, r);
}

/** Parse `ok <case>` / `FAIL <case>: detail` lines. */
export function parseCaseLines(stdout: string): Map<string, CaseResult> {
  const out = new Map<string, CaseResult>();
  for (const line of stdout.split("\n")) {
    const ok = /^ok (\S+)/.exec(line);
    if (ok) {
      const name = ok[1] as string;
      // A case reported twice counts as failed if any report failed.
      if (!out.has(name)) out.set(name, { pass: true, detail: "" });
      continue;
    }
    const bad = /^FAIL (\S+?):?(?:\s+(.*))?$/.exec(line);
    if (!bad) continue;
    const name = bad[1] as string;
    // Keep the first failure's text: later ones are often consequences of it.
    if (out.get(name)?.pass === false) continue;
    out.set(name, { pass: false, detail: (bad[2] ?? "").slice(0, 200) });
  }
  return out;
}

// ---------------------------------------------------------------- conformance guests

async function runInvocations(h: Host, invs: GuestInvocation[], wasm: string, o: Options): Promise<{ parsed: Map<string, CaseResult>; why: string }[]> {
  const out: { parsed: Map<string, CaseResult>; why: string }[] = [];
  for (const inv of invs) {
    const base = temp(`conf-${h.name}`);
    try {
      const prepared = inv.prepare(base);
      const r = await runProc(h.command({ ...prepared, wasm }), prepared, o.timeoutMs);
      const parsed = parseCaseLines(r.stdout);
      inv.judge?.(r, parsed);
      out.push({ parsed, why: describeExit(r) });
    } finally {
      dropTemp(base);
    }
  }
  return out;
}

/** Import modules other than wasi_snapshot_preview1 (empty for a plain WASI guest). */
function foreignImportModules(file: string): string[] {
  try {
    const mod = new WebAssembly.Module(readFileSync(file));
    return [...new Set(WebAssembly.Module.imports(mod).map((i) => i.module))].filter((m) => m !== "wasi_snapshot_preview1");
  } catch {
    return []; // Not compilable here: let the hosts report it.
  }
}

function copyWasm(src: string): string {
  const dir = temp("wasm");
  const dst = join(dir, basename(src));
  copyFileSync(src, dst);
  return dst;
}

async function runConformance(hosts: Host[], results: Results, o: Options): Promise<string[]> {
  const notes: string[] = [];
  const dir = join(REPO_ROOT, "tests", "fixtures", "wasi");
  if (!existsSync(dir)) {
    notes.push("conformance: tests/fixtures/wasi/ does not exist yet; skipped");
    return notes;
  }
  const wasms = readdirSync(dir).filter((f) => f.endsWith(".wasm")).sort();
  if (wasms.length === 0) notes.push("conformance: no guests in tests/fixtures/wasi/");
  for (const file of wasms) {
    const spec: GuestSpec = GUEST_SPECS[file] ?? GUEST_SPECS["*"]!;
    if (spec.skip) {
      notes.push(`conformance: ${file} skipped: ${spec.skip}`);
      continue;
    }
    const suite = file.replace(/\.wasm$/, "");
    if (o.skip.has(suite)) continue;
    const foreign = foreignImportModules(join(dir, file));
    if (foreign.length > 0) {
      // e.g. sendprobe.wasm uses fledge's plugin ABI; no other host can run it.
      notes.push(`${suite}: skipped: imports ${foreign.join(", ")}, not only wasi_snapshot_preview1`);
      continue;
    }
    const wasm = copyWasm(join(dir, file));
    const cases = spec.cases?.() ?? [];
    await Promise.all(
      hosts.map(async (h) => {
        if (cases.length > 0 && spec.perCase !== false) {
          // One process per case: a hang or trap only costs that case.
          for (const name of cases) {
            const outcomes = await runInvocations(h, spec.invocations(name), wasm, o);
            const hit = outcomes.find((x) => x.parsed.has(name));
            record(results, suite, name, h.name, hit ? hit.parsed.get(name)! : { pass: false, detail: `not reported (${outcomes.map((x) => x.why).join("; ")})` });
          }
          return;
        }
        // No case list: one run of the whole guest; its ok/FAIL lines are the cases.
        const outcomes = await runInvocations(h, spec.invocations(), wasm, o);
        for (const x of outcomes) for (const [name, r] of x.parsed) record(results, suite, name, h.name, r);
        const why = `not reported (${outcomes.map((x) => x.why).join("; ")})`;
        for (const name of cases) if (!outcomes.some((x) => x.parsed.has(name))) record(results, suite, name, h.name, { pass: false, detail: why });
        if (cases.length === 0 && outcomes.every((x) => x.parsed.size === 0)) record(results, suite, "(whole guest)", h.name, { pass: false, detail: why });
      }),
    );
    // A case some host reported and another never did is a failure for the latter.
    for (const byHost of results.get(suite)?.values() ?? []) {
      for (const h of hosts) if (!byHost.has(h.name)) byHost.set(h.name, { pass: false, detail: "not reported" });
    }
  }
  return notes;
}

// ---------------------------------------------------------------- fstool sequence

interface StepOutcome {
  code: number;
  stdout: string;
  stderr: string;
  why: string;
}

function comparableStderr(stderr: string): string {
  // Only fstool's own error lines; a host may add its own diagnostics.
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("fstool:"))
    .join("\n");
}

async function runSequenceNative(o: Options): Promise<{ steps: StepOutcome[]; tree: string[] } | string> {
  const cc = Bun.which("cc") ?? Bun.which("gcc") ?? Bun.which("clang");
  if (!cc) return "no C compiler (cc) found, so there is no native reference";
  const bindir = temp("native");
  const bin = join(bindir, "fstool");
  const b = Bun.spawnSync(nativeBuildCommand(cc, bin, FSTOOL_C), { stdout: "pipe", stderr: "pipe" });
  if (b.exitCode !== 0) return `native build failed: ${b.stderr.toString().slice(0, 300)}`;
  const tree = join(temp("native-tree"), "tree");
  mkdirSync(tree);
  seedTree(tree);
  const steps: StepOutcome[] = [];
  for (const step of SEQUENCE) {
    const proc = Bun.spawn([bin, ...substituteRoot(step.args, tree)], {
      cwd: tree,
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
      stdin: step.stdin === undefined ? "ignore" : new TextEncoder().encode(step.stdin),
      stdout: "pipe",
      stderr: "pipe",
      timeout: o.timeoutMs,
      killSignal: "SIGKILL",
    });
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    steps.push({
      code,
      stdout: normalizeOutput(stdout, tree),
      stderr: comparableStderr(normalizeOutput(stderr, tree)),
      why: `exit ${code}`,
    });
  }
  return { steps, tree: snapshotTree(tree) };
}

function firstDifference(a: string, b: string): string {
  const al = a.split("\n");
  const bl = b.split("\n");
  for (let i = 0; i < Math.max(al.length, bl.length); i++) {
    if (al[i] !== bl[i]) return `line ${i + 1}: want ${JSON.stringify(al[i] ?? "<none>")}, got ${JSON.stringify(bl[i] ?? "<none>")}`;
  }
  return "";
}

async function runRealprog(hosts: Host[], results: Results, o: Options): Promise<string[]> {
  const native = await runSequenceNative(o);
  if (typeof native === "string") return [`fstool: skipped: ${native}`];
  const wasm = copyWasm(FSTOOL_WASM);
  await Promise.all(
    hosts.map(async (h) => {
      const tree = join(temp(`seq-${h.name}`), "tree");
      mkdirSync(tree);
      seedTree(tree);
      for (const [i, step] of SEQUENCE.entries()) {
        const want = native.steps[i]!;
        const r = await runProc(
          h.command({ wasm, args: substituteRoot(step.args, GUEST_ROOT), dirs: [{ host: tree, guest: GUEST_ROOT }], stdin: step.stdin }),
          { stdin: step.stdin },
          o.timeoutMs,
        );
        const stdout = normalizeOutput(r.stdout, GUEST_ROOT);
        const stderr = comparableStderr(normalizeOutput(r.stderr, GUEST_ROOT));
        let detail = "";
        if (r.timedOut || r.signal) detail = describeExit(r);
        else if (r.code !== want.code) detail = `exit ${r.code}, native ${want.code}${stderr ? ` (${stderr.split("\n")[0]})` : r.stderr.trim() ? ` (${r.stderr.trim().split("\n").slice(-1)[0]?.slice(0, 120)})` : ""}`;
        else if (stdout !== want.stdout) detail = `stdout ${firstDifference(want.stdout, stdout)}`;
        else if (stderr !== want.stderr) detail = `stderr ${firstDifference(want.stderr, stderr)}`;
        record(results, "fstool", `${String(i + 1).padStart(2, "0")}-${step.name}`, h.name, { pass: detail === "", detail });
      }
      const got = snapshotTree(tree).join("\n");
      const diff = firstDifference(native.tree.join("\n"), got);
      record(results, "fstool", "99-final-tree", h.name, { pass: diff === "", detail: diff && `tree ${diff}` });
    }),
  );
  return [];
}

// ---------------------------------------------------------------- escape probes

async function runEscape(hosts: Host[], results: Results, o: Options): Promise<string[]> {
  const wasm = copyWasm(PROBE_WASM);
  const cases = probeCases();
  await Promise.all(
    hosts.map(async (h) => {
      for (const name of cases) {
        const base = temp(`esc-${h.name}`);
        try {
          const { root, secretAbs } = setupProbeLayout(base);
          const before = snapshotOutside(base);
          const r = await runProc(h.command({ wasm, args: [name, secretAbs], dirs: [{ host: root, guest: GUEST_ROOT }] }), {}, o.timeoutMs);
          const parsed = parseCaseLines(r.stdout).get(name);
          let res: CaseResult = parsed ?? { pass: false, detail: `not reported (${describeExit(r)})` };
          // The guest cannot see every escaped write; the host-side snapshot can.
          if (snapshotOutside(base) !== before) res = { pass: false, detail: `changed files outside the preopen${res.detail ? `; ${res.detail}` : ""}` };
          record(results, "escape-probe", name, h.name, res);
        } finally {
          dropTemp(base);
        }
      }
    }),
  );
  return [];
}

// ---------------------------------------------------------------- report

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function report(results: Results, hosts: Host[], notes: string[]): string {
  const out: string[] = [];
  const suites = [...results.keys()];
  const col = Math.max(14, ...hosts.map((h) => h.name.length + 2));
  const first = Math.max(12, ...suites.map((s) => s.length + 2));
  out.push("Hosts:");
  const nameWidth = Math.max(...hosts.map((h) => h.name.length)) + 1;
  for (const h of hosts) out.push(`  ${pad(h.name, nameWidth)} ${h.label}`);
  out.push("");
  out.push(pad("suite", first) + hosts.map((h) => pad(h.name, col)).join(""));
  const totals = new Map<string, [number, number]>(hosts.map((h) => [h.name, [0, 0]]));
  for (const suite of suites) {
    const cases = results.get(suite)!;
    let line = pad(suite, first);
    for (const h of hosts) {
      let pass = 0;
      for (const byHost of cases.values()) if (byHost.get(h.name)?.pass) pass++;
      const t = totals.get(h.name)!;
      t[0] += pass;
      t[1] += cases.size;
      line += pad(`${pass}/${cases.size}`, col);
    }
    out.push(line);
  }
  out.push(pad("TOTAL", first) + hosts.map((h) => pad(`${totals.get(h.name)![0]}/${totals.get(h.name)![1]}`, col)).join(""));
  out.push("");
  out.push("Failed cases per host:");
  for (const h of hosts) {
    const lines: string[] = [];
    let count = 0;
    for (const [suite, cases] of results) {
      // Group cases that failed for the same reason (e.g. the module did not link).
      const byDetail = new Map<string, string[]>();
      for (const [name, byHost] of cases) {
        const r = byHost.get(h.name);
        if (!r || r.pass) continue;
        count++;
        const list = byDetail.get(r.detail) ?? [];
        list.push(name);
        byDetail.set(r.detail, list);
      }
      for (const [detail, names] of byDetail) {
        if (names.length >= 3) lines.push(`    ${suite}: ${names.length} cases (${names.slice(0, 4).join(", ")}${names.length > 4 ? ", ..." : ""}) — ${detail}`);
        else for (const n of names) lines.push(`    ${suite}:${n}${detail ? ` — ${detail}` : ""}`);
      }
    }
    out.push(`  ${h.name}: ${count === 0 ? "none" : count}`);
    out.push(...lines);
  }
  if (notes.length) {
    out.push("");
    out.push("Notes:");
    for (const n of notes) out.push(`  ${n}`);
  }
  return out.join("\n");
}

/** The passed/total table as Markdown (for the README). */
function markdownTable(results: Results, hosts: Host[]): string {
  const rows = [`| suite | ${hosts.map((h) => h.name).join(" | ")} |`, `|---|${hosts.map(() => "---").join("|")}|`];
  const totals = hosts.map(() => [0, 0]);
  for (const [suite, cases] of results) {
    const cells = hosts.map((h, i) => {
      let pass = 0;
      for (const byHost of cases.values()) if (byHost.get(h.name)?.pass) pass++;
      totals[i]![0]! += pass;
      totals[i]![1]! += cases.size;
      return `${pass}/${cases.size}`;
    });
    rows.push(`| ${suite} | ${cells.join(" | ")} |`);
  }
  rows.push(`| **total** | ${totals.map(([p, t]) => `**${p}/${t}**`).join(" | ")} |`);
  return rows.join("\n") + "\n";
}

function toJson(results: Results): unknown {
  const o: Record<string, Record<string, Record<string, CaseResult>>> = {};
  for (const [suite, cases] of results) {
    o[suite] = {};
    for (const [name, byHost] of cases) o[suite]![name] = Object.fromEntries(byHost);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.fledgeBin) FLEDGE_CMD = [resolve(o.fledgeBin)];
  let hosts = HOSTS.filter((h) => !o.only || o.only.has(h.name));
  const notes: string[] = [];
  if (!NODE) {
    notes.push("node not found on PATH; the node:wasi (Node) column was skipped");
    hosts = hosts.filter((h) => h.name !== "node");
  }
  // Remove every temp dir even when interrupted.
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      for (const t of [...TEMPS]) dropTemp(t);
      process.exit(130);
    });
  }
  SCRATCH_CWD = temp("cwd");
  FLEDGE_CONFIG = join(SCRATCH_CWD, "fledge-config");
  const results: Results = new Map();
  try {
    if (!o.skip.has("guests")) notes.push(...(await runConformance(hosts, results, o)));
    if (!o.skip.has("fstool") && !o.skip.has("realprog")) notes.push(...(await runRealprog(hosts, results, o)));
    if (!o.skip.has("escape-probe")) notes.push(...(await runEscape(hosts, results, o)));
    console.log(report(results, hosts, notes));
    if (o.markdown) writeFileSync(o.markdown, markdownTable(results, hosts));
    if (o.json) writeFileSync(o.json, JSON.stringify({ hosts: hosts.map((h) => h.label), results: toJson(results), notes }, null, 2));
  } finally {
    for (const t of [...TEMPS]) dropTemp(t);
  }
}

if (import.meta.main) {
  await main();
}
