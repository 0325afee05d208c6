/**
 * THE decision on `[confinement]` extras at install and update: an unverified source
 * never gets credentials (folders like ~/.config/gh, variables like GH_TOKEN), whatever
 * the user answers; any other source may ask, and consent shows each item in plain
 * words, credentials flagged.
 */
import { credentialNeeds, type ConfinementNeeds, type GrantedConfinement } from "../manifest/index.ts";
import type { TrustTier } from "../trust/index.ts";
import { FledgeError } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export function assertConfinementAllowed(tier: TrustTier, needs: ConfinementNeeds | undefined): void {
  if (!needs || tier !== "unverified") return;
  const credentials = credentialNeeds(needs);
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
