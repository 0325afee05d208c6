/**
 * Contract section 6 step 6: prepare each wasm command module into the cache so the
 * first run is fast.
 *
 * >>> CALL POINT: prepare wasm modules into the cache <<<
 * The wasm part's `prepareInstalledWasm(binaryPath)` (planned in src/wasm/prepare.ts)
 * did not exist when the installer was written, so this is NOT WIRED yet: it only
 * resolves the module paths. To wire it, import `prepareInstalledWasm` from
 * "../wasm/prepare.ts" and call it for each path below (a failure should fail the
 * install: a module that cannot be prepared cannot run).
 */
import { resolveInside, type Manifest } from "../manifest/index.ts";

export async function prepareWasmModules(pluginDir: string, manifest: Manifest): Promise<string[]> {
  if (manifest.runtime !== "wasm") return [];
  const modules: string[] = [];
  for (const c of manifest.commands) {
    const r = resolveInside(pluginDir, c.binary);
    if ("path" in r) modules.push(r.path);
  }
  // for (const m of modules) await prepareInstalledWasm(m);   // not wired: see above
  return modules;
}
