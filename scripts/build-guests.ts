/**
 * Every wasm guest committed in this repository, built from its source by one table
 * with one set of flags per toolchain. The .wasm files are committed so the tests and
 * fledge itself (the canary is embedded in the binary) need no wasm toolchain;
 * tests/guests-fresh.test.ts rebuilds them all with this table and checks the
 * committed bytes are current whenever the local toolchain is the recorded one.
 *
 *   bun run scripts/build-guests.ts                  rebuild every guest in place
 *   bun run scripts/build-guests.ts --out DIR        write them under DIR instead
 *   bun run scripts/build-guests.ts --print-toolchain
 *
 * The builds are deterministic: fixed flags, each C source compiled from its own
 * folder by its file name with that folder mapped to "." (no checkout path can end up
 * in a module), and each output written to a temp name and renamed.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { DEFAULT_WASI_SYSROOT, REPO_C_STD, REPO_C_WARNINGS, wasiClangFlags } from "../src/core/guest-toolchain.ts";

const ROOT = resolve(import.meta.dir, "..");

/**
 * C for wasm32-wasi against the Debian wasi-libc sysroot (WASI_SYSROOT overrides): the
 * flags every C guest is built with (src/core/guest-toolchain.ts, shared with the
 * scaffolds `fledge plugins create` writes), plus the repository's C standard and
 * warnings-as-errors.
 */
export const C_FLAGS: readonly string[] = [...wasiClangFlags(process.env.WASI_SYSROOT ?? DEFAULT_WASI_SYSROOT), REPO_C_STD, ...REPO_C_WARNINGS];

/**
 * Every proposal fledge parses, without function-references/GC: with those enabled
 * (as --enable-all does) wabt types ref.func as a non-nullable (ref $t), which it then
 * refuses where a funcref is expected.
 */
export const WAT_FLAGS: readonly string[] = [
  "--enable-exceptions",
  "--enable-extended-const",
  "--enable-multi-memory",
  "--enable-memory64",
  "--enable-tail-call",
  "--enable-threads",
];

export type Tool = "clang" | "wat2wasm";

export interface GuestRow {
  /** Source files, a glob relative to the checkout. */
  sources: string;
  tool: Tool;
  /** The output, relative to the checkout; default: the source with .wasm for its extension. */
  out?: string;
  /** What the guests are for. */
  what: string;
}

/** The table: every committed guest comes from exactly one row. */
export const GUESTS: readonly GuestRow[] = [
  { sources: "src/canary/canary.c", tool: "clang", what: "the sandbox self-test embedded in fledge (fledge canary)" },
  { sources: "tests/fixtures/wasi/*.c", tool: "clang", what: "WASI conformance and security guests (tests/wasi)" },
  { sources: "tests/fixtures/wasi/*.wat", tool: "wat2wasm", what: "WASI guests that need exact bytes: hostile iovecs, links that must fail" },
  { sources: "tests/fixtures/compat/*.c", tool: "clang", what: "plugin ABI guests, built the way published wasm plugins are" },
  { sources: "tests/fixtures/realprog/*.c", tool: "clang", what: "real programs compared natively and under WASI hosts (tests/wasi-real)" },
  { sources: "tests/fixtures/wat/**/*.wat", tool: "wat2wasm", what: "decoder, metering, limits, traps, refused proposals, output floods" },
  { sources: "tests/fixtures/host/*.wat", tool: "wat2wasm", what: "the fledge host module's import checks" },
  { sources: "examples/hello-wasm/hello.wat", tool: "wat2wasm", what: "the example wasm plugin" },
  { sources: "tests/fixtures/plugins/hello-wasm/hello.wat", tool: "wat2wasm", what: "the test copy of the example wasm plugin" },
  {
    sources: "tests/fixtures/plugins/hello-wasm/hello.wat",
    tool: "wat2wasm",
    out: "tests/fixtures/install/wasm-build/prebuilt/hello.wasm",
    what: "what the wasm-build fixture's build hook copies into place",
  },
];

/** The recorded toolchain the committed guests were built with. */
export const TOOLCHAIN_FILE = "tests/fixtures/toolchain.txt";

export interface Build {
  source: string;
  out: string;
  tool: Tool;
}

/** Every (source, output) pair of the table, relative to the checkout, sorted by output. */
export function guestBuilds(): Build[] {
  const builds: Build[] = [];
  for (const row of GUESTS) {
    const sources = [...new Bun.Glob(row.sources).scanSync({ cwd: ROOT })].sort();
    if (sources.length === 0) throw new Error(`build-guests: no source matches ${row.sources}`);
    if (row.out && sources.length !== 1) throw new Error(`build-guests: ${row.sources} names one output but matches ${sources.length} sources`);
    for (const source of sources) builds.push({ source, out: row.out ?? source.replace(/\.(c|wat)$/, ".wasm"), tool: row.tool });
  }
  return builds.sort((a, b) => a.out.localeCompare(b.out));
}

const CLANG = process.env.CLANG ?? "clang";
const WAT2WASM = process.env.WAT2WASM ?? "wat2wasm";

function firstLine(cmd: string[]): string | null {
  try {
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? (r.stdout.toString().split("\n")[0]?.trim() ?? null) : null;
  } catch {
    return null;
  }
}

/** What the bytes depend on (clang, wasi-libc, wabt), or null when a tool is missing. */
export function localToolchain(): string | null {
  const clang = firstLine([CLANG, "--version"]);
  const wat = firstLine([WAT2WASM, "--version"]);
  if (!clang || !wat) return null;
  const libc = firstLine(["dpkg-query", "-W", "-f=${Version}", "wasi-libc"]) ?? "unknown";
  return `${clang}\nwasi-libc ${libc}\nwat2wasm ${wat}\n`;
}

export function committedToolchain(): string {
  return readFileSync(join(ROOT, TOOLCHAIN_FILE), "utf8");
}

/** The command that builds `b` into `outPath`, and the folder it runs in. */
function command(b: Build, outPath: string): { cmd: string[]; cwd: string } {
  const dir = join(ROOT, dirname(b.source));
  if (b.tool === "clang") return { cmd: [CLANG, ...C_FLAGS, `-ffile-prefix-map=${dir}=.`, "-o", outPath, basename(b.source)], cwd: dir };
  return { cmd: [WAT2WASM, ...WAT_FLAGS, basename(b.source), "-o", outPath], cwd: dir };
}

/**
 * Build every guest into `outRoot` (the checkout for in-place), mirroring the paths,
 * several at a time. Returns one message per failed build (empty when all built).
 */
export async function buildGuests(outRoot: string, builds: Build[] = guestBuilds()): Promise<string[]> {
  const failures: string[] = [];
  const queue = [...builds];
  const worker = async (): Promise<void> => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      const out = join(outRoot, b.out);
      mkdirSync(dirname(out), { recursive: true });
      const tmp = `${out}.tmp-${process.pid}`;
      const { cmd, cwd } = command(b, tmp);
      const proc = Bun.spawn(cmd, { cwd, stdout: "ignore", stderr: "pipe" });
      const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) {
        failures.push(`${b.source}: ${b.tool} exited ${code}\n${err}`);
        continue;
      }
      renameSync(tmp, out);
    }
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
  return failures;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args[0] === "--print-toolchain") {
    process.stdout.write(localToolchain() ?? "clang or wat2wasm is missing\n");
    process.exit(0);
  }
  const outArg = args[0] === "--out" ? args[1] : undefined;
  if (args.length > 0 && !outArg) {
    process.stderr.write("usage: bun run scripts/build-guests.ts [--out DIR | --print-toolchain]\n");
    process.exit(2);
  }
  const toolchain = localToolchain();
  if (!toolchain) {
    process.stderr.write("build-guests: needs clang with wasm32-wasi + wasi-libc and wabt's wat2wasm (scripts/setup.sh installs them)\n");
    process.exit(1);
  }
  const outRoot = outArg ? resolve(outArg) : ROOT;
  const builds = guestBuilds();
  const failures = await buildGuests(outRoot, builds);
  for (const f of failures) process.stderr.write(`build-guests: ${f}\n`);
  mkdirSync(dirname(join(outRoot, TOOLCHAIN_FILE)), { recursive: true });
  writeFileSync(join(outRoot, TOOLCHAIN_FILE), toolchain);
  process.stdout.write(`build-guests: ${builds.length - failures.length} of ${builds.length} guests built into ${outRoot}\n`);
  process.exit(failures.length > 0 ? 1 : 0);
}
