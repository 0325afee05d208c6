import type { Capabilities, Runtime } from "../manifest/types.ts";
import { FledgeError } from "../core/index.ts";
import type { DangerousCapability, PolicyDecision, RiskLevel, TrustTier } from "./types.ts";

export interface GrantRequest {
  tier: TrustTier;
  runtime: Runtime;
  /** What the manifest asks for. */
  requested: Capabilities;
  /** The GitHub owner, used only to make the "how to trust it" hint concrete. */
  owner?: string | null;
  /**
   * For update: what the registry already granted. Only capabilities being added are
   * gated, so a routine update of an already-approved plugin is not blocked because its
   * tier later dropped (the original's rule; re-approval of escalations is the
   * updater's job). Omit for a fresh install.
   */
  alreadyGranted?: Capabilities;
}

/** The order capabilities are listed in everywhere. */
const DANGEROUS: readonly DangerousCapability[] = ["exec", "network"];

/** Tiers that may be granted exec and network. */
function tierMayUseDangerous(tier: TrustTier): boolean {
  return tier !== "unverified";
}

/**
 * Risk of running a plugin: native code runs with the user's full rights, and so does a
 * wasm plugin granted `exec` (it can ask fledge to run any shell command). Everything
 * else stays inside the WASI sandbox. `list`, `audit` and install all use this.
 */
export function riskOf(runtime: Runtime, granted: Pick<Capabilities, "exec">): RiskLevel {
  return runtime === "native" || granted.exec ? "elevated" : "sandboxed";
}

/**
 * THE install/update policy: may a source of tier T be granted capabilities C with
 * runtime R? Unverified sources may not get exec or network (denied, with the fix);
 * native always needs explicit native consent (see nativeConsentGiven) and is
 * elevated risk. The installer acts on the decision; it decides nothing itself.
 */
export function mayGrant(request: GrantRequest): PolicyDecision {
  const { tier, runtime, requested, alreadyGranted } = request;
  const asked = DANGEROUS.filter((cap) => requested[cap] && !(alreadyGranted?.[cap] ?? false));
  const denied = tierMayUseDangerous(tier) ? [] : asked;
  const messages: string[] = [];
  let hint: string | null = null;

  if (denied.length > 0) {
    const what = denied.join(" and ");
    messages.push(
      `an unverified source may not be granted ${what}: only local, official and team sources may ${denied.map(describeDanger).join(" or ")}`,
    );
    const owner = request.owner ?? "<owner>";
    hint = `to trust this source, add its owner to config.toml: [trust] orgs = ["${owner}"] (or users = ["${owner}"]); or fork it under an account you trust`;
  }
  if (runtime === "native") {
    messages.push(
      "native plugin: it runs unsandboxed as an ordinary program with your full user rights (files, SSH keys, tokens, network); installing it needs --trust-native or an interactive yes, --yes alone is not enough",
    );
  }
  if (denied.length === 0 && requested.exec && requested.network) {
    messages.push("exec together with network lets a plugin read anything on your machine and send it elsewhere");
  }
  return {
    allowed: denied.length === 0,
    denied,
    needsNativeConsent: runtime === "native",
    sandboxed: runtime === "wasm",
    risk: riskOf(runtime, requested),
    messages,
    hint,
  };
}

/**
 * THE check at the moment a grant is recorded (install, update, --force): the entry
 * about to be written must be one the policy allows for its tier. Whatever happened
 * before (a consent callback skipped, a build hook that edited plugin.toml), an
 * unverified source is never recorded with exec or network. A missing tier counts
 * as unverified. `alreadyGranted` is the previous grant, for an update only.
 */
export function enforceGrant(entry: { name: string; trust_tier?: TrustTier | undefined; runtime: Runtime; capabilities: Capabilities }, alreadyGranted?: Capabilities): void {
  const decision = mayGrant({ tier: entry.trust_tier ?? "unverified", runtime: entry.runtime, requested: entry.capabilities, ...(alreadyGranted ? { alreadyGranted } : {}) });
  if (!decision.allowed) {
    throw new FledgeError(`refusing to record the grant for ${entry.name}: ${decision.messages[0] ?? "the policy does not allow it"}`, {
      code: "capability_denied",
      hint: decision.hint ?? undefined,
    });
  }
}

function describeDanger(cap: DangerousCapability): string {
  return cap === "exec" ? "run shell commands" : "use the network";
}

export interface NativeConsentFlags {
  /** `--trust-native` was given. */
  trustNative: boolean;
  /** The user answered yes to the native-risk prompt on a TTY. */
  confirmedInteractively: boolean;
  /** `--yes`. Listed so the rule is explicit: it is deliberately ignored here. */
  yes?: boolean;
}

/** Native consent is `--trust-native` or an interactive yes. `--yes` alone never grants it. */
export function nativeConsentGiven(flags: NativeConsentFlags): boolean {
  return flags.trustNative || flags.confirmedInteractively;
}

/** Plain-language lines for consent prompts and audit, one per requested capability; [] when none. */
export function describeCapabilities(caps: Capabilities): string[] {
  const lines: string[] = [];
  if (caps.exec) lines.push("exec: may run shell commands on your machine through fledge, with your user's rights");
  if (caps.store) lines.push("store: may keep its own key/value data between runs (at most 1 MiB)");
  if (caps.metadata) {
    lines.push("metadata: may read project details: git branch, status, tags and log, fledge config, and non-secret environment variables");
  }
  if (caps.filesystem === "project") lines.push("filesystem (project): may read the files of the current project (read-only)");
  if (caps.filesystem === "plugin") {
    lines.push("filesystem (plugin): may read the files of the current project (read-only) and read and write its own data directory");
  }
  if (caps.network) {
    const hosts = caps.hosts ?? [];
    lines.push(
      hosts.length > 0
        ? `network: may make outbound network requests; a wasm plugin only over HTTP(S) to ${hosts.join(", ")}`
        : "network: may make outbound network requests (a wasm plugin: to no host, none is listed)",
    );
  } else if ((caps.hosts?.length ?? 0) > 0) {
    lines.push(`network hosts: ${(caps.hosts ?? []).join(", ")}`);
  }
  return lines;
}

/** One plain-language line about a runtime, for the install prompt, list and audit. */
export function describeRuntime(runtime: Runtime): string {
  return runtime === "wasm"
    ? "wasm: runs inside fledge's WASI sandbox; it sees only what its capabilities grant"
    : "native: runs unsandboxed as an ordinary program with your full user rights (elevated risk)";
}

const FS_LEVEL: Record<Capabilities["filesystem"], number> = { none: 0, project: 1, plugin: 2 };

/**
 * THE live-link grant rule: what a plugin's manifest on disk asks for beyond what was
 * granted at install, as capability names (`[]` when it stays within the grant). A
 * live-linked plugin.toml can be edited at any time; asking for more never widens
 * the grant (the registry's capabilities are all the host uses), and running it is
 * refused until the user re-approves with install --force.
 */
export function beyondGrant(granted: Capabilities, requested: Capabilities): string[] {
  const out = (["exec", "store", "metadata", "network"] as const).filter((k) => requested[k] && !granted[k]).map(String);
  if (FS_LEVEL[requested.filesystem] > FS_LEVEL[granted.filesystem]) out.push(`filesystem=${requested.filesystem}`);
  return out;
}
