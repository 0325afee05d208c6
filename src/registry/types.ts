/** The registry's data shapes (`plugins.toml`). Field names are the TOML keys, so the file and the type never drift. */
import type { Capabilities, GrantedConfinement, Runtime } from "../manifest/types.ts";
import type { TrustTier } from "../trust/types.ts";

// The trust part owns the tier names; re-exported so registry users need one import.
export { TRUST_TIERS, type TrustTier } from "../trust/types.ts";

/** One `[[plugins]]` entry. Compatible with the original fledge's `PluginEntry`, extended with fledge's runtime, trust tier, hashes and granted capabilities. */
export interface RegistryEntry {
  /** Install name: the directory under `plugins/`. A single safe path segment. */
  name: string;
  /** Source without `@ref` (shorthand, URL, or canonical local path). */
  source: string;
  /** Manifest version at install/update. */
  version: string;
  /** Local date of install, YYYY-MM-DD. */
  installed: string;
  /** Commands this plugin provides (`fledge <command>`). */
  commands: string[];
  /** The ref the user pinned with `source@ref`, when pinned. */
  pinned_ref?: string;
  /**
   * Runtime. Always written by us; an original-fledge entry without it ran natively
   * (the original's rule: only "wasm" selects the WASM host), so it reads as "native".
   */
  runtime: Runtime;
  /**
   * The GRANTED capabilities, which are all the host may use. A missing table reads
   * as no capabilities at all: never fall back to the manifest on disk (a plugin could edit it to grant itself more).
   */
  capabilities: Capabilities;
  /** Ours: resolved commit SHA for git/GitHub sources. */
  commit?: string;
  /** Ours: trust tier at install time. */
  trust_tier?: TrustTier;
  /**
   * Ours: how the plugin's folder came to be, recorded by fledge at install (a manifest
   * cannot claim it). "linked": a symlink to the author's folder (no integrity check at
   * run, edits show up); "copied" (--copy) and "downloaded": hashed at install and
   * checked before every run. Absent in entries from older versions: not linked.
   */
  kind?: InstallKind;
  /** Ours: command binary path (relative to the plugin dir) → sha256 hex. */
  integrity?: Record<string, string>;
  /**
   * Ours: the GRANTED `[confinement]` extras and whether the user chose `--unconfined`.
   * Missing: confined with no extras (never fall back to the manifest on disk).
   */
  confinement?: GrantedConfinement;
  /** Keys this version of fledge does not know, kept so a rewrite does not drop them. */
  extra?: Record<string, unknown>;
}

export const INSTALL_KINDS = ["linked", "copied", "downloaded"] as const;
export type InstallKind = (typeof INSTALL_KINDS)[number];

export interface Registry {
  plugins: RegistryEntry[];
}
