/**
 * How `npm test` (scripts/test.ts) splits the suite: which files exist, how long each
 * took last time it was recorded (tests/durations.json), which must run alone, and how
 * the rest are spread over N shards so the shards end at about the same time. Pure
 * functions, so tests/scripts/test-plan.test.ts checks the plan without running it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Files that run in the serial shard, after the parallel shards, with nothing else of
 * the suite beside them, each with the reason. A file belongs here when another test
 * process running at the same time changes what it sees or measures. Changing its own
 * process's env, cwd or HOME does not count (each shard is its own process).
 *
 * Empty after checking the suite for each way two processes can collide: every server
 * listens on port 0; tmux servers, temp dirs and config folders are named per process;
 * process scans look for a token unique to the test; no test writes into the checkout
 * (builds, npm pack and cargo write to temp dirs; cargo's shared package cache is
 * locked, so two builds wait rather than clash); peak-memory checks measure fledge's
 * own child (/usr/bin/time), which a neighbour does not change; and every deadline a
 * test waits for has slack for a loaded machine (what a run must finish within is 20 s
 * or more), with no test asserting CPU or wall time beyond a 30 s bound.
 */
export const SERIAL: Readonly<Record<string, string>> = {};

/**
 * The slow tier as whole files, each with the reason: what they do takes seconds by
 * design (a compiler toolchain builds guests, plugins or the SDK; a kill -9 at every
 * step of an install; the compiled binary; real programs run twice; floods of output;
 * a real terminal per case). `npm test` and CI run them; `npm run test:fast`
 * (FLEDGE_FAST_TESTS=1) leaves them out, as it leaves out `describeSlow` groups
 * (tests/helpers/tier.ts) inside other files, for a quick loop while developing.
 */
export const SLOW: Readonly<Record<string, string>> = {
  "tests/guests-fresh.test.ts": "rebuilds every committed guest with clang and rustc to compare",
  "tests/install/crash.test.ts": "kills an install with kill -9 at each of its steps",
  "tests/sdk/rust-sdk.test.ts": "builds Rust plugins with cargo",
  "tests/install/scaffolds.test.ts": "builds every scaffold with clang and cargo",
  "tests/install/auto-build.test.ts": "installs plugins whose build runs a compiler",
  "tests/install/real-corpus.test.ts": "installs every real manifest of the corpus",
  "tests/run/output-flood.test.ts": "floods fledge with hundreds of MiB of output",
  "tests/install/prompt-pty.test.ts": "drives consent through a real terminal per case",
  "tests/dist/authoring-examples.test.ts": "compiles the authors' reference examples",
  "tests/dist/pack.test.ts": "packs and installs the npm package",
  "tests/dist/release.test.ts": "builds the release binaries",
  "tests/dist/author-loop.test.ts": "runs the author loop through the compiled binary",
  "tests/wasi-real/realprog.test.ts": "runs real C programs under fledge and natively",
  "tests/wasm/memory-guard.test.ts": "loads 30 MB hostile modules until fledge passes 512 MiB and is stopped",
};

/** The files a run takes: all of them, or without the slow tier when `fast`. */
export function tierFiles(files: readonly string[], fast: boolean, slow: Readonly<Record<string, string>> = SLOW): string[] {
  return fast ? files.filter((f) => !(f in slow)) : [...files];
}

/** Seconds assumed for a file that is not in the duration table yet. */
export function estimateFor(known: Readonly<Record<string, number>>): number {
  const v = Object.values(known).sort((a, b) => a - b);
  if (v.length === 0) return 5;
  return v[Math.floor(v.length / 2)] ?? 5;
}

export interface Shard {
  files: string[];
  /** Expected seconds (recorded durations, estimates for new files). */
  seconds: number;
}

export interface Plan {
  parallel: Shard[];
  /** Files from {@link SERIAL}, run one after another alone. */
  serial: Shard;
}

/**
 * Longest-first greedy split: each file (slowest first) goes to the shard with the
 * least expected time so far. Within a shard, files keep the order they are given in
 * (bun runs them in that order).
 */
export function planShards(files: readonly string[], durations: Readonly<Record<string, number>>, n: number, serial: Readonly<Record<string, string>> = SERIAL): Plan {
  const guess = estimateFor(durations);
  const cost = (f: string): number => durations[f] ?? guess;
  const count = Math.max(1, Math.floor(n));
  const parallel: Shard[] = Array.from({ length: count }, () => ({ files: [], seconds: 0 }));
  const alone: Shard = { files: [], seconds: 0 };
  const order = new Map(files.map((f, i) => [f, i]));
  const bySlowest = [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b));
  for (const f of bySlowest) {
    if (f in serial) {
      alone.files.push(f);
      alone.seconds += cost(f);
      continue;
    }
    let least = parallel[0]!;
    for (const s of parallel) if (s.seconds < least.seconds) least = s;
    least.files.push(f);
    least.seconds += cost(f);
  }
  const byGiven = (a: string, b: string): number => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  for (const s of parallel) s.files.sort(byGiven);
  alone.files.sort(byGiven);
  return { parallel: parallel.filter((s) => s.files.length > 0), serial: alone };
}

/** How many chunks each worker's share is cut into (see planQueue). */
export const CHUNKS_PER_WORKER = 5;

/**
 * The parallel files as a queue of chunks, longest expected first, that N workers
 * take one at a time as they come free. Recorded seconds go stale (a test grows, the
 * machine is busier): with fixed shards one shard ran twice as long as the other; with
 * a queue a worker that drew the slow chunk simply takes fewer. Chunks rather than
 * single files because each chunk is one `bun test` process with its start-up cost.
 */
export function planQueue(files: readonly string[], durations: Readonly<Record<string, number>>, workers: number, serial: Readonly<Record<string, string>> = SERIAL): Plan {
  const plan = planShards(files, durations, Math.max(1, Math.floor(workers)) * CHUNKS_PER_WORKER, serial);
  plan.parallel.sort((a, b) => b.seconds - a.seconds);
  return plan;
}

/** How many parallel shards: FLEDGE_TEST_SHARDS if set, else the core count, never fewer than 2. */
export function shardCount(env: Readonly<Record<string, string | undefined>>, cores: number): number {
  const asked = Number.parseInt(env.FLEDGE_TEST_SHARDS ?? "", 10);
  if (Number.isFinite(asked) && asked >= 1) return asked;
  return Math.max(2, cores);
}

export const DURATIONS_FILE = join("tests", "durations.json");

/** The recorded per-file seconds (empty when the table is missing or unreadable). */
export function readDurations(root: string): Record<string, number> {
  try {
    const raw: unknown = JSON.parse(readFileSync(join(root, DURATIONS_FILE), "utf8"));
    const out: Record<string, number> = {};
    if (raw && typeof raw === "object") {
      for (const [k, v] of Object.entries(raw)) if (typeof v === "number" && v >= 0) out[k] = v;
    }
    return out;
  } catch {
    return {};
  }
}

/** The table as committed: files sorted, seconds rounded to 0.1. */
export function formatDurations(d: Readonly<Record<string, number>>): string {
  const sorted = Object.keys(d).sort();
  return `${JSON.stringify(Object.fromEntries(sorted.map((k) => [k, Math.round((d[k] ?? 0) * 10) / 10])), null, 2)}\n`;
}

/** Per-file seconds from a junit report written by `bun test --reporter=junit`. */
export function durationsFromJunit(xml: string): Record<string, number> {
  const out: Record<string, number> = {};
  // The file-level suites are the ones indented by exactly two spaces.
  for (const m of xml.matchAll(/^ {2}<testsuite name="[^"]*" file="([^"]+)"[^>]*? time="([0-9.]+)"/gm)) {
    out[unescapeXml(m[1]!)] = Number(m[2]);
  }
  return out;
}

function unescapeXml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export interface Counts {
  pass: number;
  fail: number;
  skip: number;
  todo: number;
}

/** The counts a `bun test` run prints at its end (" 12 pass", " 1 fail", ...), zero when absent. */
export function countsFromOutput(text: string): Counts {
  const c: Counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
  for (const m of text.matchAll(/^ ?(\d+) (pass|fail|skip|todo)$/gm)) c[m[2] as keyof Counts] += Number(m[1]);
  return c;
}

/**
 * "file > test name" for every `(fail)` line and every error outside a test, the file
 * taken from the last file header above it.
 */
export function failuresFromOutput(text: string): string[] {
  const out: string[] = [];
  let file = "";
  for (const line of text.split("\n")) {
    // bun repeats every failure in a closing list; the first mention has its file.
    if (/^\d+ tests? failed:$/.test(line)) break;
    const header = /^(\S.*\.(?:test|spec)\.[cm]?[jt]sx?):$/.exec(line);
    if (header) file = header[1]!;
    const fail = /^\(fail\) (.*?)(?: \[[0-9.]+m?s\])?$/.exec(line);
    if (fail) out.push(`${file} > ${fail[1]}`);
    // An error while loading the file or between its tests: bun counts it as a failure.
    if (line === "# Unhandled error between tests") out.push(`${file} > (an error outside any test: see its output)`);
  }
  return out;
}
