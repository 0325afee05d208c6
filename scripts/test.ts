/**
 * `npm test`: the whole suite, its files split into N shards that run at the same time
 * (`bun test` alone runs every file one after another in one process, leaving the
 * other cores idle while a test waits on a child, a build or a deadline).
 *
 *   bun run scripts/test.ts [--record] [PATH...] [-- BUN_TEST_ARGS...]
 *
 * - PATH (files or folders) limits the run to those test files; without, every
 *   *.test.ts under tests/ runs. `bun test <file>` still runs one file directly.
 * - N workers (FLEDGE_TEST_SHARDS, else the core count, at least 2) take chunks of
 *   files from one queue, longest first by the seconds recorded in
 *   tests/durations.json (scripts/test-plan.ts), so stale figures cost little; the
 *   files listed in SERIAL there run afterwards in a shard of their own, alone.
 * - Each shard's output is printed a whole test file at a time (never two files'
 *   lines interleaved), each file header tagged with its shard; at the end one summary:
 *   pass/fail/skip/todo summed over the shards and every failing test by name.
 * - --record rewrites tests/durations.json with the per-file seconds of this run (do it
 *   on an idle machine after adding or speeding up test files, and commit the table).
 * - The exit code is 0 only when every shard exited 0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import {
  type Counts,
  countsFromOutput,
  DURATIONS_FILE,
  durationsFromJunit,
  failuresFromOutput,
  formatDurations,
  planQueue,
  readDurations,
  SERIAL,
  tierFiles,
  type Shard,
  shardCount,
} from "./test-plan.ts";

const ROOT = resolve(import.meta.dir, "..");
/**
 * Every test's default limit in a shard. Bun ignores bunfig's timeout, and a preloaded
 * setDefaultTimeout holds for the first file of a process only; the flag holds for all.
 */
const TEST_TIMEOUT_MS = 60_000;

interface Args {
  record: boolean;
  paths: string[];
  passthrough: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { record: false, paths: [], passthrough: [] };
  const dash = argv.indexOf("--");
  const own = dash === -1 ? argv : argv.slice(0, dash);
  if (dash !== -1) a.passthrough = argv.slice(dash + 1);
  for (const x of own) {
    if (x === "--record") a.record = true;
    else if (x.startsWith("-")) throw new Error(`unknown option ${x} (bun test options go after --)`);
    else a.paths.push(x);
  }
  return a;
}

/** Every test file under tests/, as a path relative to the checkout, sorted. */
function discover(): string[] {
  const glob = new Bun.Glob("**/*.test.ts");
  return [...glob.scanSync({ cwd: join(ROOT, "tests") })].map((f) => `tests/${f}`).sort();
}

function select(all: string[], paths: string[]): string[] {
  if (paths.length === 0) return all;
  const wanted = paths.map((p) => relative(ROOT, resolve(p)));
  const picked = all.filter((f) => wanted.some((w) => f === w || f.startsWith(`${w}/`)));
  const unknown = wanted.filter((w) => !all.some((f) => f === w || f.startsWith(`${w}/`)));
  for (const w of unknown) {
    const path = join(ROOT, w);
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`no test file at or under ${w}`);
    picked.push(w);
  }
  return picked;
}

interface ShardResult {
  label: string;
  code: number;
  seconds: number;
  output: string;
  junit: string;
}

/**
 * Prints a shard's lines a file at a time: lines are held until the next file header
 * (or the end), so files from different shards never interleave line by line.
 */
class FileBuffer {
  private held: string[] = [];
  constructor(private readonly label: string) {}
  line(l: string): void {
    if (/^\S.*\.test\.ts:$/.test(l)) this.flush();
    this.held.push(/^\S.*\.test\.ts:$/.test(l) ? `${l.slice(0, -1)} [${this.label}]:` : l);
  }
  flush(): void {
    if (this.held.length > 0) process.stdout.write(`${this.held.join("\n")}\n`);
    this.held = [];
  }
}

async function pump(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void, keep: string[]): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      keep.push(l);
      onLine(l);
    }
  }
  rest += decoder.decode();
  if (rest) {
    keep.push(rest);
    onLine(rest);
  }
}

const running = new Set<Bun.Subprocess>();

/** One worker's chunks as one result: outputs and junit reports joined, the first failing exit code kept. */
function mergeResults(label: string, parts: readonly ShardResult[]): ShardResult {
  return {
    label,
    code: parts.find((p) => p.code !== 0)?.code ?? 0,
    seconds: parts.reduce((t, p) => t + p.seconds, 0),
    output: parts.map((p) => p.output).join("\n"),
    junit: parts.map((p) => p.junit).join("\n"),
  };
}

async function runShard(label: string, shard: Shard, passthrough: string[], dir: string, part = 0): Promise<ShardResult> {
  const junit = join(dir, `${label}-${part}.xml`);
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "test", `--timeout=${TEST_TIMEOUT_MS}`, "--reporter=junit", `--reporter-outfile=${junit}`, ...passthrough, ...shard.files.map((f) => `./${f}`)], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, FLEDGE_TEST_SHARD: label },
  });
  running.add(proc);
  const buf = new FileBuffer(label);
  const kept: string[] = [];
  await Promise.all([pump(proc.stdout, (l) => buf.line(l), kept), pump(proc.stderr, (l) => buf.line(l), kept)]);
  const code = await proc.exited;
  running.delete(proc);
  buf.flush();
  const seconds = (performance.now() - started) / 1000;
  return { label, code, seconds, output: kept.join("\n"), junit: existsSync(junit) ? readFileSync(junit, "utf8") : "" };
}

function summarize(results: ShardResult[], wall: number): number {
  const total: Counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  const failing: string[] = [];
  const lines: string[] = [];
  for (const r of results) {
    const c = countsFromOutput(r.output);
    for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += c[k];
    failing.push(...failuresFromOutput(r.output));
    const crashed = r.code !== 0 && c.fail === 0 ? ` (exited ${r.code} with no failing test: see its output above)` : "";
    lines.push(`  ${r.label}: ${c.pass} pass, ${c.fail} fail, ${c.skip} skip in ${r.seconds.toFixed(1)} s, exit ${r.code}${crashed}`);
  }
  const ok = results.every((r) => r.code === 0);
  const out = [
    "",
    `fledge test: ${results.length} shards in ${wall.toFixed(1)} s`,
    ...lines,
    `${total.pass} pass, ${total.fail} fail, ${total.skip} skip, ${total.todo} todo`,
    ...(failing.length > 0 ? ["failing:", ...failing.map((f) => `  ${f}`)] : []),
    ok ? "PASS" : "FAIL",
    "",
  ];
  process.stdout.write(out.join("\n"));
  return ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const files = tierFiles(select(discover(), args.paths), process.env.FLEDGE_FAST_TESTS === "1");
  const durations = readDurations(ROOT);
  const n = shardCount(process.env, availableParallelism());
  const plan = planQueue(files, durations, n);
  const dir = mkdtempSync(join(tmpdir(), "fledge-test-run-"));
  const started = performance.now();
  const expected = plan.parallel.reduce((t, c) => t + c.seconds, 0);
  const shape = `${plan.parallel.length} chunks, ~${Math.round(expected)} s of recorded time`;
  const serialNote = plan.serial.files.length > 0 ? `; then alone: ${plan.serial.files.join(", ")} ~${Math.round(plan.serial.seconds)} s` : "";
  process.stdout.write(`fledge test: ${files.length} files, ${n} workers taking ${shape}${serialNote}\n`);
  const stop = (): void => {
    for (const p of running) p.kill("SIGTERM");
    process.exit(130);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    const queue = [...plan.parallel];
    const worker = async (label: string): Promise<ShardResult> => {
      const done: ShardResult[] = [];
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) done.push(await runShard(label, chunk, args.passthrough, dir, done.length));
      return mergeResults(label, done);
    };
    const results = await Promise.all(Array.from({ length: Math.min(n, plan.parallel.length) }, (_, i) => worker(`s${i + 1}`)));
    if (plan.serial.files.length > 0) {
      for (const f of plan.serial.files) process.stdout.write(`serial: ${f}: ${SERIAL[f]}\n`);
      results.push(await runShard("serial", plan.serial, args.passthrough, dir));
    }
    const code = summarize(results, (performance.now() - started) / 1000);
    if (args.record) {
      const measured = Object.assign({}, ...results.map((r) => durationsFromJunit(r.junit))) as Record<string, number>;
      const all = new Set(discover());
      const next = Object.fromEntries(Object.entries({ ...durations, ...measured }).filter(([f]) => all.has(f)));
      writeFileSync(join(ROOT, DURATIONS_FILE), formatDurations(next));
      process.stdout.write(`recorded ${Object.keys(measured).length} file durations in ${DURATIONS_FILE}\n`);
    }
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`fledge test: ${e instanceof Error ? e.message : String(e)}\n`);
  return 2;
});
