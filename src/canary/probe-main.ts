// The probe child of `fledge canary --native`: runs every probe as a confined native
// plugin would and prints `<id>\t<verdict>\t<detail>` lines (never what it read).
import { PROBES, runNativeProbe } from "./probes.ts";

export async function runProbeChild(): Promise<never> {
  const lines: string[] = [];
  for (const p of PROBES) {
    const r = await runNativeProbe(p, "confined");
    lines.push(`${r.id}\t${r.verdict}\t${r.detail.replace(/[\t\n]/g, " ")}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exit(0);
}

if (import.meta.main) await runProbeChild();
