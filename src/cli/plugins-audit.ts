import { defineCommand } from "citty";
import { auditRows, recoverInterrupted } from "../install/index.ts";
import { showManifestValue } from "../manifest/index.ts";
import { describeCapabilities, describeRuntime } from "../trust/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printTrusted, terminalText } from "../ui/index.ts";
import { colorStdout, paint, riskStyle, terminalColumns, tierStyle, wrapBlock } from "../ui/table.ts";

export default defineCommand({
  meta: {
    name: "audit",
    description: "Show what every installed plugin was granted: runtime and risk, capabilities, approved hooks, and what deserves attention. Example: fledge plugins audit --json",
  },
  args: {
    json: { type: "boolean", description: "print one JSON object: {schema_version, audit: [...], summary}" },
  },
  async run({ args }) {
    await recoverInterrupted(process.env); // a crashed install/update/remove is finished or undone first
    const { rows, summary } = auditRows(process.env);
    if (args.json) {
      printJson({ audit: rows, summary });
      return EXIT.ok;
    }
    const color = colorStdout();
    const width = terminalColumns();
    // Every value passes the terminal backstop before colour is added around it.
    const safe = (s: string) => terminalText(s);
    const lines = [paint("bold", "Plugin security audit", color), ""];
    for (const r of rows) {
      const risk = r.sandboxed ? "(wasm, sandboxed)" : r.confined ? `(native, ${r.confinement})` : `(native, ${(r.confinement ?? "unconfined").toUpperCase()})`;
      lines.push(`• ${paint("bold", safe(showManifestValue(r.name)), color)} ${safe(showManifestValue(r.version))} [${paint(tierStyle(r.trust_tier), r.trust_tier, color)}] ${paint(riskStyle(risk), safe(risk), color)}`);
      lines.push(`    source: ${showManifestValue(r.source)}`);
      lines.push(`    runtime: ${describeRuntime(r.runtime)}`);
      const caps = describeCapabilities(r.capabilities);
      lines.push(`    granted: ${caps.length ? "" : "nothing"}`);
      for (const c of caps) lines.push(`      - ${c}`);
      for (const x of r.confinement_extras) lines.push(`    confinement: ${showManifestValue(x)}`);
      for (const [event, cmd] of Object.entries(r.hooks)) lines.push(`    hook ${event}: ${showManifestValue(cmd)}`);
      lines.push(`    commands: ${r.commands.join(", ") || "(none)"}`);
      for (const w of r.warnings) lines.push(`    ${paint("yellow", "!", color)} ${safe(w)}`);
      lines.push("");
    }
    lines.push(`Summary: ${summary.total} plugin(s), ${summary.unverified} unverified, ${summary.elevated} elevated risk, ${summary.native} native, ${summary.sandboxed} wasm (sandboxed)`);
    // Lines with colour were built from safe parts; the rest pass the backstop here. Then
    // everything wraps at words to the terminal (colour codes take no columns).
    printTrusted(wrapBlock(lines.map((l) => (l.includes("\u001b[") ? l : safe(l))).join("\n"), width));
    return EXIT.ok;
  },
});
