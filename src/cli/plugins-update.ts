import { defineCommand } from "citty";
import { installedDefaults, updatePlugins, type UpdateResult } from "../install/index.ts";
import { readRegistry } from "../registry/index.ts";
import { EXIT, usageError } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export default defineCommand({
  meta: {
    name: "update",
    description:
      "Update installed plugins (or one). New capabilities or changed hooks need consent again (--yes without a terminal); declining keeps the old version. Pinned plugins stay put and report newer tags; local plugins are skipped. Exit 1 if any update failed. Example: fledge plugins update --yes",
  },
  args: {
    name: { type: "positional", required: false, description: "one plugin (default: all)" },
    yes: { type: "boolean", alias: "y", description: "grant new capabilities and approve changed hooks without asking" },
    "trust-native": { type: "boolean", description: "allow an update that turns a plugin native (unsandboxed)" },
    defaults: { type: "boolean", description: "update only the installed plugins of the curated default set" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"update\", results, summary}" },
  },
  async run({ args }) {
    const name = typeof args.name === "string" && args.name !== "" ? args.name : undefined;
    const opts = { yes: Boolean(args.yes), trustNative: Boolean(args["trust-native"]), env: process.env, cwd: process.cwd() };
    let results: UpdateResult[];
    if (args.defaults) {
      if (name !== undefined) throw usageError("--defaults updates the curated set; do not pass a plugin name alongside it", "run 'fledge plugins update --defaults' alone");
      const names = installedDefaults(readRegistry(process.env).plugins).map((p) => p.name);
      if (names.length === 0 && !args.json) {
        printResult("No default plugins are installed. Run 'fledge plugins install --defaults' first.");
        return EXIT.ok;
      }
      results = [];
      for (const n of names) results.push(...(await updatePlugins(n, opts)));
    } else {
      results = await updatePlugins(name, opts);
    }
    const count = (s: string): number => results.filter((r) => r.status === s).length;
    const failed = count("failed");
    if (args.json) {
      printJson({
        action: "update",
        scope: args.defaults ? "defaults" : name === undefined ? "all" : "single",
        results,
        summary: { total: results.length, updated: count("updated"), up_to_date: count("up_to_date"), skipped: count("skipped"), failed },
      });
    } else if (results.length === 0) {
      printResult("No plugins installed.");
    } else {
      const mark: Record<string, string> = { updated: "updated   ", up_to_date: "up to date", skipped: "skipped   ", failed: "FAILED    " };
      printResult(results.map((r) => `${mark[r.status]} ${renderUntrusted(r.name)}: ${renderUntrusted(r.detail)}`).join("\n"));
    }
    return failed > 0 ? EXIT.error : EXIT.ok;
  },
});
