import { defineCommand } from "citty";
import { listRows, recoverInterrupted } from "../install/index.ts";
import { showManifestValue } from "../manifest/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: { name: "list", description: "List installed plugins with their runtime, trust tier and risk. Example: fledge plugins list --json" },
  args: {
    json: { type: "boolean", description: "print one JSON object: {schema_version, plugins: [...]}" },
  },
  async run({ args }) {
    await recoverInterrupted(process.env); // a crashed install/update/remove is finished or undone first
    const rows = listRows(process.env);
    if (args.json) {
      printJson({ plugins: rows });
      return EXIT.ok;
    }
    if (rows.length === 0) {
      printResult("No plugins installed. Find some with 'fledge plugins search'.");
      return EXIT.ok;
    }
    const width = Math.max(...rows.map((r) => r.name.length));
    const lines = ["Installed plugins:"];
    for (const r of rows) {
      const pin = r.pinned_ref ? ` (pinned: ${showManifestValue(r.pinned_ref)})` : "";
      const risk = r.sandboxed ? (r.risk === "sandboxed" ? "wasm, sandboxed" : "wasm, elevated risk: exec") : `native, ${r.confinement ?? "unconfined, elevated risk"}`;
      const kind = r.kind === "linked" ? "live link to " : r.kind === "copied" ? "copied from " : "";
      lines.push(`  ${r.name.padEnd(width)}  ${showManifestValue(r.version)}${pin}  [${r.trust_tier}]  ${risk}  (${kind}${showManifestValue(r.source)})`);
      lines.push(`  ${"".padEnd(width)}  commands: ${r.commands.join(", ") || "(none)"}`);
      if (r.network_hosts.length > 0) lines.push(`  ${"".padEnd(width)}  network hosts: ${r.network_hosts.join(", ")}`);
    }
    printResult(lines.join("\n"));
    return EXIT.ok;
  },
});
