/**
 * `fledge plugins remove`. The post_remove hook runs first, while the plugin is still
 * whole (its files and shims exist), and only if it is the hook that was approved at
 * install: a live-linked plugin's manifest may have changed since, and an unapproved
 * hook is never run. A failing post_remove is reported but does not block removal
 * (the user asked for the plugin to go; the original left it half-removed). Then,
 * under the registry lock: shims, the directory (a live link is unlinked, its target
 * never touched), the registry entry, and the prepared-module cache entries of its
 * modules that no other installed plugin uses.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadManifest } from "../manifest/index.ts";
import { atomicWriteSync, fledgePaths, parseRegistry, readRegistry, serializeRegistry, withLock, type Registry, type RegistryEntry } from "../registry/index.ts";
import { FledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { runHook } from "./hooks.ts";
import { exists, movePath, removePath, removeShim, writeShim } from "./shims.ts";
import { clearIntent, newCommitId, recoverInterrupted, registryDigest, stampRegistry, writeIntent } from "./journal.ts";
import { createStaging, releaseStaging } from "./staging.ts";
import { cleanCacheLocked, pluginModuleHashes } from "./cache.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

/** Find an entry by its name or `fledge-<name>` (as the original). */
export function lookupPlugin(reg: Registry, name: string): RegistryEntry {
  const entry = reg.plugins.find((p) => p.name === name) ?? reg.plugins.find((p) => p.name === `fledge-${renderUntrusted(name)}`);
  if (entry) return entry;
  const installed = reg.plugins.map((p) => p.name);
  throw new FledgeError(installed.length ? `plugin '${renderUntrusted(name)}' is not installed` : "no plugins are installed", {
    code: "not_installed",
    hint: installed.length ? `installed: ${installed.join(", ")}` : "install one with 'fledge plugins install <source>'",
  });
}

/** The approved hooks recorded at install (see registryEntry). */
export function approvedHooks(entry: RegistryEntry): Record<string, string> {
  const h = entry.extra?.hooks;
  if (!h || typeof h !== "object") return {};
  return Object.fromEntries(Object.entries(h as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));
}

export interface RemoveResult {
  entry: RegistryEntry;
  warnings: string[];
  /** Prepared-module cache files removed with the plugin, and the bytes they took. */
  cache: { files: number; bytes: number };
}

export async function removePlugin(name: string, env: NodeJS.ProcessEnv): Promise<RemoveResult> {
  const paths = fledgePaths(env);
  await recoverInterrupted(env); // before reading: a crashed command's renames are undone first
  const entry = lookupPlugin(readRegistry(env), name);
  const dir = paths.pluginDir(entry.name);
  const warnings: string[] = [];
  const approved = approvedHooks(entry).post_remove;
  if (approved && exists(dir)) {
    let onDisk: string | undefined;
    try {
      onDisk = loadManifest(dir).manifest?.hooks.post_remove?.trim();
    } catch {
      onDisk = undefined;
    }
    if (onDisk !== approved) {
      warnings.push(`post_remove hook not run: plugin.toml no longer has the hook approved at install ('${renderUntrusted(approved)}')`);
    } else {
      try {
        await runHook("post_remove", approved, dir, env, { name: entry.name, network: entry.capabilities.network, granted: entry.confinement });
      } catch (e) {
        warnings.push(`${(e as Error).message}; removing the plugin anyway`);
      }
    }
  }
  for (const w of warnings) log.warn(w);

  // Which cache entries are this plugin's: hashed now, while its modules are still there.
  const modules = new Set(entry.runtime === "wasm" && exists(dir) ? pluginModuleHashes(dir) : []);
  const cache = { files: 0, bytes: 0 };
  const staging = createStaging(paths.pluginsDir);
  try {
    await withLock(paths.lockFile, async () => {
      let text: string;
      try {
        text = readFileSync(paths.registryFile, "utf8");
      } catch {
        text = "";
      }
      const reg = text ? parseRegistry(text, paths.registryFile) : { plugins: [] };
      const current = reg.plugins.find((p) => p.name === entry.name);
      if (!current) throw new FledgeError(`plugin '${entry.name}' was removed meanwhile`, { code: "not_installed" });
      const aside = join(staging.dir, "removed");
      const undo: (() => void)[] = [];
      const next: Registry = { plugins: reg.plugins.filter((p) => p.name !== entry.name) };
      const commit = newCommitId();
      const nextText = stampRegistry(serializeRegistry(next), commit);
      // The intent first: a crash after the rename below is undone by the next command.
      writeIntent(paths, {
        op: "remove",
        name: entry.name,
        commit,
        registryBefore: registryDigest(text || null),
        registryAfter: registryDigest(nextText)!,
        moves: exists(dir) ? [{ from: dir, to: aside }] : [],
        commands: current.commands,
        staging: staging.dir,
      });
      try {
        for (const cmd of current.commands) {
          removeShim(paths.binDir, cmd);
          undo.push(() => writeShim(paths.binDir, cmd, current.name));
        }
        if (exists(dir)) {
          movePath(dir, aside);
          undo.push(() => movePath(aside, dir));
        }
        atomicWriteSync(paths.registryFile, nextText);
      } catch (e) {
        try {
          for (const step of undo.reverse()) step();
        } catch (u) {
          // The journal stays: the next command finishes the rollback from it.
          staging.keep = true;
          log.warn(`rollback failed (${(u as Error).message}); the next fledge command will restore ${entry.name}`);
          throw e;
        }
        clearIntent(paths);
        throw e;
      }
      clearIntent(paths);
      if (modules.size) {
        try {
          const r = cleanCacheLocked(env, { sources: modules }, next);
          cache.files = r.removed.length;
          cache.bytes = r.freed_bytes;
        } catch (e) {
          log.warn(`could not remove ${entry.name}'s prepared modules from the cache (${(e as Error).message}); 'fledge cache clean' removes them later`);
        }
      }
    });
  } finally {
    // Deletes the moved-aside tree; a live link inside is unlinked, not followed.
    if (!staging.keep) removePath(join(staging.dir, "removed"));
    releaseStaging(staging);
  }
  return { entry, warnings, cache };
}
