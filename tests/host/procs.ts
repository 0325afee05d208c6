/** Process inspection for tests (Linux /proc; elsewhere kill(0) probing). */
import { readdirSync, readFileSync } from "node:fs";

/** Is `pid` a live (non-zombie) process? Zombies count as gone: they run nothing. */
export function alive(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Live (non-zombie) members of a process group (Linux only; [] elsewhere). */
export function liveGroupMembers(pgid: number): number[] {
  if (process.platform !== "linux") return [];
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) === pgid && rest[0] !== "Z" && rest[0] !== "X") out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Poll until `check` holds (no wall-clock assertions: the test's own timeout bounds it). */
export async function until(check: () => boolean, stepMs = 20): Promise<void> {
  while (!check()) await Bun.sleep(stepMs);
}
