import { defineCommand } from "citty";
import { verifyPlugins, recoverInterrupted } from "../install/index.ts";
import { EXIT } from "../core/index.ts";
import { showManifestValue } from "../manifest/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "verify",
    description: "Re-hash installed command binaries against the sha256 recorded at install, and say how each plugin was installed (downloaded, copied, linked). Live links are not checked (your rebuilds run as they are). Exit 1 if any changed or went missing. Example: fledge plugins verify hello",
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
      printJson({ action: "verify", results: rows, summary: { total: rows.length, ok: rows.filter((r) => r.status === "ok").length, failed, unknown: rows.filter((r) => r.status === "unknown").length, linked: rows.filter((r) => r.status === "linked").length } });
    } else if (rows.length === 0) {
      printResult("No plugins installed.");
    } else {
      const lines: string[] = [];
      const label = { ok: "ok     ", failed: "FAILED ", unknown: "unknown", linked: "linked " } as const;
      for (const r of rows) {
        lines.push(`${label[r.status]} ${r.name}  [${r.kind}]`);
        if (r.linked && r.link_target_exists === false) lines.push(`    live link to ${showManifestValue(r.link_target ?? "?")}, which no longer exists: reinstall it, or remove it with 'fledge plugins remove ${r.name}'`);
        else if (r.linked) lines.push(`    live link to ${showManifestValue(r.link_target ?? "?")}: not checked (your rebuilds run as they are; it keeps the capabilities granted at install)`);
        else if (r.link_target_exists === false) lines.push(`    its folder is a link to ${showManifestValue(r.link_target ?? "?")}, which no longer exists`);
        else for (const f of r.files) if (f.status !== "ok") lines.push(`    ${f.binary}: ${f.status}`);
        if (r.status === "unknown") lines.push("    no integrity recorded (installed by another fledge)");
      }
      printResult(lines.join("\n"));
    }
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
});
