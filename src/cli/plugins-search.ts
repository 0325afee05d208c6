import { defineCommand } from "citty";
import { searchPlugins } from "../install/index.ts";
import { showManifestValue } from "../manifest/index.ts";
import { TRUST_TIERS, type TrustTier } from "../trust/index.ts";
import { EXIT, usageError } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

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
    json: { type: "boolean", description: "print one JSON object: {schema_version, results: [...]}" },
  },
  async run({ args }) {
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
    const lines = ["Available plugins:"];
    for (const r of results) {
      const topics = r.topics.filter((t) => t !== "fledge-plugin");
      lines.push(`  ${showManifestValue(r.full_name)}  [${r.trust_tier}]  ${showManifestValue(r.description)}  ★ ${r.stars}${topics.length ? `  (${topics.map(showManifestValue).join(", ")})` : ""}`);
    }
    lines.push("", `Install one with: fledge plugins install ${showManifestValue(results[0]!.full_name)}`);
    printResult(lines.join("\n"));
    return EXIT.ok;
  },
});
