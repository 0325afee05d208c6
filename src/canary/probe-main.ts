// The probe child of `fledge canary --native`: runs every probe as a confined native
// plugin would and prints `<id>\t<verdict>\t<detail>` lines (never what it read).
import { readlinkSync } from "node:fs";
import { PROBES, runNativeProbe } from "./probes.ts";

/** The id of the line saying whether the plugin's processes end with it (native-confined.ts describes it). */
export const OUTLIVE_PROBE = "proc.outlive";

/**
 * Whether this probe child runs in a PID namespace of its own: its pid differs from
 * the one /proc (the host's) gives it. Then every process it starts ends with it;
 * otherwise only fledge's reaper ends them, which a fast fork chain can outrun.
 */
function outliveLine(): string {
  let outside = 0;
  try {
    outside = Number(readlinkSync("/proc/self"));
  } catch {
    outside = process.pid;
  }
  return outside !== process.pid
    ? `${OUTLIVE_PROBE}\tBLOCKED\town PID namespace: the kernel ends every process of the plugin with it`
    : `${OUTLIVE_PROBE}\tLEAKED\tfallback: reaper, a fast fork chain can outlive the plugin (no PID namespace here)`;
}

export async function runProbeChild(): Promise<never> {
  const lines: string[] = [];
  for (const p of PROBES) {
    const r = await runNativeProbe(p, "confined");
    lines.push(`${r.id}\t${r.verdict}\t${r.detail.replace(/[\t\n]/g, " ")}`);
  }
  lines.push(outliveLine());
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exit(0);
}

if (import.meta.main) await runProbeChild();
