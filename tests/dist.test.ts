import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { kernelLandlockAbi } from "../src/confine/index.ts";
import { join } from "node:path";
import { ROOT, runFledge, tempDir } from "./helpers/cli.ts";
import { describeSlow } from "./helpers/tier.ts";

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

describeSlow("compiled dist binary", () => {
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

  // fledge runs unconfined in folders a plugin may write: a planted `.env` (moving the
  // config folder) and `bunfig.toml` preload (running code) must both be ignored.
  test("takes no .env or bunfig.toml from the folder it runs in", () => {
    const t = tempDir("fledge-dist-cwd-");
    try {
      const marker = join(t.path, "PWNED");
      writeFileSync(join(t.path, ".env"), `FLEDGE_CONFIG_DIR=${join(t.path, "planted")}\n`);
      writeFileSync(join(t.path, "pre.js"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
      writeFileSync(join(t.path, "bunfig.toml"), 'preload = ["./pre.js"]\n');
      const r = runFledge(["cache", "list", "--json"], { bin, cwd: t.path, env: { FLEDGE_CONFIG_DIR: undefined, HOME: join(t.path, "home") } });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).dir).not.toContain("planted");
      expect(existsSync(marker)).toBe(false);
      expect(runFledge(["--version"], { bin, cwd: t.path }).code).toBe(0);
      expect(existsSync(marker)).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  // The compiled binary re-executes itself as the confinement launcher (no separate file).
  test.skipIf(!(process.platform === "linux" && kernelLandlockAbi() >= 1))("runs a native plugin confined: no SSH key, no token", () => {
    const t = tempDir("fledge-dist-confine-");
    try {
      const home = join(t.path, "home");
      const src = join(t.path, "src");
      mkdirSync(join(home, ".ssh"), { recursive: true });
      mkdirSync(join(src, "bin"), { recursive: true });
      writeFileSync(join(home, ".ssh", "id_ed25519"), "PLANTED-dist-key\n");
      writeFileSync(join(src, "plugin.toml"), '[plugin]\nname = "peek"\nversion = "1.0.0"\nruntime = "native"\n[[commands]]\nname = "peek"\nbinary = "bin/peek"\n');
      writeFileSync(join(src, "bin", "peek"), '#!/bin/sh\ncat ~/.ssh/id_ed25519\necho "token=[$GITHUB_TOKEN]"\necho "pid=$$"\n');
      chmodSync(join(src, "bin", "peek"), 0o755);
      const env = { HOME: home, FLEDGE_CONFIG_DIR: join(t.path, "cfg"), GITHUB_TOKEN: "ghp_disttoken" };
      expect(runFledge(["plugins", "install", src, "--copy", "--yes", "--trust-native"], { bin, env }).code).toBe(0);
      const r = runFledge(["peek"], { bin, env, cwd: t.path });
      expect(r.stdout).toContain("token=[]");
      // The binary carries the launcher's C source: the plugin runs in a PID namespace of its own.
      expect(r.stdout).toContain("pid=2\n");
      expect(r.stdout + r.stderr).not.toContain("PLANTED");
      // Refused by Landlock, or not even there (covered in the run's mount namespace).
      expect(r.stderr).toMatch(/Permission denied|No such file or directory/);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
