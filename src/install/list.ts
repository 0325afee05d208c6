/**
 * `plugins list`: one row per installed plugin, from the registry alone (what was
 * granted), with no per-plugin file read. Kept apart from ./inspect.ts (audit, verify)
 * so the list path loads only what it shows: no hashing, no hooks, no installer.
 */
import { loadConfig } from "../registry/config.ts";
import type { InstallKind, Registry, RegistryEntry } from "../registry/types.ts";
import { classify } from "../trust/classify.ts";
import { riskOf } from "../trust/policy.ts";
import { parseSource } from "../trust/source.ts";
import type { RiskLevel, TrustConfig, TrustTier } from "../trust/types.ts";
import type { Runtime } from "../manifest/types.ts";
import { confinementState, describeConfinement } from "../confine/spawn.ts";
import { readMemo, readRegistryText, readRegistryView, writeMemo } from "./registry-snapshot.ts";
import { sha256Hex } from "../core/digest.ts";

export interface ListRow {
  name: string;
  version: string;
  source: string;
  installed: string;
  commands: string[];
  pinned_ref: string | null;
  trust_tier: TrustTier;
  runtime: Runtime;
  sandboxed: boolean;
  risk: RiskLevel;
  commit: string | null;
  /** Where a wasm plugin's fledge.http may connect (granted `[capabilities] hosts`; empty without network). */
  network_hosts: string[];
  /** Native plugins: whether they run confined on this system and by what (null for wasm). */
  confined: boolean | null;
  confinement: string | null;
  /** linked (live link to a local folder), copied (--copy), downloaded, or unknown (older entries). */
  kind: KindShown;
}

/** The tier now (config may have changed since install); the recorded one if the source no longer parses. */
export function currentTier(e: RegistryEntry, trust: TrustConfig): TrustTier {
  try {
    return classify(parseSource(e.source), trust).tier;
  } catch {
    return e.trust_tier ?? "unverified";
  }
}

export function trustConfig(env: NodeJS.ProcessEnv): { orgs: string[]; users: string[] } {
  try {
    return loadConfig(env).trust;
  } catch {
    return { orgs: [], users: [] }; // list must still work with a broken config; tiers then only get stricter
  }
}

/**
 * Every read-only command works from ONE registry snapshot (`reg`, read once): reading
 * plugins.toml twice let a concurrent remove pair one plugin's row with another's
 * grant (audit used rows from one read and entries from a second, by index).
 */
export function listRows(env: NodeJS.ProcessEnv, reg?: Registry): ListRow[] {
  const trust = trustConfig(env);
  if (reg === undefined) return rowsOf(env, trust, readRegistryText(env));
  return reg.plugins.map((e) => listRow(e, currentTier(e, trust)));
}

/** The rows of plugins.toml's `text`, through the snapshot's entries and tiers (./registry-snapshot.ts). */
function rowsOf(env: NodeJS.ProcessEnv, trust: TrustConfig, text: string | undefined): ListRow[] {
  const view = readRegistryView(env, trust, (e) => currentTier(e, trust), text);
  return view.reg.plugins.map((e, i) => listRow(e, view.tiers[i]!));
}

/**
 * What `plugins list` prints: `render` (a pure function of the rows, the width and the
 * colour) applied to the rows, remembered for the inputs it depends on: the registry
 * text (its digest), the trust lists, this system's confinement, the width and the
 * colour (registry-snapshot.ts readMemo). An unchanged registry is then listed without
 * building a row; any change to any input renders afresh.
 */
export function listText(env: NodeJS.ProcessEnv, layout: { width: number; color: boolean }, render: (rows: ListRow[], layout: { width: number; color: boolean }) => string): string {
  const text = readRegistryText(env);
  const trust = trustConfig(env);
  const inputs = JSON.stringify({
    registry: text === undefined ? null : sha256Hex(text),
    trust: [trust.orgs, trust.users],
    confinement: describeConfinement(confinementState(false)),
    width: layout.width,
    color: layout.color,
  });
  const memo = readMemo(env, "plugins-list", inputs);
  if (memo !== undefined) return memo;
  const out = render(rowsOf(env, trust, text), layout);
  writeMemo(env, "plugins-list", inputs, out);
  return out;
}

/** How a native plugin runs here: confined (by what) or unconfined (why); null for wasm. */
function nativeConfinement(e: RegistryEntry): { confined: boolean | null; confinement: string | null } {
  if (e.runtime !== "native") return { confined: null, confinement: null };
  const state = confinementState(e.confinement?.unconfined ?? false);
  return { confined: state.kind === "confined", confinement: describeConfinement(state) };
}

export function listRow(e: RegistryEntry, tier: TrustTier): ListRow {
  return {
    name: e.name,
    version: e.version,
    source: e.source,
    installed: e.installed,
    commands: [...e.commands],
    pinned_ref: e.pinned_ref ?? null,
    trust_tier: tier,
    runtime: e.runtime,
    sandboxed: e.runtime === "wasm",
    risk: riskOf(e.runtime, e.capabilities),
    commit: e.commit ?? null,
    network_hosts: e.capabilities.network ? [...(e.capabilities.hosts ?? [])] : [],
    ...nativeConfinement(e),
    kind: kindOf(e),
  };
}

/** How a plugin's folder came to be: recorded at install; "unknown" for entries from older versions or the original. */
export type KindShown = InstallKind | "unknown";

export function kindOf(e: RegistryEntry): KindShown {
  return e.kind ?? "unknown";
}

