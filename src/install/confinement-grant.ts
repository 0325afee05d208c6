/**
 * THE decision on `[confinement]` extras at install and update: an unverified source
 * never gets credentials (folders like ~/.config/gh, variables like GH_TOKEN), whatever
 * the user answers; any other source may ask, and consent shows each item in plain
 * words, credentials flagged.
 */
import { credentialNeeds, expandHomePath, resolvePath, resolvedGrantProblem, type ConfinementNeeds, type GrantedConfinement } from "../manifest/index.ts";
import type { TrustTier } from "../trust/index.ts";
import { FledgeError } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export function assertConfinementAllowed(tier: TrustTier, needs: ConfinementNeeds | undefined, home: string | undefined = process.env.HOME): void {
  if (!needs) return;
  // Every source: a path is judged on where it RESOLVES (a symlink, /proc/self/root), not its spelling.
  for (const kind of ["read", "write"] as const) {
    for (const p of needs[kind]) {
      const abs = expandHomePath(p, home);
      const problem = abs === undefined ? undefined : resolvedGrantProblem(resolvePath(abs), kind, home);
      if (problem) {
        throw new FledgeError(`[confinement] ${kind} '${renderUntrusted(p)}' ${problem}`, { code: "capability_denied", hint: "ask the plugin's author for a build that names the folders it needs" });
      }
    }
  }
  if (tier !== "unverified") return;
  const credentials = credentialNeeds(needs, home);
  if (credentials.length === 0) return;
  throw new FledgeError(`an unverified plugin may not ask for credentials ([confinement] names ${credentials.map((c) => renderUntrusted(c)).join(", ")})`, {
    code: "capability_denied",
    hint: "trust the author's organization or user in fledge's config, or use a build of the plugin that does not need them",
  });
}

/** What is recorded for the registry: the approved extras and the --unconfined choice. */
export function grantedConfinement(needs: ConfinementNeeds | undefined, unconfined: boolean): GrantedConfinement {
  return { unconfined, read: [...(needs?.read ?? [])], write: [...(needs?.write ?? [])], env: [...(needs?.env ?? [])] };
}

/** The extras `next` asks for that `granted` does not have (an update asks only about those). */
export function addedNeeds(granted: GrantedConfinement | undefined, next: ConfinementNeeds | undefined): ConfinementNeeds {
  const none: ConfinementNeeds = { read: [], write: [], env: [] };
  const had: ConfinementNeeds = granted ?? none;
  const n: ConfinementNeeds = next ?? none;
  return { read: n.read.filter((p) => !had.read.includes(p)), write: n.write.filter((p) => !had.write.includes(p)), env: n.env.filter((v) => !had.env.includes(v)) };
}
