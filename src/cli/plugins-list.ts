import { defineCommand } from "citty";
// Direct imports, not the barrels: the list path loads only what it shows (see install/list.ts).
import { recoverInterrupted } from "../install/journal.ts";
import { listRows, listText, type ListRow } from "../install/list.ts";
import { show as showManifestValue } from "../manifest/text.ts";
import { EXIT } from "../core/exit-codes.ts";
import { printJson, printTrusted } from "../ui/output.ts";
import { terminalText } from "../ui/sanitize.ts";
import { colorStdout, formatTable, riskStyle, tierStyle, terminalColumns } from "../ui/table.ts";

export default defineCommand({
  meta: { name: "list", description: "List installed plugins with their runtime, trust tier and risk. Example: fledge plugins list --json" },
  args: {
    json: { type: "boolean", description: "print one JSON object: {schema_version, plugins: [...]}" },
  },
  async run({ args }) {
    await recoverInterrupted(process.env); // a crashed install/update/remove is finished or undone first
    if (args.json) {
      printJson({ plugins: listRows(process.env) });
      return EXIT.ok;
    }
    printTrusted(listText(process.env, { width: terminalColumns(), color: colorStdout() }, renderList));
    return EXIT.ok;
  },
});

/**
 * The list as shown: one aligned table (widths measured on the text as shown; tier and
 * risk in colour when `color`), granted network hosts under it. A pure function of its
 * inputs: listText remembers its output for them.
 */
export function renderList(rows: ListRow[], layout: { width: number; color: boolean }): string {
  if (rows.length === 0) return terminalText("No plugins installed. Find some with 'fledge plugins search'.");
  const table = formatTable(
    ["NAME", "VERSION", "TIER", "RISK", "COMMANDS", "SOURCE"],
    rows.map((r) => [
      showManifestValue(r.name),
      `${showManifestValue(r.version)}${r.pinned_ref ? ` (pinned: ${showManifestValue(r.pinned_ref)})` : ""}`,
      r.trust_tier,
      r.sandboxed ? (r.risk === "sandboxed" ? "wasm, sandboxed" : "wasm, elevated risk: exec") : `native, ${r.confinement ?? "unconfined, elevated risk"}`,
      r.commands.map((c) => showManifestValue(c)).join(", ") || "(none)",
      `${r.kind === "linked" ? "live link to " : r.kind === "copied" ? "copied from " : ""}${showManifestValue(r.source)}`,
    ]),
    { width: layout.width, color: layout.color, overflow: "below", style: (col, text) => (col === 2 ? tierStyle(text) : col === 3 ? riskStyle(text) : undefined) },
  );
  // Granted network hosts, when any, under the table (they are a list per plugin).
  const hosts = rows.filter((r) => r.network_hosts.length > 0).map((r) => `${showManifestValue(r.name)} network hosts: ${r.network_hosts.map((h) => showManifestValue(h)).join(", ")}`);
  return hosts.length ? `${table}\n\n${terminalText(hosts.join("\n"))}` : table;
}
