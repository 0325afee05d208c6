/**
 * Reserved names: a plugin can never be given (or take over) a folder fledge owns.
 * The attack: `attacker/bin` from GitHub became `plugins/bin`, the shim folder on the
 * user's PATH, after fledge moved the real one aside and deleted it. Every door is
 * tried: the repository name, the manifest name of a local plugin, the registry read
 * from disk, and the path builder itself; the shim folder and the other plugins survive.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertNotReserved, fledgePaths, foldName, isReservedName, parseRegistry } from "../../src/registry/index.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

const RESERVED_EXAMPLES = [
  "bin", "BIN", "Bin", "bin.", "bin ", "bin. .", "Cache", "cache", "tmp", "journal", "staging", "data", "state.json",
  "plugins", "plugins.toml", "plugins.journal.json", "x.journal.json", "config.toml", "cache.key", ".staging-x", ".staging-123-abc", ".hidden", "x.lock", "X.LOCK", "foo.tmp",
  "ｂｉｎ", // fullwidth
  "віn", // Cyrillic в and і
  "b\u200bin", // zero-width space
  "bi\u0308n", // combining diaeresis
  "CON", "nul.txt", "com1", "LPT9",
];
const ALLOWED_EXAMPLES = ["hello", "fledge-plugin-github", "binary-tools", "cachet", "my.plugin", "data-tools", "bins", "lockpick", "tmpl"];

describe("isReservedName", () => {
  for (const name of RESERVED_EXAMPLES) test(`reserved: ${JSON.stringify(name)}`, () => expect(isReservedName(name)).toBe(true));
  for (const name of ALLOWED_EXAMPLES) test(`allowed: ${name}`, () => expect(isReservedName(name)).toBe(false));

  test("folding: case, trailing dots/spaces, width and look-alikes meet at one form", () => {
    expect(foldName("BIN.")).toBe("bin");
    expect(foldName("ｂｉｎ")).toBe("bin");
    expect(foldName("віn")).toBe("bin");
  });

  test("the path builder refuses to name a plugin folder after a reserved name", () => {
    const paths = fledgePaths({ FLEDGE_CONFIG_DIR: "/tmp/x" });
    for (const name of ["bin", "BIN", "Cache", ".staging-1"]) {
      expect(() => paths.pluginDir(name)).toThrow(FledgeError);
      expect(() => paths.stateFile(name)).toThrow(/reserved/);
    }
    expect(paths.pluginDir("hello")).toBe("/tmp/x/plugins/hello");
    expect(() => assertNotReserved("bin")).toThrow(/"bin" is reserved/);
  });

  test("a registry entry named after a reserved name is refused with where to fix it", () => {
    for (const name of ["bin", "BIN", "cache", "bin."]) {
      const text = `[[plugins]]\nname = ${JSON.stringify(name)}\nsource = "a/b"\nversion = "1.0.0"\ninstalled = "2024-01-01"\ncommands = []\n`;
      let err: unknown;
      try {
        parseRegistry(text, "/cfg/plugins.toml");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FledgeError);
      expect((err as FledgeError).code).toBe("registry_corrupt");
      expect((err as FledgeError).message).toContain("name");
      expect((err as FledgeError).message).toContain(JSON.stringify(name));
    }
  });
});

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let work: string;

beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
  work = join(sb.root, "work");
  mkdirSync(work, { recursive: true });
});
afterEach(() => sb.cleanup());

const env = (): Record<string, string> => ({ ...sb.env, FLEDGE_GITHUB_API_URL: gh.url });

/** Install a legitimate plugin first, so there is a shim folder and another plugin to lose. */
async function installVictim(): Promise<void> {
  const dir = wasmPlugin(join(work, "victim"), { name: "victim" });
  const r = await runFledgeAsync(["plugins", "install", dir, "--copy"], { env: env() });
  expect(r.code).toBe(0);
  expect(existsSync(join(sb.config, "plugins", "bin", "fledge-victim"))).toBe(true);
}

function expectVictimIntact(): void {
  expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["victim"]);
  const bin = join(sb.config, "plugins", "bin");
  expect(readdirSync(bin)).toEqual(["fledge-victim"]);
  expect(readFileSync(join(bin, "fledge-victim"), "utf8")).toContain("fledge command shim");
  expect(existsSync(join(sb.config, "plugins", "victim", "plugin.toml"))).toBe(true);
}

describe("a reserved name is refused at every door, and nothing fledge owns is touched", () => {
  for (const repo of ["bin", "BIN", "Bin", "Cache", "cache", "tmp", "bin.", "state.json", "x.lock", ".staging-x"]) {
    test(`GitHub source attacker/${repo}`, async () => {
      await installVictim();
      // The plugin carries an executable `git`: it must never land in the shim folder.
      const plugin = wasmPlugin(join(work, `gh-${repo}`), { name: "innocent" }, { git: { data: "#!/bin/sh\necho pwned\n", mode: 0o755 } });
      gh.addRepo(`attacker/${repo}`, { dir: plugin });
      const r = await runFledgeAsync(["plugins", "install", `attacker/${repo}`, "--yes"], { env: env() });
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toContain("internal error");
      expect(r.stderr).toMatch(/reserved|not a safe|invalid|must be/i);
      expect(existsSync(join(sb.config, "plugins", "bin", "git"))).toBe(false);
      expectVictimIntact();
    });
  }

  for (const name of ["bin", "BIN", "Cache", "journal", "data", "config.toml"]) {
    test(`local plugin named ${name} (link and --copy)`, async () => {
      await installVictim();
      const dir = wasmPlugin(join(work, "evil"), { name }, { git: { data: "#!/bin/sh\necho pwned\n", mode: 0o755 } });
      for (const extra of [[], ["--copy"]]) {
        const r = await runFledgeAsync(["plugins", "install", dir, ...extra, "--yes", "--json"], { env: env() });
        expect(r.code).not.toBe(0);
        expect(r.stdout).toContain("reserved");
        expect(JSON.parse(r.stdout).error.code).toMatch(/manifest_invalid|reserved_name/);
        expectVictimIntact();
      }
    });
  }

  for (const repo of ["BIN", "bin.git", "Cache"]) {
    test(`git URL file://…/${repo}: refused before cloning`, async () => {
      await installVictim();
      const r = await runFledgeAsync(["plugins", "install", `file://${join(work, "nowhere", repo)}`, "--yes", "--json"], { env: env() });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe("reserved_name");
      expectVictimIntact();
    });
  }

  test("a command differing only in case from another plugin's is refused (shims would be one file on macOS/Windows)", async () => {
    await installVictim();
    for (const force of [[], ["--force"]]) {
      const dir = wasmPlugin(join(work, "shadow"), { name: "shadow", commands: [{ name: "VICTIM", binary: "hello.wasm" }] });
      const r = await runFledgeAsync(["plugins", "install", dir, "--copy", "--json", ...force], { env: env() });
      expect(r.code).toBe(1);
      const err = JSON.parse(r.stdout).error;
      expect(err.code).toBe("command_conflict");
      expect(err.message).toContain("plugin 'victim'");
      expectVictimIntact();
    }
  });

  test("validate reports a reserved plugin.name as an error", async () => {
    const dir = wasmPlugin(join(work, "v"), { name: "Bin" });
    const r = await runFledgeAsync(["plugins", "validate", dir], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("is reserved");
  });

  test("a hand-edited registry naming `bin` is refused by every command, and the shim folder stays", async () => {
    await installVictim();
    const reg = join(sb.config, "plugins.toml");
    writeFileSync(reg, `${readFileSync(reg, "utf8")}\n[[plugins]]\nname = "bin"\nsource = "attacker/bin"\nversion = "1.0.0"\ninstalled = "2024-01-01"\ncommands = ["git"]\n`);
    for (const args of [["plugins", "list"], ["plugins", "remove", "bin"], ["plugins", "audit"], ["plugins", "verify"], ["plugins", "update", "bin"]]) {
      const r = await runFledgeAsync(args, { env: env() });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("plugins.toml");
      expect(r.stderr).not.toContain("internal error");
    }
    expect(readdirSync(join(sb.config, "plugins", "bin"))).toEqual(["fledge-victim"]);
    expect(existsSync(join(sb.config, "plugins", "victim", "plugin.toml"))).toBe(true);
  });
});
