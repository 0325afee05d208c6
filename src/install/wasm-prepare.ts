/**
 * Contract section 6 step 6: prepare each wasm command module into the cache
 * (foo.cwasm + foo.cwasm.sha256 beside foo.wasm) so the first run is fast. This runs
 * in the staging tree; the cache files move into place with the plugin, and their
 * stamp holds hashes, not paths. A module that cannot be prepared (invalid, or using
 * a feature fledge refuses such as threads) cannot run, so it fails the install.
 */
import { readFileSync } from "node:fs";
import { pluginLimits } from "../host/wasm-runner.ts";
import { resolveInside, type Manifest } from "../manifest/index.ts";
import { loadConfig } from "../registry/index.ts";
import { FledgeError, isFledgeError, log } from "../ui/index.ts";
import { ownedByFledge, preparedFor } from "../wasm/prepared.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export async function prepareWasmModules(pluginDir: string, manifest: Manifest, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (manifest.runtime !== "wasm") return [];
  const { maxMemoryBytes } = pluginLimits(loadConfig(env).limits);
  const modules: string[] = [];
  for (const c of manifest.commands) {
    const r = resolveInside(pluginDir, c.binary);
    if (!("path" in r)) continue;
    try {
      const besideSource = ownedByFledge(r.path, env);
      preparedFor(r.path, new Uint8Array(readFileSync(r.path)), { maxMemoryBytes, env, besideSource, warn: (m) => log.warn(m) });
    } catch (e) {
      const why = isFledgeError(e) ? e.message : e instanceof Error ? e.message : String(e);
      throw new FledgeError(`command '${renderUntrusted(c.name)}': ${renderUntrusted(c.binary)} cannot be run by fledge: ${why}`, {
        code: "wasm_invalid",
        hint: isFledgeError(e) ? e.hint : "rebuild the module for wasm32-wasip1",
      });
    }
    modules.push(r.path);
  }
  return modules;
}
