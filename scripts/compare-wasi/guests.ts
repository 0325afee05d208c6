/**
 * How scripts/compare-wasi.ts invokes each conformance guest in tests/fixtures/wasi/.
 *
 * These mirror the guests' documented invocations (the header comment of each source
 * file, and the layouts in tests/fixtures/wasi/support.ts that tests/wasi/*.test.ts
 * use): the same preopens, env, stdin and argv. The guests run exactly as in our own
 * test suite, only under other hosts too. A guest without an entry here runs once with
 * no arguments, no preopens and empty stdin (the "*" entry).
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../tests/wasi-real/realprog-lib.ts";

export interface Preopen {
  host: string;
  guest: string;
  /** Read-only. node:wasi has no such option; its runner mounts the dir read-write. */
  ro?: boolean;
}

/** One guest process: what a host needs to run it. */
export interface Invocation {
  wasm: string;
  args: string[];
  dirs: Preopen[];
  env?: Record<string, string>;
  stdin?: string;
}

export interface PreparedInvocation extends Omit<Invocation, "wasm"> {
  /** cwd of the host process (default: a scratch temp dir). */
  cwd?: string;
  /** Extra variables for the host process itself (never passed to the guest). */
  hostEnv?: Record<string, string>;
}

export interface ProcOutcome {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export type Verdicts = Map<string, { pass: boolean; detail: string }>;

export interface GuestInvocation {
  /** Build a fresh sandbox under `base` (an empty temp dir) and say how to run the guest. */
  prepare(base: string): PreparedInvocation;
  /** Optional host-side judging after the run (leaks, changed trees); may edit `parsed`. */
  judge?(r: ProcOutcome, parsed: Verdicts): void;
}

export interface GuestSpec {
  /** Set to a reason to leave this guest out of the comparison. */
  skip?: string;
  /** Case names known in advance (a case a host never reports counts as failed). */
  cases?: () => string[];
  /**
   * With `cases`: run every case in its own process (`invocations(name)`), so a hang
   * or trap in one case cannot hide the others. Guests that cannot select a case
   * (memory.wat) set this to false and run once.
   */
  perCase?: boolean;
  /** The processes to run: for one case if `caseName` is set, else for the whole guest. */
  invocations(caseName?: string): GuestInvocation[];
}

const FIXTURES = join(REPO_ROOT, "tests", "fixtures", "wasi");

/** Case names a guest registers, read from its source. */
export function casesFromSource(file: string, pattern: RegExp): string[] {
  try {
    const src = readFileSync(join(FIXTURES, file), "utf8");
    return [...new Set([...src.matchAll(pattern)].map((m) => m[1] as string))];
  } catch {
    return [];
  }
}

const C_CASES = /CASE\("([^"]+)"/g;

function write(path: string, data: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, data);
}

/** Every entry under `root` except the paths `skip` names, for before/after comparison. */
function treeState(root: string, skip: (rel: string) => boolean = () => false): string {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) out.push(`l ${rel}`);
    else if (st.isDirectory()) {
      out.push(`d ${rel}`);
      for (const n of readdirSync(abs).sort()) {
        const r = rel ? `${rel}/${n}` : n;
        if (!skip(r)) walk(r);
      }
    } else out.push(`f ${rel} ${st.size} ${st.mtimeMs} ${readFileSync(abs).toString("base64")}`);
  };
  walk("");
  return out.join("\n");
}

/** Mark every reported case failed (a host-side check found a problem). */
function failAll(parsed: Verdicts, why: string, caseName?: string): void {
  if (caseName !== undefined && !parsed.has(caseName)) parsed.set(caseName, { pass: false, detail: why });
  for (const [k, v] of parsed) parsed.set(k, { pass: false, detail: v.pass ? why : `${v.detail}; ${why}` });
}

// ---------------------------------------------------------------- conformance.c

/** GUEST_ARGS of tests/wasi/conformance.test.ts after its "*" selector. */
const CONFORMANCE_EXTRA_ARGS = ["héllo wörld", "", "--dir", "-x=1", "--", "tab\there"];

/** The sandbox described in the header of conformance.c. */
function conformanceSandbox(base: string): string {
  const sb = join(base, "sandbox");
  mkdirSync(join(sb, "sub"), { recursive: true });
  mkdirSync(join(sb, "nonempty"));
  mkdirSync(join(sb, "empty_dir"));
  writeFileSync(join(sb, "hello.txt"), "hello world\n");
  writeFileSync(join(sb, "sub", "a.txt"), "A");
  writeFileSync(join(sb, "nonempty", "x"), "x");
  symlinkSync("hello.txt", join(sb, "link_hello"));
  return sb;
}

// ---------------------------------------------------------------- escape.c

/**
 * escape.c's host layout comes from tests/fixtures/wasi/support.ts (layoutEscape), the
 * guests' own helper, so the layout cannot drift from what tests/wasi uses. Loaded
 * lazily: it is someone else's file and may change shape.
 */
type LayoutEscape = (T: string) => { canaries: string[]; sandbox: string; home: string; work: string };
async function loadSupport(): Promise<{ layoutEscape: LayoutEscape | null; secretEnv: Record<string, string> }> {
  try {
    const mod = (await import(join(FIXTURES, "support.ts"))) as { layoutEscape?: unknown; SECRET_ENV?: unknown };
    return {
      layoutEscape: typeof mod.layoutEscape === "function" ? (mod.layoutEscape as LayoutEscape) : null,
      secretEnv: typeof mod.SECRET_ENV === "object" && mod.SECRET_ENV ? (mod.SECRET_ENV as Record<string, string>) : {},
    };
  } catch {
    return { layoutEscape: null, secretEnv: {} };
  }
}
const { layoutEscape, secretEnv: SECRET_ENV } = await loadSupport();

/** The sandbox may change; so may a Bun cache under the fake HOME (not guest-reachable). */
const outsideSkip = (rel: string): boolean => rel === "work/sandbox" || rel === "home/.bun";

/** Files a broken host could create in the real /tmp (escape.c's a5 and b2 cases). */
const TMP_PROBES = ["/tmp/created_abs"];

function escapeInvocation(caseName: string | undefined): GuestInvocation {
  let canaries: string[] = [];
  let T = "";
  let before = "";
  let canaryName = "";
  const tmpBefore = new Map<string, boolean>();
  return {
    prepare: (base) => {
      if (!layoutEscape) throw new Error("tests/fixtures/wasi/support.ts has no layoutEscape()");
      T = realpathSync(base);
      const lay = layoutEscape(T);
      canaries = lay.canaries;
      canaryName = `fledge-compare-canary-${process.pid}-${Math.random().toString(36).slice(2)}`;
      for (const p of [...TMP_PROBES, `/tmp/${canaryName}`]) tmpBefore.set(p, existsSync(p));
      // Everything outside the sandbox must stay as it is.
      before = treeState(T, outsideSkip);
      // As tests/wasi/escape.test.ts: a* cases are a zero-capability guest (no
      // preopens) with cwd = the fake HOME; b* cases get /sandbox with cwd = work/.
      const zeroCap = caseName !== undefined && caseName.startsWith("a");
      return {
        args: [...(caseName === undefined ? [] : [caseName]), "--", T, canaryName],
        dirs: zeroCap ? [] : [{ host: lay.sandbox, guest: "/sandbox" }],
        cwd: zeroCap ? lay.home : lay.work,
        // The host process gets secret-looking variables and the fake HOME, as in
        // tests/wasi; none may reach the guest. No Bun transpiler cache in that HOME.
        hostEnv: {
          ...SECRET_ENV,
          HOME: lay.home,
          FLEDGE_CONFIG_DIR: join(lay.home, ".config", "fledge"),
          XDG_CONFIG_HOME: join(lay.home, ".config"),
          BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
        },
      };
    },
    judge: (r, parsed) => {
      const text = r.stdout + r.stderr;
      const leaked = [...canaries, ...Object.values(SECRET_ENV)].filter((c) => text.includes(c));
      if (leaked.length) failAll(parsed, `leaked ${leaked.length} canary value(s) into the output`, caseName);
      if (treeState(T, outsideSkip) !== before) failAll(parsed, "changed files outside the sandbox", caseName);
      for (const [p, existed] of tmpBefore) {
        if (!existed && existsSync(p)) {
          // The guest escaped into the real /tmp: record it and undo it.
          failAll(parsed, `created ${p}`, caseName);
          rmSync(p, { recursive: true, force: true });
        }
      }
    },
  };
}

// ---------------------------------------------------------------- readonly.c

function readonlyInvocation(caseName: string | undefined): GuestInvocation {
  let project = "";
  let before = "";
  return {
    prepare: (base) => {
      project = join(base, "project");
      const plugin = join(base, "plugin");
      write(join(project, "ro.txt"), "RO-CONTENT");
      write(join(project, "rodir", "inner.txt"), "inner");
      mkdirSync(join(project, "rodir_empty"));
      symlinkSync("ro.txt", join(project, "ro_link"));
      mkdirSync(plugin);
      before = treeState(project);
      return {
        args: caseName === undefined ? [] : [caseName],
        dirs: [
          { host: project, guest: "/project", ro: true },
          { host: plugin, guest: "/plugin" },
        ],
      };
    },
    judge: (_r, parsed) => {
      if (treeState(project) !== before) failAll(parsed, "the read-only project tree changed", caseName);
    },
  };
}

// ---------------------------------------------------------------- the table

export const GUEST_SPECS: Record<string, GuestSpec> = {
  // conformance.wasm [case|prefix*]...: "setup" creates work/, which later cases
  // write into, so it runs first in every single-case process.
  "conformance.wasm": {
    cases: () => casesFromSource("conformance.c", C_CASES),
    invocations: (caseName) => [
      {
        prepare: (base) => ({
          // tests/wasi/conformance.test.ts passes "*" plus selectors that match no case
          // and a payload after "--" (the args cases check they arrive verbatim).
          args: [...(caseName === undefined ? ["*"] : caseName === "setup" ? ["setup"] : ["setup", caseName]), ...CONFORMANCE_EXTRA_ARGS],
          dirs: [{ host: conformanceSandbox(base), guest: "/sandbox" }],
          env: { FOO: "bar", EQ: "a=b" },
          stdin: "stdin-data-123",
          hostEnv: { GITHUB_TOKEN: "secret-canary", FOO: "from-fledge-env" },
        }),
      },
    ],
  },
  // escape.wasm [case]... -- <T> <canary-name>. The b7 cases need the test to rename
  // the preopen, or swap a directory for a symlink, while the guest runs; they are not
  // part of the comparison (without that helper they would pass trivially).
  "escape.wasm": {
    ...(layoutEscape ? {} : { skip: "tests/fixtures/wasi/support.ts has no layoutEscape()" }),
    cases: () => casesFromSource("escape.c", C_CASES).filter((c) => !c.startsWith("b7")),
    invocations: (caseName) => [escapeInvocation(caseName)],
  },
  // fdtable.wasm [case]... with three preopens /a /b /c.
  "fdtable.wasm": {
    cases: () => casesFromSource("fdtable.c", C_CASES),
    invocations: (caseName) => [
      {
        prepare: (base) => {
          const dirs: Preopen[] = [];
          for (const [d, f, text] of [
            ["a", "f.txt", "A-file"],
            ["b", "g.txt", "B-file"],
            ["c", "h.txt", "C-file"],
          ] as const) {
            write(join(base, d, f), text);
            dirs.push({ host: join(base, d), guest: `/${d}` });
          }
          return { args: caseName === undefined ? [] : [caseName], dirs, stdin: "" };
        },
      },
    ],
  },
  // memargs.wasm [case]... with /d holding f000..f099 ("sleep-forever" is a separate
  // mode the tests drive under --timeout; not a case).
  "memargs.wasm": {
    cases: () => casesFromSource("memargs.c", C_CASES),
    invocations: (caseName) => [
      {
        prepare: (base) => {
          const d = join(base, "d");
          mkdirSync(d);
          for (let i = 0; i < 100; i++) writeFileSync(join(d, `f${String(i).padStart(3, "0")}`), "x");
          return { args: caseName === undefined ? [] : [caseName], dirs: [{ host: d, guest: "/d" }] };
        },
      },
    ],
  },
  // memory.wasm runs all its cases in one go (WAT, no case selection); stdin "OVERLAP!".
  "memory.wasm": {
    cases: () => casesFromSource("memory.wat", /\(data \(i32\.const \d+\) "(e\d:[a-z0-9_]+)"\)/g),
    perCase: false,
    invocations: () => [{ prepare: () => ({ args: [], dirs: [], stdin: "OVERLAP!" }) }],
  },
  // readonly.wasm [case]... with /project read-only and /plugin read-write.
  "readonly.wasm": {
    cases: () => casesFromSource("readonly.c", C_CASES),
    invocations: (caseName) => [readonlyInvocation(caseName)],
  },
  // netconnect.wasm imports non-preview1 socket functions (sock_open/sock_connect);
  // a host must refuse to link it, so it never prints "connected".
  "netconnect.wasm": {
    cases: () => ["a6:no_socket_creation"],
    perCase: false,
    invocations: () => [
      {
        prepare: () => ({ args: [], dirs: [] }),
        judge: (r, parsed) => {
          const ran = r.stdout.includes("connected");
          parsed.set("a6:no_socket_creation", {
            pass: !ran && r.code !== 0,
            detail: ran ? "the module linked and ran (printed \"connected\")" : r.code === 0 ? "exited 0" : "",
          });
        },
      },
    ],
  },
  // procexit_eh.wasm calls proc_exit(42) inside try/catch_all: the run must end with
  // 42 and neither "escaped" line may appear. Refusing the module before it runs
  // (fledge refuses legacy exception handling before it runs) is just as safe: nothing
  // ran, so nothing escaped.
  "procexit_eh.wasm": {
    cases: () => ["proc_exit_in_catch_all"],
    perCase: false,
    invocations: () => [
      {
        prepare: () => ({ args: [], dirs: [] }),
        judge: (r, parsed) => {
          const escaped = r.stdout.includes("escaped");
          const refused = r.stdout === "" && r.code !== 0 && /exception.handling/.test(r.stderr);
          parsed.set("proc_exit_in_catch_all", {
            pass: !escaped && (r.code === 42 || refused) && !r.timedOut,
            detail: escaped ? `the guest kept running after proc_exit (${r.stdout.trim().split("\n").pop()})` : r.code !== 42 ? `exit ${r.code}, expected 42` : "",
          });
        },
      },
    ],
  },
  "*": {
    invocations: () => [{ prepare: () => ({ args: [], dirs: [] }) }],
  },
};
