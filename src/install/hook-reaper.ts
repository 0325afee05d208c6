/**
 * A hook's processes end with the hook. A build hook may start a background process
 * (`setsid ... &`) that outlives it: it would keep the build's grants (network, the
 * plugin folder writable) after install returns, and could rewrite the folder after
 * the tree policy and the integrity hashes were computed. Process groups and sessions
 * cannot hold such a process (it can leave both), so fledge becomes a child
 * subreaper (prctl PR_SET_CHILD_SUBREAPER, Linux): every process orphaned below it is
 * reparented to fledge instead of init, and once the hook has exited fledge kills
 * every child it did not have before the hook started, until none is left.
 *
 * Where the prctl is unavailable (not Linux, no libc through bun:ffi) this does
 * nothing and says so once; the hook's stray processes then live on as before.
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

/** The pids whose parent is this process (read from /proc; empty where /proc is absent). */
function children(): Set<number> {
  const out = new Set<number>();
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
      // Fields after the last ')' (the command name may hold anything): state, ppid, ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) === process.pid && rest[0] !== "Z") out.add(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Call before a hook starts; call the returned function once it has exited: it kills
 * every process that became this process's child since (the hook's orphans, reparented
 * here), repeating while new ones appear (a dying parent hands its children up).
 */
export function reapAfterHook(): () => Promise<void> {
  if (!becomeSubreaper()) return async () => {};
  const before = children();
  return async () => {
    // Done after two empty looks in a row: a process whose parent was just killed is
    // reparented here as that parent exits, so one empty look can come too early.
    let empty = 0;
    for (let round = 0; round < 200 && empty < 2; round++) {
      const strays = [...children()].filter((p) => !before.has(p));
      if (strays.length === 0) {
        empty += 1;
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
  };
}
