/**
 * `fledge canary`: the built-in sandbox self-test. The canary (canary.c, compiled to
 * canary.wasm and embedded in the fledge binary) runs in exactly the sandbox a
 * zero-capability plugin gets and tries every way out of it (files, environment,
 * network, processes; the probes are in probes.ts).
 * `--native` performs the same probes as this ordinary process, to show the threat
 * is real; it reports only whether each probe succeeded, never what it read.
 */
import canaryWasmPath from "./canary.wasm" with { type: "file" };
import { PROBES, runNativeProbe, type ProbeResult, type Verdict } from "./probes.ts";

export { PROBES, type ProbeResult } from "./probes.ts";

export interface CanaryReport {
  mode: "sandboxed" | "native" | "native-confined";
  results: (ProbeResult & { description: string })[];
  blocked: number;
  leaked: number;
  /** Native mode: probes whose target does not exist on this machine. */
  absent: number;
  /** Sandboxed mode: the canary's own exit code. */
  exitCode?: number;
  /** Probes the canary was expected to print but did not (a crash part-way counts as leaked). */
  missing: string[];
}

export async function canaryModuleBytes(): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(canaryWasmPath).arrayBuffer());
}

/** Parse the canary's `<id>\t<verdict>\t<detail>` lines. Unknown ids are kept so nothing is hidden. */
export function parseCanaryOutput(text: string): ProbeResult[] {
  const out: ProbeResult[] = [];
  for (const line of text.split("\n")) {
    const [id, verdict, ...rest] = line.split("\t");
    if (!id || (verdict !== "BLOCKED" && verdict !== "LEAKED" && verdict !== "ABSENT")) continue;
    out.push({ id, verdict: verdict as Verdict, detail: rest.join("\t") });
  }
  return out;
}

export function buildReport(mode: CanaryReport["mode"], results: ProbeResult[], exitCode?: number): CanaryReport {
  const byId = new Map(results.map((r) => [r.id, r]));
  const missing = PROBES.filter((p) => !byId.has(p.id)).map((p) => p.id);
  const described = PROBES.map((p) => {
    const r = byId.get(p.id);
    return { id: p.id, description: p.description, verdict: r?.verdict ?? ("LEAKED" as Verdict), detail: r?.detail ?? "the canary never reported this probe (crashed or was stopped?)" };
  });
  for (const r of results) if (!PROBES.some((p) => p.id === r.id)) described.push({ ...r, description: r.id });
  const count = (v: Verdict) => described.filter((r) => r.verdict === v).length;
  return { mode, results: described, blocked: count("BLOCKED"), leaked: count("LEAKED"), absent: count("ABSENT"), exitCode, missing };
}

export async function runNativeCanary(): Promise<CanaryReport> {
  const results: ProbeResult[] = [];
  for (const p of PROBES) results.push(await runNativeProbe(p));
  return buildReport("native", results);
}

export function renderTable(report: CanaryReport): string {
  const w = Math.max(...report.results.map((r) => r.description.length));
  const lines = report.results.map((r) => `${r.verdict.padEnd(7)}  ${r.description.padEnd(w)}  ${r.detail}`);
  return `${lines.join("\n")}\n${summaryLine(report)}\n`;
}

export function summaryLine(report: CanaryReport): string {
  const absent = report.absent ? ` (${report.absent} not present on this machine)` : "";
  return `${report.results.length} tests: ${report.blocked} blocked, ${report.leaked} leaked${absent}`;
}

export interface SandboxRunner {
  /** Run module bytes with the zero-capability plugin sandbox; stdout chunks go to `onStdout`. */
  (bytes: Uint8Array, onStdout: (chunk: Uint8Array) => void): Promise<number>;
}

/** Run the embedded canary through `run` (the plugin sandbox) and collect its verdicts. */
export async function runSandboxedCanary(run: SandboxRunner): Promise<CanaryReport> {
  const chunks: Uint8Array[] = [];
  const exitCode = await run(await canaryModuleBytes(), (c) => chunks.push(c.slice()));
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  return buildReport("sandboxed", parseCanaryOutput(text), exitCode);
}
