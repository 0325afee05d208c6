/**
 * What a confined plugin may open in /proc and /dev. Both are kernel trees granted
 * entry by entry: a folder grant would hand over other processes (/proc/<pid>) or
 * other terminals (/dev/pts/*).
 */
import { lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FsRule } from "./policy.ts";

/**
 * Device files any program may need. `/dev/tty` is the controlling terminal (whatever
 * it is, never another one); `/dev/ptmx` makes a NEW pseudo-terminal pair. Never
 * `/dev/pts` as a folder: every terminal of the user is there (a plugin read the
 * password typed into another terminal and wrote escape sequences onto its screen).
 */
const DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"] as const;
/** A terminal device, by the name the kernel gives it. */
const TERMINAL = /^\/dev\/(pts\/\d+|tty[A-Za-z]*\d+|console)$/;

export function grantDevices(terminals: readonly string[], out: FsRule[]): void {
  for (const d of DEVICES) out.push({ path: d, access: "device" });
  for (const t of terminals) if (TERMINAL.test(t)) out.push({ path: t, access: "device" });
}

/**
 * The terminals among the plugin's stdio: each descriptor fledge passes as is
 * ("inherit": fledge's own 0, 1, 2; a number: that descriptor) that is a terminal,
 * by its exact name (`/dev/pts/3`). A plugin keeps its own terminal open through the
 * descriptors anyway; the name lets it reopen it (`exec </dev/pts/3`, programs that
 * open their tty by name), nothing more.
 */
export function stdioTerminals(stdio: readonly unknown[]): string[] {
  const out = new Set<string>();
  stdio.forEach((s, i) => {
    const fd = s === "inherit" ? i : typeof s === "number" ? s : undefined;
    if (fd === undefined) return;
    try {
      const name = readlinkSync(`/proc/self/fd/${fd}`);
      if (TERMINAL.test(name) && statSync(name).isCharacterDevice()) out.add(name);
    } catch {
      // not a terminal we can name: nothing to grant
    }
  });
  return [...out];
}

/**
 * /proc entries never granted: sysvipc lists every SysV shared memory segment, queue
 * and semaphore set of the machine (the seccomp filter refuses attaching to them; the
 * list itself says which processes talk to which).
 */
const PROC_HIDDEN = new Set(["sysvipc"]);

/**
 * /proc without other processes: every other process's folder (its environment, its
 * memory, its open files) stays closed, whoever owns it. `/proc/self` is opened by the
 * launcher, which becomes the plugin, so the plugin keeps its own folder; the
 * processes it starts do not get theirs (a rule names a folder, not "self").
 */
export function grantProc(out: FsRule[]): void {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return;
  }
  for (const name of names) {
    if (/^\d+$/.test(name) || PROC_HIDDEN.has(name)) continue;
    const p = join("/proc", name);
    try {
      if (lstatSync(p).isSymbolicLink()) continue; // self, thread-self, net, mounts: all lead into a process folder
    } catch {
      continue;
    }
    out.push({ path: p, access: "read" });
  }
  out.push({ path: "/proc/self", access: "read" });
}
