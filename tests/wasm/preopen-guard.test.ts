import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { assertPreopensSpareFledgeState, fledgeStateConflict } from "../../src/wasm/preopen-guard.ts";
import { inPluginDataDir } from "../../src/manifest/index.ts";
import { tempDir } from "../helpers/cli.ts";

// THE writable-preopen decision (src/wasm/preopen-guard.ts) and THE writable-data
// decision for binaries (inPluginDataDir in src/manifest/binary.ts).
const t = tempDir("fledge-guard-");
afterAll(() => t.cleanup());
const cfg = join(t.path, "home", ".config", "fledge");
const env = cfg; // the config folder, passed in by the caller
for (const d of ["cache/wasm", "plugins/p/data/sub", "plugins/p/bin", "plugins/bin", "other"]) mkdirSync(join(cfg, d), { recursive: true });
mkdirSync(join(t.path, "work"), { recursive: true });

describe("fledgeStateConflict", () => {
  test("the config folder, anything in it, and anything containing it conflict", () => {
    for (const p of [cfg, join(cfg, "cache"), join(cfg, "cache", "wasm"), join(cfg, "other"), join(cfg, "plugins"), join(cfg, "plugins", "p"), join(cfg, "plugins", "p", "bin"), join(cfg, "plugins", "bin"), join(t.path, "home"), t.path, "/"]) {
      expect(fledgeStateConflict(p, env), p).toBeDefined();
    }
  });
  test("a plugin's data folder (and below) and unrelated folders do not", () => {
    for (const p of [join(cfg, "plugins", "p", "data"), join(cfg, "plugins", "p", "data", "sub"), join(t.path, "work")]) {
      expect(fledgeStateConflict(p, env), p).toBeUndefined();
    }
  });
  test("a symlink that leads into the config folder is judged by where it leads", () => {
    const link = join(t.path, "work", "innocent");
    symlinkSync(join(cfg, "cache"), link);
    expect(fledgeStateConflict(link, env)).toBeDefined();
    expect(fledgeStateConflict(`${t.path}/work/../home/.config/fledge/cache/wasm`, env)).toBeDefined();
  });
  test("read-only preopens pass; writable ones are refused with the fix in the hint", () => {
    expect(() => assertPreopensSpareFledgeState([{ hostPath: cfg, readOnly: true }], env)).not.toThrow();
    let err: unknown;
    try {
      assertPreopensSpareFledgeState([{ hostPath: join(t.path, "work"), readOnly: false }, { hostPath: join(cfg, "cache"), readOnly: false }], env);
    } catch (e) {
      err = e;
    }
    expect(String((err as Error).message)).toMatch(/write access to .*cache.*fledge's config folder/);
    expect((err as { hint?: string }).hint).toMatch(/:ro/);
  });
});

describe("inPluginDataDir", () => {
  const plugin = join(cfg, "plugins", "p");
  test("data/ and anything below it, in any letter case", () => {
    expect(inPluginDataDir(plugin, join(plugin, "data", "x.wasm"))).toBe(true);
    expect(inPluginDataDir(plugin, join(plugin, "data", "sub", "x.wasm"))).toBe(true);
    expect(inPluginDataDir(plugin, join(plugin, "DATA", "x.wasm"))).toBe(true);
  });
  test("elsewhere in the plugin, or a folder merely named like it, is fine", () => {
    expect(inPluginDataDir(plugin, join(plugin, "bin", "x.wasm"))).toBe(false);
    expect(inPluginDataDir(plugin, join(plugin, "bin", "data", "x.wasm"))).toBe(false);
    expect(inPluginDataDir(plugin, join(plugin, "database.wasm"))).toBe(false);
    expect(inPluginDataDir(plugin, join(plugin, "x.wasm"))).toBe(false);
  });
});

describe("a config folder that does not exist yet, behind a symlinked ancestor", () => {
  // Attack (red team): on a first run the config folder is missing, so resolving it
  // failed and the unresolved path was compared; with /home -> /var/home a writable
  // preopen of /var/home then held the future config folder, and the guest wrote
  // the cache key and a forged prepared module there.
  const real = join(t.path, "real");
  const link = join(t.path, "lnk");
  mkdirSync(join(real, "deeper"), { recursive: true });
  symlinkSync(real, link);
  const futureEnv = join(link, "cfg", "not", "yet");

  test("the real folder it will be created in, and every ancestor, conflict", () => {
    for (const p of [real, t.path, join(real, "cfg"), join(link, "cfg"), "/"]) {
      expect(fledgeStateConflict(p, futureEnv), p).toBeDefined();
    }
  });
  test("siblings that will not hold it do not", () => {
    expect(fledgeStateConflict(join(real, "deeper"), futureEnv)).toBeUndefined();
  });
  test("a missing preopen path behind the symlink is judged by where it leads", () => {
    expect(fledgeStateConflict(join(link, "cfg", "not"), join(real, "cfg", "not", "yet"))).toBeDefined();
  });
});
