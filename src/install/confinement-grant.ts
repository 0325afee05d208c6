/**
 * THE decision on `[confinement]` extras at install and update: an unverified source
 * never gets credentials (folders like ~/.config/gh, variables like GH_TOKEN), whatever
 * the user answers; any other source may ask, and consent shows each item in plain
 * words, credentials flagged.
 */
import { credentialNeeds, expandHomePath, isCredentialValue, SECRET_ENV_NAME, fledgeOwnDirs, judgeHomePath, resolvePath, resolvedGrantProblem, type ConfinementNeeds, type GrantedConfinement } from "../manifest/index.ts";
import type { TrustTier } from "../trust/index.ts";
import { FledgeError } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export function assertConfinementAllowed(tier: TrustTier, needs: ConfinementNeeds | undefined, home: string | undefined = process.env.HOME, env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (!needs) return;
  const fledgeDirs = fledgeOwnDirs(home, env);
  // Every source: a path is judged on where it RESOLVES (a symlink, /proc/self/root), not its spelling.
  for (const kind of ["read", "write"] as const) {
    for (const p of needs[kind]) {
      const abs = expandHomePath(p, home);
      const problem = abs === undefined ? undefined : resolvedGrantProblem(resolvePath(abs), kind, home, fledgeDirs);
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

/**
 * What is recorded for the registry: the approved extras, where each path leads now
 * (what consent showed), and the --unconfined choice. `previous` is the grant being
 * updated: a path it already had keeps the target recorded when the user approved
 * it, so an update never re-approves a symlink the plugin made since. Likewise a
 * variable counts as an approved credential when consent showed it as one: a plain
 * name holding a credential NOW (new variables), or as recorded (kept ones).
 */
export function grantedConfinement(
  needs: ConfinementNeeds | undefined,
  unconfined: boolean,
  previous?: GrantedConfinement,
  home: string | undefined = process.env.HOME,
  env: Readonly<Record<string, string | undefined>> = process.env,
): GrantedConfinement {
  const read = [...(needs?.read ?? [])];
  const write = [...(needs?.write ?? [])];
  const target = (p: string, had: readonly string[] | undefined, hadTargets: readonly string[] | undefined): string => {
    const i = had?.indexOf(p) ?? -1;
    const kept = i >= 0 ? hadTargets?.[i] : undefined;
    if (kept !== undefined) return kept;
    const abs = expandHomePath(p, home);
    if (abs === undefined) return p;
    const resolved = resolvePath(abs);
    // Kept from a grant recorded before targets were: what consent showed then was the
    // spelling. A link that now makes it a credential is not taken as approved.
    if (i >= 0 && judgeHomePath(resolved, home).secret && !judgeHomePath(abs, home).secret) return abs;
    return resolved;
  };
  const names = [...(needs?.env ?? [])];
  const shownAsCredential = (v: string): boolean =>
    previous?.env.includes(v) ? (previous.credential_env ?? []).includes(v) : !SECRET_ENV_NAME.test(v) && isCredentialValue(env[v]);
  const out: GrantedConfinement = {
    unconfined, read, write, env: names,
    resolved_read: read.map((p) => target(p, previous?.read, previous?.resolved_read)),
    resolved_write: write.map((p) => target(p, previous?.write, previous?.resolved_write)),
  };
  const credentialEnv = names.filter(shownAsCredential);
  if (credentialEnv.length > 0) out.credential_env = credentialEnv;
  return out;
}

/** The extras `next` asks for that `granted` does not have (an update asks only about those). */
export function addedNeeds(granted: GrantedConfinement | undefined, next: ConfinementNeeds | undefined): ConfinementNeeds {
  const none: ConfinementNeeds = { read: [], write: [], env: [] };
  const had: ConfinementNeeds = granted ?? none;
  const n: ConfinementNeeds = next ?? none;
  return { read: n.read.filter((p) => !had.read.includes(p)), write: n.write.filter((p) => !had.write.includes(p)), env: n.env.filter((v) => !had.env.includes(v)) };
}
