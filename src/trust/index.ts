/**
 * The trust part: what a plugin source names, how far to trust it, and what it may be
 * granted. Each security decision is one function:
 * - parseSource: the only parser of source strings (refs, URL authorities, credentials).
 * - classify: the only source of trust tiers.
 * - checkSourceSafety: the only install-time refusal of unsafe sources.
 * - mayGrant: the only capability/runtime policy; nativeConsentGiven: the native consent rule.
 *
 * Secrets: a Source never holds a token in any field. When the user typed one in a URL,
 * `credentialedCloneUrl(source)` returns the clone address with it; never print that.
 */
export type {
  Classification,
  DangerousCapability,
  PolicyDecision,
  RiskLevel,
  Source,
  SourceKind,
  TrustConfig,
  TrustTier,
} from "./types.ts";
export { TRUST_TIERS } from "./types.ts";
export { parseSource, credentialedCloneUrl, redactSource, isLocalPathForm } from "./source.ts";
export { classify, classifyOwner, OFFICIAL_OWNERS, TEAM_OWNERS } from "./classify.ts";
export { checkSourceSafety } from "./safety.ts";
export { findDotSegment, refProblem } from "./names.ts";
export {
  mayGrant,
  enforceGrant,
  beyondGrant,
  riskOf,
  nativeConsentGiven,
  describeCapabilities,
  describeRuntime,
  type GrantRequest,
  type NativeConsentFlags,
} from "./policy.ts";
