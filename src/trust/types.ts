/** Shapes of the trust part: parsed sources, tiers, and policy decisions. */

export type SourceKind = "github" | "git" | "local";

/** Most to least trusted. */
export type TrustTier = "local" | "official" | "team" | "unverified";
export const TRUST_TIERS: readonly TrustTier[] = ["local", "official", "team", "unverified"];

/**
 * A plugin source as the user wrote it, split into parts. Every field is safe to
 * print, log and store: credentials are removed from `base`, `cloneUrl` and `path`,
 * and replaced by `***` in `input`. The credentialed clone address, when there is
 * one, is only available through `credentialedCloneUrl(source)` (see ./source.ts).
 */
export interface Source {
  /** What the user typed, trimmed, with any credentials replaced by `***`. */
  readonly input: string;
  readonly kind: SourceKind;
  /** The source without `@ref` and without credentials; what the registry stores. */
  readonly base: string;
  /** The branch, tag or commit after `@`, or null. Never validated here: see checkSourceSafety. */
  readonly ref: string | null;
  /** GitHub owner, only when the path is a clean `owner/repo`; null otherwise and for non-GitHub sources. */
  readonly owner: string | null;
  /** Repository name (without `.git`) when it is a safe name; null otherwise and for local paths. */
  readonly repo: string | null;
  /** Lower-cased host (with port when given) for remote sources; null for local paths. */
  readonly host: string | null;
  /**
   * The part that names the repository, exactly as written (no ref, no `.git`, no
   * credentials): `owner/repo...` for GitHub, the URL path for other git URLs, the
   * filesystem path for local sources. Dot-segment checks run on this.
   */
  readonly path: string;
  /** True when the input carried a password or token (which is not kept in any field). */
  readonly hasCredentials: boolean;
  /** A credential-free address to fetch from: `https://github.com/o/r.git` for GitHub, the URL for git, null for local. */
  readonly cloneUrl: string | null;
}

export interface TrustConfig {
  orgs: readonly string[];
  users: readonly string[];
}

export interface Classification {
  tier: TrustTier;
  /** Short human sentences saying why. Never empty. */
  reasons: string[];
}

/** Capabilities an unverified source may never be granted. */
export type DangerousCapability = "exec" | "network";

/** `sandboxed`: a wasm plugin that cannot leave the WASI sandbox. `elevated`: it can act with the user's full rights. */
export type RiskLevel = "sandboxed" | "elevated";

export interface PolicyDecision {
  /** False when any requested capability is denied. Native consent is a separate requirement (needsNativeConsent). */
  allowed: boolean;
  /** Requested capabilities the tier may not have, in a stable order (exec, network). */
  denied: DangerousCapability[];
  /** The installer must get `--trust-native` or an interactive yes (never plain `--yes`) before installing. */
  needsNativeConsent: boolean;
  /** True only for the wasm runtime. */
  sandboxed: boolean;
  risk: RiskLevel;
  /** Human sentences for the user: the denial first when there is one, then risk warnings. */
  messages: string[];
  /** How to fix a denial (which config keys to set), or null when nothing was denied. */
  hint: string | null;
}
