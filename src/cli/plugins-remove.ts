import { defineCommand } from "citty";
import { removePlugin } from "../install/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { humanBytes } from "./cache.ts";

export default defineCommand({
  meta: {
    name: "remove",
    description: "Remove an installed plugin: its post_remove hook (if approved at install), shims, directory (a live link is only unlinked) and registry entry. Example: fledge plugins remove hello",
  },
  args: {
    name: { type: "positional", required: true, description: "the plugin name shown by 'fledge plugins list'" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"remove\", removed, warnings}" },
  },
  async run({ args }) {
    const { entry, warnings, cache } = await removePlugin(String(args.name), process.env);
    if (args.json) {
      printJson({ action: "remove", removed: { name: entry.name, source: entry.source, version: entry.version, commands: entry.commands }, warnings, cache });
    } else {
      printResult(`Removed ${renderUntrusted(entry.name)}${cache.files ? ` (and ${cache.files} prepared module(s), ${humanBytes(cache.bytes)}, from the cache)` : ""}`);
    }
    return EXIT.ok;
  },
});
