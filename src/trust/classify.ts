import { findDotSegment, isGithubOwner, refProblem } from "./names.ts";
import type { Classification, Source, TrustConfig } from "./types.ts";

/** Official owners. Exact case on purpose (as the original): `CORVIDLABS/x` is not official. */
export const OFFICIAL_OWNERS: readonly string[] = Object.freeze(["CorvidLabs", "corvidlabs"]);

/** Built-in team owners, matched case-insensitively. */
export const TEAM_OWNERS: readonly string[] = Object.freeze(["0xGaspar", "0xLeif", "Kyntrin", "tofu-ux"]);

function listedIgnoringCase(owner: string, list: readonly string[]): boolean {
  const wanted = owner.toLowerCase();
  return list.some((entry) => entry.trim().toLowerCase() === wanted);
}

/**
 * Why a remote source cannot be matched against the trust lists at all, or [] when it
 * can. Shared with nothing else on purpose: classify() is the one place tiers come from.
 */
function unverifiableReasons(source: Source): string[] {
  const reasons: string[] = [];
  const dot = findDotSegment(source.path);
  if (dot !== null) {
    reasons.push(
      `the path '${source.path}' has a ${dot.encoded ? "percent-encoded " : ""}'${dot.segment}' segment, which git and HTTP clients collapse, so it would fetch a different repository than the one named`,
    );
  }
  const refIssue = source.ref === null ? null : refProblem(source.ref);
  if (refIssue !== null) reasons.push(`${refIssue}, so the download could come from somewhere else`);
  if (source.kind === "git") {
    reasons.push(notGithubReason(source));
  } else if (source.owner === null && dot === null) {
    reasons.push(`'${source.path}' is not a plain GitHub owner/repo path`);
  }
  return reasons;
}

function notGithubReason(source: Source): string {
  const scheme = /^([a-z+]+):\/\//.exec(source.base)?.[1];
  if (source.host === "github.com" || source.host === "www.github.com") {
    if (scheme === "http") return "plain http:// is neither encrypted nor authenticated, so the code may not come from github.com; use https://";
    if (scheme === "git") return "git:// is unauthenticated, so the code may not come from github.com; use https://";
    return `'${source.base}' is not a recognised GitHub address`;
  }
  if (scheme === "file") return "file:// URLs are treated as remote git repositories; give a plain path (./dir) to install a local directory";
  return `host '${source.host ?? "(none)"}' is not github.com; only GitHub owners can be official or team`;
}

/**
 * The trust tier of a source, and why. local: a filesystem path. official: GitHub owner
 * on OFFICIAL_OWNERS (exact case). team: built-in TEAM_OWNERS or config `[trust] orgs` /
 * `users` (case-insensitive; config never grants official). unverified: everything
 * else, including non-GitHub URLs, dot-segment paths and unsafe refs.
 */
export function classify(source: Source, trust: TrustConfig): Classification {
  if (source.kind === "local") {
    return { tier: "local", reasons: [`'${source.path}' is a local path, so you chose these exact files`] };
  }
  const problems = unverifiableReasons(source);
  if (problems.length > 0 || source.owner === null) {
    return { tier: "unverified", reasons: problems.length > 0 ? problems : ["no GitHub owner to check"] };
  }
  const owner = source.owner;
  if (OFFICIAL_OWNERS.includes(owner)) {
    return { tier: "official", reasons: [`owner '${owner}' is on the official list`] };
  }
  const caseNote = listedIgnoringCase(owner, OFFICIAL_OWNERS)
    ? [`owner '${owner}' only matches the official list ignoring case; official needs the exact case (${OFFICIAL_OWNERS.map((o) => `'${o}'`).join(" or ")})`]
    : [];
  if (listedIgnoringCase(owner, TEAM_OWNERS)) {
    return { tier: "team", reasons: [...caseNote, `owner '${owner}' is on the built-in team list`] };
  }
  if (listedIgnoringCase(owner, trust.orgs)) {
    return { tier: "team", reasons: [...caseNote, `owner '${owner}' is listed in [trust] orgs in config.toml`] };
  }
  if (listedIgnoringCase(owner, trust.users)) {
    return { tier: "team", reasons: [...caseNote, `owner '${owner}' is listed in [trust] users in config.toml`] };
  }
  return {
    tier: "unverified",
    reasons: [...caseNote, `owner '${owner}' is not on the official or team lists (add it to [trust] orgs or users in config.toml to trust it)`],
  };
}

/** Tier for a bare GitHub owner (search results): the same lists and rules as classify(). */
export function classifyOwner(owner: string, trust: TrustConfig): Classification {
  if (!isGithubOwner(owner)) return { tier: "unverified", reasons: [`'${owner}' is not a valid GitHub owner name`] };
  const path = `${owner}/_`;
  const source: Source = { input: path, kind: "github", base: path, ref: null, owner, repo: "_", host: "github.com", path, hasCredentials: false, cloneUrl: null };
  return classify(source, trust);
}
