/**
 * Grants are frozen at consent. What the user was shown (capabilities, hooks, runtime,
 * commands and binaries, name and version) is what gets recorded, or nothing is. The
 * build and post_install hooks run the plugin's own code in its tree and could rewrite
 * plugin.toml after the question was answered (the attack: "capabilities: none" was
 * approved, the build hook added exec and network, the registry recorded them). So the
 * manifest file is fingerprinted when it is shown and checked after every hook; any
 * change refuses the install (the message says which parts changed).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadManifest, type Manifest } from "../manifest/index.ts";
import { FledgeError, sha256Hex } from "../core/index.ts";
import { listHooks } from "./consent.ts";

export interface FrozenManifest {
  /** sha256 of plugin.toml's bytes when it was shown. */
  digest: string;
  /** The parsed manifest the user approved. */
  manifest: Manifest;
}

function digestOf(dir: string): string {
  try {
    return sha256Hex(readFileSync(join(dir, "plugin.toml")));
  } catch (e) {
    return `unreadable: ${(e as NodeJS.ErrnoException).code ?? "error"}`;
  }
}

/** The parts of a manifest that consent covers, in a stable order. */
function grantParts(m: Manifest): Record<string, string> {
  return {
    name: JSON.stringify(m.plugin.name),
    version: JSON.stringify(m.plugin.version),
    runtime: JSON.stringify(m.runtime),
    capabilities: JSON.stringify(m.capabilities),
    hooks: JSON.stringify(listHooks(m.hooks)),
    commands: JSON.stringify(m.commands.map((c) => [c.name, c.binary])),
    confinement: JSON.stringify(m.confinement ?? null),
  };
}

/** Freeze the manifest in `dir` as shown to the user (call right after reading it, before any hook). */
export function freezeManifest(dir: string, manifest: Manifest): FrozenManifest {
  return { digest: digestOf(dir), manifest };
}

/**
 * Refuse when plugin.toml in `dir` differs (byte for byte) from the frozen one; the
 * message names the parts consent covers that changed.
 */
export function assertManifestUnchanged(dir: string, frozen: FrozenManifest, step: string): void {
  if (digestOf(dir) === frozen.digest) return;
  // Name what changed when the new file still parses (it need not: refusing is the point).
  let now: Manifest | undefined;
  try {
    now = loadManifest(dir, { pluginDir: dir }).manifest;
  } catch {
    now = undefined;
  }
  const before = grantParts(frozen.manifest);
  const after = now ? grantParts(now) : undefined;
  const changedParts = after ? Object.keys(before).filter((k) => before[k] !== after[k]) : [];
  const what = changedParts.length > 0 ? ` (changed: ${changedParts.join(", ")})` : "";
  throw new FledgeError(`the ${step} changed plugin.toml after you approved it${what}; nothing was installed`, {
    code: "manifest_changed",
    hint: "what is granted is exactly what was shown; a plugin's build must not edit plugin.toml (report this to the plugin's author)",
  });
}
