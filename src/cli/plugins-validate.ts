import { defineCommand } from "citty";
import { loadManifest, showManifestValue, type ManifestResult, type Problem } from "../manifest/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "validate",
    description:
      "Check a plugin.toml and report every error and warning with its key path. Exit 1 on errors (or on warnings with --strict). Example: fledge plugins validate ./my-plugin --strict",
  },
  args: {
    path: { type: "positional", required: false, description: "plugin directory or plugin.toml (default: .)" },
    strict: { type: "boolean", description: "also warn about keys fledge ignores, and fail on any warning" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, path, plugin_name, errors, warnings}" },
  },
  run({ args }) {
    const target = typeof args.path === "string" && args.path !== "" ? args.path : ".";
    const strict = Boolean(args.strict);
    // A missing path or plugin.toml throws a FledgeError: exit 1, or the JSON error envelope.
    const result = loadManifest(target, { strict });
    const failed = result.errors.length > 0 || (strict && result.warnings.length > 0);
    if (args.json) {
      printJson({ path: result.path, plugin_name: result.pluginName ?? null, errors: result.errors, warnings: result.warnings });
    } else {
      printResult(renderReport(result, strict));
    }
    return failed ? EXIT.error : EXIT.ok;
  },
});

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function line(kind: "error" | "warn", p: Problem): string {
  // Most messages name their key already; add it when they do not.
  const where = p.path !== "" && !p.message.includes(p.path) ? `  [${p.path}]` : "";
  return `  ${kind}: ${p.message}${where}`;
}

/** The text report: a header, one line per problem, and a summary line. */
export function renderReport(result: ManifestResult, strict: boolean): string {
  // The name comes from an untrusted file: escape it like every value in the messages.
  const name = result.pluginName !== undefined ? showManifestValue(result.pluginName) : "(unnamed plugin)";
  const { errors, warnings } = result;
  if (errors.length === 0 && warnings.length === 0) {
    const m = result.manifest;
    const detail = m ? ` (${m.plugin.version}, ${m.runtime}, ${plural(m.commands.length, "command")})` : "";
    return `${name} — valid${detail}\n  ${result.path}`;
  }
  const lines = [`${name} — ${result.path}`];
  for (const e of errors) lines.push(line("error", e));
  for (const w of warnings) lines.push(line("warn", w));
  const counts = `${plural(errors.length, "error")}, ${plural(warnings.length, "warning")}`;
  if (errors.length > 0) lines.push(`invalid: ${counts}`);
  else if (strict) lines.push(`invalid with --strict: ${counts}`);
  else lines.push(`valid with ${plural(warnings.length, "warning")}`);
  return lines.join("\n");
}
