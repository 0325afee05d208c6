import { defineCommand } from "citty";
import { searchPlugins } from "../install/index.ts";
import { showManifestValue } from "../manifest/index.ts";
import { TRUST_TIERS, type TrustTier } from "../trust/index.ts";
import { EXIT, FledgeError, usageError } from "../core/index.ts";
import { canPrompt, chooseOutcome, interruptedError, log, printJson, printResult, printTrusted, useColor } from "../ui/index.ts";
import { terminalText } from "../ui/sanitize.ts";
import { installedLine, installOne } from "./plugins-install.ts";
import { formatTable, tierStyle, terminalColumns } from "../ui/table.ts";

export default defineCommand({
  meta: {
    name: "search",
    description: "Search GitHub for repositories with the fledge-plugin topic, each with the trust tier it would install at. Example: fledge plugins search lint --trust-tier official",
  },
  args: {
    query: { type: "positional", required: false, description: "keywords to look for in names, descriptions and topics" },
    author: { type: "string", alias: "a", description: "only repositories of this GitHub user or organization" },
    topic: { type: "string", alias: "t", description: "also require this topic" },
    "trust-tier": { type: "enum", options: [...TRUST_TIERS], description: "only results of this tier: local, official, team or unverified" },
    limit: { type: "string", alias: "l", description: "at most this many results (1-100, default 20)" },
    interactive: { type: "boolean", alias: "i", description: "pick one result and install it (needs a terminal; the install asks for consent as usual)" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, results: [...]} (wins over --interactive)" },
  },
  async run({ args }) {
    // Refuse before searching: picking needs someone at a terminal.
    const interactive = Boolean(args.interactive) && !args.json;
    if (interactive && !canPrompt()) {
      throw new FledgeError("search --interactive needs a terminal to pick a plugin, and fledge cannot ask here (no TTY, or --non-interactive)", {
        code: "not_interactive",
        hint: "run it in a terminal, or search without -i and install with 'fledge plugins install <owner/repo>'",
      });
    }
    const tier = args["trust-tier"];
    if (tier !== undefined && !TRUST_TIERS.includes(tier as TrustTier)) throw usageError(`--trust-tier must be one of ${TRUST_TIERS.join(", ")}`);
    const limit = args.limit === undefined ? 20 : Number(args.limit);
    const results = await searchPlugins({
      ...(typeof args.query === "string" && args.query !== "" ? { query: args.query } : {}),
      ...(args.author !== undefined ? { author: String(args.author) } : {}),
      ...(args.topic !== undefined ? { topic: String(args.topic) } : {}),
      ...(tier !== undefined ? { tier: tier as TrustTier } : {}),
      limit,
      env: process.env,
    });
    if (args.json) {
      printJson({ results });
      return EXIT.ok;
    }
    if (results.length === 0) {
      printResult("No plugins found.");
      return EXIT.ok;
    }
    if (interactive) return pickAndInstall(results);
    const table = formatTable(
      ["REPOSITORY", "TIER", "STARS", "DESCRIPTION"],
      results.map((r) => {
        const topics = r.topics.filter((t) => t !== "fledge-plugin");
        return [
          showManifestValue(r.full_name),
          r.trust_tier,
          String(r.stars),
          `${showManifestValue(r.description)}${topics.length ? ` (${topics.map(showManifestValue).join(", ")})` : ""}`,
        ];
      }),
      { width: terminalColumns(), overflow: "wrap", style: (col, text) => (col === 1 ? tierStyle(text) : undefined) },
    );
    printTrusted(`${table}\n\nInstall one with: fledge plugins install ${showManifestValue(results[0]!.full_name)}`);
    return EXIT.ok;
  },
});

/** The -i flow: numbered list on stderr, one pick, then the ordinary install (no flags: it asks). */
async function pickAndInstall(results: { full_name: string; description: string; trust_tier: string; stars: number }[]): Promise<number> {
  // The same aligned table as the plain listing, on stderr (the question's stream).
  const table = formatTable(
    ["#", "REPOSITORY", "TIER", "STARS", "DESCRIPTION"],
    results.map((r, i) => [String(i + 1), showManifestValue(r.full_name), r.trust_tier, String(r.stars), showManifestValue(r.description)]),
    { width: terminalColumns(process.stderr), overflow: "wrap", color: useColor(process.stderr), style: (col, text) => (col === 2 ? tierStyle(text) : undefined) },
  );
  process.stderr.write(`Select a plugin to install:\n${table}\n`);
  const outcome = await chooseOutcome("Plugin number?", results.length);
  if (outcome === "interrupted") throw interruptedError("search");
  if (outcome === "cancelled") {
    printResult("Cancelled.");
    return EXIT.ok;
  }
  const pick = results[outcome.picked]!;
  log.info(`installing ${showManifestValue(pick.full_name)}`);
  const r = await installOne(pick.full_name, { copy: false, force: false, yes: false, trustNative: false, build: false });
  printResult(installedLine(r.entry));
  return EXIT.ok;
}
