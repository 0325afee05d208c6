import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runFledge, tempDir } from "./helpers/cli.ts";

// The single binary is what users download: exercise it, not only the sources.
const out = tempDir("fledge-dist-");
const bin = join(out.path, "fledge");
const cfg = tempDir("fledge-dist-cfg-");

beforeAll(() => {
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build.ts"), bin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
}, 120_000);

afterAll(() => {
  out.cleanup();
  cfg.cleanup();
});

describe("compiled dist binary", () => {
  test("is built as one executable file", () => {
    expect(existsSync(bin)).toBe(true);
  });

  test("--version names the version and the commit it was built from", () => {
    const r = runFledge(["--version"], { bin });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^fledge \d+\.\d+\.\d+ \((?!source)\S+\)\n$/);
  });

  test("trust classifies a source", () => {
    const r = runFledge(["trust", "CorvidLabs/fledge-plugin-hello", "--json"], { bin, env: { FLEDGE_CONFIG_DIR: cfg.path } });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ schema_version: 1, kind: "github", owner: "CorvidLabs", repo: "fledge-plugin-hello", tier: "official" });
  });

  test("plugins validate accepts the example plugin and rejects a broken one", () => {
    const ok = runFledge(["plugins", "validate", join(ROOT, "tests", "fixtures", "plugins", "hello-wasm"), "--json"], { bin });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ schema_version: 1, errors: [] });
    const bad = tempDir();
    try {
      writeFileSync(join(bad.path, "plugin.toml"), "[plugin]\nname = \"\"\n");
      const r = runFledge(["plugins", "validate", bad.path, "--json"], { bin });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).errors.length).toBeGreaterThan(0);
    } finally {
      bad.cleanup();
    }
  });
});
