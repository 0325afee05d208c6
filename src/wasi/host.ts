import { realpathSync, statSync } from "node:fs";
import { FledgeError } from "../core/index.ts";
import { encodeStrings, stdioFiletype, WasiDeadlineExceeded, type WasiContext } from "./context.ts";
import { errnoOf } from "./errno.ts";
import { WasiExit } from "./exit.ts";
import { createGate, deadlineBudget, type Gate, type HostBudget } from "./gate.ts";
import { FdTable, type OutputSink, type Sandbox, type StdioEntry } from "./fdtable.ts";
import { fdFunctions } from "./fns-fd.ts";
import { miscFunctions } from "./fns-misc.ts";
import { pathFunctions } from "./fns-path.ts";
import { closeQuietly, openPreopenRoot } from "./hostfs.ts";
import { GuestMemory } from "./memory.ts";
import { pollFunctions } from "./poll.ts";
import { FILETYPE, LIMITS, RIGHTS, RIGHTS_DIR_BASE, RIGHTS_DIR_INHERITING, RIGHTS_DIR_MUTATE, RIGHTS_STDIO } from "./types.ts";

export interface Preopen {
  /** Host directory to expose. */
  hostPath: string;
  /** Name the guest sees (e.g. "/data"); never a host path. */
  guestPath: string;
  readOnly: boolean;
}

export interface WasiOptions {
  /** argv exactly as the guest sees it (argv[0] included). */
  args: string[];
  /** Environment exactly as the guest sees it; nothing from the host is added. */
  env: [string, string][];
  preopens: Preopen[];
  /** Host fd to read for fd 0, or "empty" (the default): EOF at once. */
  stdin?: number | "empty";
  /** Host fd to write fd 1 to, or a sink receiving a copy of each chunk. Default: discarded. */
  stdout?: number | OutputSink;
  stderr?: number | OutputSink;
  /** performance.now() ms after which sleeps and blocking reads stop (the run then ends with a time limit). */
  deadline?: number;
  /** Per-instance limit on open fds (stdio and preopens included); beyond it path_open gives EMFILE. */
  maxFds?: number;
  /**
   * runCommand calls this once the module is instantiated, before `_start`: host
   * import modules that need the guest's memory or exports (the `fledge` imports,
   * the fuel meter) get the instance here.
   */
  onInstance?: (instance: WebAssembly.Instance) => void;
  /**
   * The run's budget (the fuel meter): every import, WASI or not, passes the gate
   * built on it (./gate.ts), which checks it and charges the call's cost. Without
   * one, a deadline-only budget from `deadline` is used.
   */
  budget?: HostBudget;
  /**
   * The WASI functions the module imports (runCommand passes them): only these are
   * wrapped and linked through the gate, since the link (./link.ts) hands the guest
   * nothing else anyway. Building all of them costs a small module's start about a
   * millisecond. Default: all.
   */
  only?: ReadonlySet<string>;
}

export const WASI_MODULE = "wasi_snapshot_preview1";

/** What an import module may provide (the global WebAssembly typings here lack these names). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type ImportValue = Function | WebAssembly.Global | WebAssembly.Memory | WebAssembly.Table | number;
export type ImportModules = Record<string, Record<string, ImportValue>>;

export interface Wasi {
  /** The `wasi_snapshot_preview1` functions (all 46). */
  readonly imports: Record<string, ImportValue>;
  bindMemory(mem: WebAssembly.Memory): void;
  /** The gate every import of this run passes (runCommand links the other host modules through it too). */
  readonly gate: Gate;
  /** Close every host fd this instance holds. Idempotent. */
  closeAll(): void;
}

/** Exceptions that must pass through the import wrapper to end the run. */
function endsRun(e: unknown): boolean {
  return e instanceof WasiExit || e instanceof WasiDeadlineExceeded || e instanceof FledgeError;
}

/**
 * Every import goes through this: a WasiErrno or host error becomes the returned
 * errno, an unexpected JS error becomes EIO; only the run-ending sentinels pass.
 */
function wrap(fn: (...args: never[]) => number): (...args: unknown[]) => number {
  return function wasiImport(this: unknown): number {
    // The gate (outside this wrapper) already checked the budget: a limit stop ends the run, never becomes an errno.
    try {
      // eslint-disable-next-line prefer-rest-params
      return (fn as (...a: unknown[]) => number).apply(undefined, arguments as unknown as unknown[]);
    } catch (e) {
      if (endsRun(e)) throw e;
      return errnoOf(e);
    }
  };
}

function stdioEntry(target: number | "empty" | OutputSink | undefined, rights: number): StdioEntry {
  const hostFd = typeof target === "number" ? target : undefined;
  const sink = typeof target === "function" ? target : undefined;
  return { kind: "stdio", hostFd, sink, rightsBase: rights, rightsInheriting: 0, fdflags: 0, filetype: hostFd === undefined ? FILETYPE.character_device : stdioFiletype(hostFd) };
}

function openPreopen(p: Preopen): { sandbox: Sandbox; fd: number; real: string } {
  let real: string;
  try {
    // Resolve the host root once, at startup (macOS /tmp -> /private/tmp); the guest never influences it.
    real = realpathSync.native(p.hostPath);
    if (!statSync(real).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new FledgeError(`cannot preopen '${p.hostPath}': ${e instanceof Error ? e.message : String(e)}`, { cause: e, code: "wasi_preopen", hint: "--dir needs an existing directory" });
  }
  const root = openPreopenRoot(real);
  const { fd } = openPreopenRoot(real);
  return { sandbox: { root, readOnly: p.readOnly, guestPath: p.guestPath }, fd, real };
}

export function createWasi(opts: WasiOptions): Wasi {
  const gate = createGate(opts.budget ?? deadlineBudget(opts.deadline ?? Infinity));
  const mem = new GuestMemory();
  const fds = new FdTable(opts.maxFds ?? LIMITS.defaultMaxFds);
  const ctx: WasiContext = {
    mem,
    fds,
    args: encodeStrings(opts.args),
    env: encodeStrings(opts.env.map(([k, v]) => `${k}=${v}`)),
    deadline: opts.deadline ?? Infinity,
    gate,
  };
  const stdinRights = RIGHTS_STDIO & ~RIGHTS.fd_write;
  const outRights = RIGHTS_STDIO & ~RIGHTS.fd_read;
  fds.set(0, stdioEntry(opts.stdin ?? "empty", stdinRights));
  fds.set(1, stdioEntry(opts.stdout, outRights));
  fds.set(2, stdioEntry(opts.stderr, outRights));

  const sandboxes: Sandbox[] = [];
  try {
    opts.preopens.forEach((p, i) => {
      const { sandbox, fd, real } = openPreopen(p);
      sandboxes.push(sandbox);
      // Read-only trees get no directory-mutating rights; file write rights stay in
      // `inheriting` so a libc O_WRONLY open asks for them and meets the EROFS gate
      // at open time instead of failing later at write.
      const base = p.readOnly ? RIGHTS_DIR_BASE & ~RIGHTS_DIR_MUTATE : RIGHTS_DIR_BASE;
      const inheriting = p.readOnly ? RIGHTS_DIR_INHERITING & ~RIGHTS_DIR_MUTATE : RIGHTS_DIR_INHERITING;
      fds.set(3 + i, {
        kind: "dir", handle: { fd, path: real }, sandbox, preopenName: new TextEncoder().encode(p.guestPath),
        listing: undefined, filetype: FILETYPE.directory, fdflags: 0, rightsBase: base, rightsInheriting: inheriting,
      });
    });
  } catch (e) {
    fds.closeAll();
    for (const s of sandboxes) closeQuietly(s.root.fd);
    throw e;
  }

  const raw = { ...miscFunctions(ctx), ...fdFunctions(ctx), ...pathFunctions(ctx), ...pollFunctions(ctx) };
  const errnoWrapped: Record<string, ImportValue> = {};
  for (const [name, fn] of Object.entries(raw)) if (!opts.only || opts.only.has(name)) errnoWrapped[name] = wrap(fn as (...args: never[]) => number);
  const imports = gate.link({ [WASI_MODULE]: errnoWrapped })[WASI_MODULE]!;

  let closed = false;
  return {
    imports,
    gate,
    bindMemory: (m) => mem.bind(m),
    closeAll() {
      if (closed) return;
      closed = true;
      fds.closeAll();
      for (const s of sandboxes) closeQuietly(s.root.fd);
    },
  };
}
