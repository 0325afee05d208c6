/**
 * The last install step before the commit: prepare each wasm command module into fledge's own
 * cache (`<config>/cache/wasm/`, authenticated; see src/wasm/cache.ts) so the first
 * run is fast. Entries are keyed by the source's hash, not its path, so preparing in
 * the staging tree serves the installed plugin. A module that cannot be prepared
 * (invalid, or using a feature fledge refuses such as threads) cannot run, so it
 * fails the install.
 */
import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { resolveInside, type Manifest } from "../manifest/index.ts";
import { configDir, loadConfig } from "../registry/index.ts";
import { FledgeError, isFledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { pluginLimits } from "../wasm/limits.ts";
import { preparedFor } from "../wasm/prepare.ts";
import { readModuleFile } from "../wasm/module-file.ts";
import { holdRunMemory, memoryGuardError } from "../wasm/memory-guard.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export async function prepareWasmModules(pluginDir: string, manifest: Manifest, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (manifest.runtime !== "wasm") return [];
  const { maxMemoryBytes } = pluginLimits(loadConfig(env).limits);
  const modules: string[] = [];
  for (const c of manifest.commands) {
    const r = resolveInside(pluginDir, c.binary);
    if (!("path" in r)) continue;
    // Preparing is loading: held under [limits] memory plus fledge's allowance, as the plugin's runs are.
    const wording = { setting: "[limits] memory", what: `command '${renderUntrusted(c.name)}' (${renderUntrusted(c.binary)})`, hint: `raise it for all plugins in ${join(configDir(env), "config.toml")}: [limits] memory = "1GiB"` };
    const memory = holdRunMemory(maxMemoryBytes, (phase) => memoryGuardError(maxMemoryBytes, phase, wording));
    try {
      preparedFor(readModuleFile(r.path), { maxMemoryBytes, configDir: configDir(env), warn: (m) => log.warn(m) });
    } catch (e) {
      const why = isFledgeError(e) ? e.message : e instanceof Error ? e.message : String(e);
      throw new FledgeError(`command '${renderUntrusted(c.name)}': ${renderUntrusted(c.binary)} cannot be run by fledge: ${why}`, {
        code: "wasm_invalid",
        hint: isFledgeError(e) ? e.hint : "rebuild the module for wasm32-wasip1",
      });
    } finally {
      memory.release();
    }
    modules.push(r.path);
  }
  return modules;
}

/** A file name fledge's cache formats ever used (`foo.cwasm`, `foo.cwasm.sha256`, temp files): `*.cwasm*`. */
export function isPreparedArtifactName(name: string): boolean {
  return name.toLowerCase().includes(".cwasm");
}

/**
 * THE rule that a plugin cannot ship a prepared module: remove every `*.cwasm*` entry
 * (file, directory or link) from a staged plugin tree. fledge never reads such files
 * (its cache lives in `<config>/cache/wasm` and is authenticated), so this is about
 * not keeping, and not showing as part of the plugin, something that pretends to be
 * fledge's. A live-linked tree (a symlink to the author's folder) is left as it is:
 * fledge does not write into a source tree. Returns the removed relative paths.
 */
export function stripPreparedArtifacts(tree: string): string[] {
  const removed: string[] = [];
  if (lstatSync(tree, { throwIfNoEntry: false })?.isDirectory() !== true) return removed;
  const walk = (rel: string): void => {
    const abs = rel ? join(tree, rel) : tree;
    for (const name of readdirSync(abs)) {
      const r = rel ? `${rel}/${name}` : name;
      if (isPreparedArtifactName(name)) {
        rmSync(join(tree, r), { recursive: true, force: true });
        removed.push(r);
      } else if (lstatSync(join(tree, r)).isDirectory()) walk(r);
    }
  };
  walk("");
  return removed.sort();
}
