/**
 * `fledge canary --native`: the canary's probes run as a confined native plugin
 * (through the same launcher every native plugin goes through), so the table shows
 * what confinement blocks on this machine. Where there is no confinement, the caller
 * falls back to today's unconfined demonstration and says so.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { confinementState, pluginConfinement, spawnPlugin } from "../confine/index.ts";
import { CANARY_PROBES_FLAG } from "../confine/flag.ts";
import { buildReport, parseCanaryOutput, type CanaryReport } from "./index.ts";
import { OUTLIVE_PROBE } from "./probe-main.ts";
import { expand, PROBES, type ProbeResult } from "./probes.ts";

/**
 * A file or folder the plugin found missing while it exists here was covered in the
 * plugin's mount namespace (a credential it cannot even name): blocked, not absent.
 */
function hiddenIsBlocked(r: ProbeResult): ProbeResult {
  const probe = PROBES.find((p) => p.id === r.id);
  if (!probe || (probe.kind !== "read" && probe.kind !== "list") || r.verdict !== "ABSENT") return r;
  if (!existsSync(expand(probe.target))) return r;
  return { ...r, verdict: "BLOCKED", detail: "hidden: the plugin cannot even name it" };
}

function probeCommand(): string[] {
  const compiled = import.meta.url.includes("/$bunfs/") || import.meta.url.includes("/~BUN/");
  return compiled ? [process.execPath, CANARY_PROBES_FLAG] : [process.execPath, join(import.meta.dir, "probe-main.ts")];
}

/** undefined when this system cannot confine (no Landlock). */
export async function runConfinedNativeCanary(cwd: string = process.cwd()): Promise<CanaryReport | undefined> {
  if (confinementState(false).kind !== "confined") return undefined;
  const pluginDir = mkdtempSync(join(tmpdir(), "fledge-canary-"));
  try {
    const base = pluginConfinement({ name: "canary", pluginDir, projectRoot: cwd, capabilities: { filesystem: "none", network: false } });
    // From source the probe child is fledge's own code: readable, like any plugin's own folder.
    const confinement = { ...base, extraRead: [dirname(import.meta.dir)] };
    const { proc, settled } = spawnPlugin({ argv: probeCommand(), cwd, env: process.env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "pipe", stderr: "inherit", warnUnconfined: false });
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    await settled;
    const report = buildReport("native-confined", parseCanaryOutput(text).map(hiddenIsBlocked), code);
    for (const r of report.results) if (r.id === OUTLIVE_PROBE) r.description = "processes end with the plugin";
    return report;
  } finally {
    rmSync(pluginDir, { recursive: true, force: true });
  }
}
