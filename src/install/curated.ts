/**
 * The curated plugin lists the original ships: the default set (`install --defaults`,
 * `update --defaults`) and the recommendations for a project (`plugins recommend`).
 * They are only names of sources: installing one goes through the ordinary install,
 * with its trust tier, consent and build rules.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RegistryEntry } from "../registry/index.ts";
import { parseSource } from "../trust/index.ts";

/** The original's DEFAULT_PLUGINS, pinned as it pins them. */
export const DEFAULT_PLUGINS: readonly string[] = [
  "CorvidLabs/fledge-plugin-github@v0.4.0",
  "CorvidLabs/fledge-plugin-deps@v0.2.0",
  "CorvidLabs/fledge-plugin-metrics@v0.2.1",
];

/** `owner/repo` of a source string, lower-cased, or undefined for local and odd sources. */
function repoKey(source: string): string | undefined {
  try {
    const s = parseSource(source);
    if (s.kind === "local" || !s.owner || !s.repo) return undefined;
    return `${s.owner}/${s.repo}`.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Whether an installed plugin came from one of `sources` (same owner/repo, any ref or URL form). */
export function installedFrom(entry: Pick<RegistryEntry, "source">, sources: readonly string[]): boolean {
  const key = repoKey(entry.source);
  return key !== undefined && sources.some((s) => repoKey(s) === key);
}

/** The installed plugins that belong to the default set, in registry order. */
export function installedDefaults(plugins: readonly RegistryEntry[]): RegistryEntry[] {
  return plugins.filter((p) => installedFrom(p, DEFAULT_PLUGINS));
}

export type ProjectLanguage = "rust" | "node" | "go" | "python" | "ruby" | "java-gradle" | "java-maven" | "swift" | "generic";

/** The project's language from the files at its root, in the original's order. */
export function detectLanguage(root: string): ProjectLanguage {
  const has = (f: string): boolean => existsSync(join(root, f));
  if (has("Cargo.toml")) return "rust";
  if (has("package.json")) return "node";
  if (has("go.mod")) return "go";
  if (has("pyproject.toml") || has("setup.py") || has("requirements.txt")) return "python";
  if (has("Gemfile")) return "ruby";
  if (has("build.gradle") || has("build.gradle.kts")) return "java-gradle";
  if (has("pom.xml")) return "java-maven";
  if (has("Package.swift")) return "swift";
  return "generic";
}

export interface Recommendation {
  repo: string;
  reason: string;
}

const BENCH_LANGUAGES: readonly ProjectLanguage[] = ["rust", "go", "node", "swift"];
const COVERAGE_LANGUAGES: readonly ProjectLanguage[] = ["rust", "go", "node", "python", "swift"];

/**
 * What to suggest for the project at `root`: the everyday set, tools for its language,
 * docker when it has a Dockerfile, and nothing already installed (by owner/repo).
 */
export function recommend(root: string, installed: readonly RegistryEntry[]): { language: ProjectLanguage; recommendations: Recommendation[] } {
  const language = detectLanguage(root);
  const has = (f: string): boolean => existsSync(join(root, f));
  const list: Recommendation[] = [
    { repo: "CorvidLabs/fledge-plugin-github", reason: "pull requests, issues and CI status from the terminal" },
    { repo: "CorvidLabs/fledge-plugin-deps", reason: "check dependencies for updates" },
    { repo: "CorvidLabs/fledge-plugin-metrics", reason: "code metrics for the project" },
    { repo: "CorvidLabs/fledge-plugin-todo", reason: "collect TODO and FIXME comments" },
    { repo: "CorvidLabs/fledge-plugin-secrets", reason: "look for committed secrets" },
    { repo: "CorvidLabs/fledge-plugin-gitleaks", reason: "scan git history for leaked credentials" },
  ];
  if (BENCH_LANGUAGES.includes(language)) list.push({ repo: "CorvidLabs/fledge-plugin-bench", reason: `run and compare ${language} benchmarks` });
  if (COVERAGE_LANGUAGES.includes(language)) list.push({ repo: "CorvidLabs/fledge-plugin-coverage", reason: `test coverage for ${language}` });
  if (has("Dockerfile") || has("docker-compose.yml") || has("compose.yaml")) list.push({ repo: "CorvidLabs/fledge-plugin-docker", reason: "the project has a Dockerfile or compose file" });
  if (has(".github")) {
    const gh = list.find((r) => r.repo === "CorvidLabs/fledge-plugin-github");
    if (gh) gh.reason += " (the project has a .github folder)";
  }
  const recommendations = list.filter((r) => !installed.some((p) => installedFrom(p, [r.repo])));
  return { language, recommendations };
}
