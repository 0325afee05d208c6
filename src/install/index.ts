/**
 * The installer and plugin lifecycle: sources (GitHub REST
 * API, git, local), safe archive extraction, the staged install transaction with
 * consent and rollback, remove, update, list/audit/verify, search and scaffolds.
 * Data flows cli → install → manifest, trust, registry.
 */
export { installPlugin, readValidManifest, type InstallOptions, type InstallResult } from "./install.ts";
export { removePlugin, lookupPlugin, type RemoveResult } from "./remove.ts";
export { updatePlugins, addedCapabilities, changedHooks, newestTag, type UpdateResult, type UpdateOptions } from "./update.ts";
export { listRows, auditRows, verifyPlugins, type ListRow, type AuditRow, type AuditSummary, type VerifyRow } from "./inspect.ts";
export { extractTarGz, DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from "./archive.ts";
export { githubApiBase, githubClient, type GithubClient } from "./github.ts";
export { splitWords, hookArgv, detectBuild } from "./hooks.ts";
export { obtainConsent, renderConsent, type ConsentSubject, type ConsentFlags } from "./consent.ts";
export { shimPath, shimText, SHIM_PREFIX } from "./shims.ts";
export { cleanStaleStaging, STAGING_PREFIX } from "./staging.ts";
export { searchPlugins, searchQuery, PLUGIN_TOPIC, type SearchOptions, type SearchResult } from "./search.ts";
export { createPlugin, WASM_BUILD_HOOK, C_BUILD_HOOK, RUST_BUILD_HOOK, SCAFFOLD_LANGS, type CreateOptions, type CreateResult, type ScaffoldLang } from "./create.ts";
export { recoverInterrupted, type Recovery } from "./journal.ts";
export { DEFAULT_PLUGINS, installedDefaults, installedFrom, recommend, detectLanguage, type Recommendation, type ProjectLanguage } from "./curated.ts";
