/**
 * `fledge plugins search`: GitHub repository search for the `fledge-plugin` topic,
 * each result labelled with the trust tier its owner would get at install.
 */
import { loadConfig } from "../registry/index.ts";
import { classifyOwner, type TrustTier } from "../trust/index.ts";
import { usageError } from "../core/index.ts";
import { githubApiToken, githubClient, searchRepositories, type SearchItem } from "./github.ts";

export const PLUGIN_TOPIC = "fledge-plugin";

export interface SearchOptions {
  query?: string;
  author?: string;
  topic?: string;
  tier?: TrustTier;
  limit: number;
  env: NodeJS.ProcessEnv;
}

export interface SearchResult extends SearchItem {
  trust_tier: TrustTier;
}

/** GitHub's search syntax: keywords in name/description/topics, plus topic: and user: qualifiers. */
export function searchQuery(o: Pick<SearchOptions, "query" | "author" | "topic">): string {
  const parts: string[] = [];
  const kw = o.query?.trim();
  if (kw) parts.push(`${kw} in:name,description,topics`);
  parts.push(`topic:${PLUGIN_TOPIC}`);
  if (o.topic?.trim()) parts.push(`topic:${o.topic.trim()}`);
  if (o.author?.trim()) parts.push(`user:${o.author.trim()}`);
  return parts.join(" ");
}

export async function searchPlugins(o: SearchOptions): Promise<SearchResult[]> {
  if (!Number.isInteger(o.limit) || o.limit < 1 || o.limit > 100) throw usageError("--limit must be a whole number from 1 to 100");
  for (const [flag, v] of [["--author", o.author], ["--topic", o.topic]] as const) {
    if (v !== undefined && !/^[A-Za-z0-9._-]+$/.test(v)) throw usageError(`${flag} must be a single word of letters, digits, '.', '_' or '-'`);
  }
  const config = loadConfig(o.env);
  const client = githubClient(o.env, githubApiToken(o.env, config));
  const items = await searchRepositories(client, searchQuery(o), o.limit);
  const results = items.map((it) => ({ ...it, trust_tier: classifyOwner(it.owner, config.trust).tier }));
  return o.tier ? results.filter((r) => r.trust_tier === o.tier) : results;
}
