import { defineCommand } from "citty";
import { verifyPlugins, recoverInterrupted } from "../install/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "verify",
    description: "Re-hash installed command binaries against the sha256 recorded at install. Exit 1 if any changed or went missing. Example: fledge plugins verify hello",
  },
  args: {
    name: { type: "positional", required: false, description: "one plugin (default: all)" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"verify\", results, summary}" },
  },
  async run({ args }) {
    await recoverInterrupted(process.env); // a crashed install/update/remove is finished or undone first
    const rows = verifyPlugins(process.env, typeof args.name === "string" && args.name !== "" ? args.name : undefined);
    const failed = rows.filter((r) => r.status === "failed").length;
    if (args.json) {
      printJson({ action: "verify", results: rows, summary: { total: rows.length, ok: rows.filter((r) => r.status === "ok").length, failed, unknown: rows.filter((r) => r.status === "unknown").length } });
    } else if (rows.length === 0) {
      printResult("No plugins installed.");
    } else {
      const lines: string[] = [];
      for (const r of rows) {
        lines.push(`${r.status === "ok" ? "ok     " : r.status === "failed" ? "FAILED " : "unknown"} ${r.name}${r.linked ? " (live link: changes to its source show up here)" : ""}`);
        for (const f of r.files) if (f.status !== "ok") lines.push(`    ${f.binary}: ${f.status}`);
        if (r.status === "unknown") lines.push("    no integrity recorded (installed by another fledge)");
      }
      printResult(lines.join("\n"));
    }
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
});
