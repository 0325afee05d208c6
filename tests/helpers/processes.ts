/** Process probes for tests that check what a plugin or hook left running (Linux /proc). */
import { readdirSync, readFileSync } from "node:fs";

/** Processes whose command line contains `token` (a test expects none left). */
export function processesWith(token: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(n)) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, "latin1").includes(token)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}
