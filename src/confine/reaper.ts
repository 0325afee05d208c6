/**
 * A plugin's processes end with the plugin. A native plugin (a command, a protocol
 * plugin, a hook, an `exec` it asks for) may start something in the background that
 * outlives it (`setsid ... &`, a double fork, `nohup`): it would keep the plugin's
 * grants (a writable project, the network) after fledge returned, act later unseen,
 * and change the project after fledge's post-run checks. Process groups and sessions
 * cannot hold such a process (it can leave both), so fledge becomes a child subreaper
 * (prctl PR_SET_CHILD_SUBREAPER, Linux): every process orphaned below it is
 * reparented to fledge instead of init, and once the plugin has exited fledge kills
 * every child it did not have before the plugin started, until none is left (after a
 * confined run, only those with no_new_privs: never a process fledge started itself).
 *
 * Runs nest (a protocol plugin's `exec`): the reaping happens when the outermost run
 * ends, since an inner run's leftovers and the outer plugin's are the same plugin's.
 *
 * Where the prctl is unavailable (not Linux, no libc through bun:ffi) this does
 * nothing; the plugin's stray processes then live on as before.
 */
import { readdirSync, readFileSync } from "node:fs";

const PR_SET_CHILD_SUBREAPER = 36;
let subreaper: boolean | undefined;

function becomeSubreaper(): boolean {
  if (subreaper !== undefined) return subreaper;
  subreaper = false;
  if (process.platform !== "linux") return false;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
    subreaper = libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) === 0;
  } catch {
    subreaper = false;
  }
  return subreaper;
}

/** Whether a /proc stat line is of a zombie (fields after the last ')', which the command name may hold: state, ppid, ...). */
function zombieStat(stat: string): boolean {
  return stat.charAt(stat.lastIndexOf(")") + 2) === "Z";
}

/**
 * Whether `pid` is alive: not a zombie, or a zombie leader whose other threads still
 * run (a process whose main thread exited shows as a zombie while its threads go on;
 * skipping it would let it outlive the run). A real zombie has handed its children up.
 */
function alive(pid: string): boolean {
  try {
    if (!zombieStat(readFileSync(`/proc/${pid}/stat`, "latin1"))) return true;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (tid !== pid && !zombieStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1"))) return true;
    }
    return false;
  } catch {
    return false;
  }
}

/**
 * The live pids whose parent is this process. Each thread's `children` file lists
 * them directly; where the kernel lacks it, every process's parent is read instead.
 */
function children(): Set<number> {
  const out = new Set<number>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      for (const pid of readFileSync(`/proc/self/task/${tid}/children`, "latin1").split(" ")) {
        if (pid !== "" && alive(pid)) out.add(Number(pid));
      }
    }
    return out;
  } catch {
    // no children files (CONFIG_PROC_CHILDREN off): fall back to the full scan
  }
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^[0-9]+$/.test(n)) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) === process.pid && alive(n)) out.add(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

let active = 0;
let before: Set<number> = new Set();
/** Whether one of the runs since `before` was unconfined (its strays carry no mark). */
let unconfinedRun = false;

/**
 * Whether `pid` runs with no_new_privs, which every confined plugin process has and
 * can never drop (fledge itself and what it starts for its own needs do not): a
 * confined run's stray is told from fledge's own children by it.
 */
function confinedProcess(pid: number): boolean {
  try {
    return /^NoNewPrivs:\s*1$/m.test(readFileSync(`/proc/${pid}/status`, "latin1"));
  } catch {
    return false;
  }
}

/**
 * How long the reaper keeps killing and waiting, in rounds of 20 ms (60 s): a process
 * in an uninterruptible kernel wait (a truncate of a large cached file, a rename waiting
 * for it) ends only once that call returns, and a namespace's init ends only once every
 * process of the namespace has. Bounded, so a process the kernel never lets go cannot
 * hang fledge; what is still alive then is reported (RunEnd.ended false).
 */
export const REAP_ROUNDS = 3000;

/** How a run's processes ended: `ended` false when some were still alive when fledge stopped waiting. */
export interface RunEnd {
  ended: boolean;
}

/**
 * THE end of a plugin run's processes. Call before plugin code starts; call the
 * returned function (once) after the started process has exited: when no other run is
 * still going, it kills every process that became this process's child since the
 * first of them started (the plugin's orphans, reparented here, and the init of the
 * plugin's PID namespace when the launcher was killed), repeating while new ones
 * appear (a dying parent hands its children up) and until each is gone.
 * `rounds` bounds the wait (tests shorten it).
 */
export function reapAfterRun(confined: boolean, rounds: number = REAP_ROUNDS): () => Promise<RunEnd> {
  if (!becomeSubreaper()) return async () => ({ ended: true });
  if (active === 0) {
    before = children();
    unconfinedRun = false;
  }
  if (!confined) unconfinedRun = true;
  active += 1;
  let done = false;
  return async () => {
    if (done) return { ended: true };
    done = true;
    active -= 1;
    if (active > 0) return { ended: true };
    const known = before;
    // Only the plugin's processes: after confined runs, those that carry the mark.
    const ours = unconfinedRun ? (): boolean => true : confinedProcess;
    // An orphan is reparented here before its parent's exit is reported, so a first
    // empty look means nothing was left. After a kill, done only after two empty looks
    // in a row: the killed process's own children are handed up as it exits. A killed
    // process stays in the list (not a zombie) until it has really ended.
    let empty = 0;
    for (let round = 0; round < rounds; round++) {
      const strays = [...children()].filter((p) => !known.has(p) && ours(p));
      if (strays.length === 0) {
        if (round === 0) return { ended: true };
        empty += 1;
        if (empty >= 2) return { ended: true };
        await Bun.sleep(20);
        continue;
      }
      empty = 0;
      for (const p of strays) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await Bun.sleep(20);
    }
    return { ended: false };
  };
}
