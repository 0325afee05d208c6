/**
 * fledge answers a plugin's `metadata` request unconfined: what it reads for the plugin
 * must be what the plugin itself could read (inside the project, no symlink out, never
 * a credential). And the confinement's home is the account's even with HOME unset.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { policyHome } from "../../src/confine/home.ts";
import { readProjectFileForPlugin } from "../../src/confine/on-behalf.ts";
import { confinementRules } from "../../src/confine/policy.ts";
import { collectMetadata } from "../../src/host/metadata.ts";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { MAIN, tempDir } from "../helpers/cli.ts";
import { canRunAsUser } from "../helpers/other-user.ts";

let t: { path: string; cleanup: () => void };
let home: string;
let project: string;
let env: Record<string, string>;

beforeEach(() => {
  t = tempDir("fledge-behalf-");
  const base = realpathSync(t.path);
  home = join(base, "home");
  project = join(base, "project");
  mkdirSync(join(home, ".cargo"), { recursive: true });
  mkdirSync(join(home, ".aws"), { recursive: true });
  mkdirSync(join(project, "sub"), { recursive: true });
  writeFileSync(join(home, ".cargo", "credentials.toml"), '[registry]\ntoken = "PLANTED-CRATES-TOKEN"\n');
  env = { HOME: home, FLEDGE_CONFIG_DIR: join(base, "cfg"), PATH: "/usr/bin:/bin" };
  mkdirSync(env.FLEDGE_CONFIG_DIR!);
  writeFileSync(join(env.FLEDGE_CONFIG_DIR!, "config.toml"), '[github]\ntoken = "PLANTED-GH"\n');
});
afterEach(() => t.cleanup());

const config = (root: string): unknown => collectMetadata(["fledge_config"], { projectRoot: root, env }).fledge_config;

describe("metadata fledge_config is read as the plugin could read it", () => {
  test("a plain fledge.toml in the project is answered", () => {
    writeFileSync(join(project, "fledge.toml"), '[project]\nname = "demo"\n');
    expect(config(project)).toEqual({ project: { name: "demo" } });
  });

  test("fledge.toml planted as a symlink to a credential (the red-team attack) answers null", () => {
    symlinkSync(join(home, ".cargo", "credentials.toml"), join(project, "sub", "fledge.toml"));
    expect(JSON.stringify(config(join(project, "sub")))).not.toContain("PLANTED");
    expect(config(join(project, "sub"))).toBeNull();
  });

  test("a symlink to fledge's own config, or to any file outside the project, answers null", () => {
    symlinkSync(join(env.FLEDGE_CONFIG_DIR!, "config.toml"), join(project, "fledge.toml"));
    expect(config(project)).toBeNull();
    const outside = join(t.path, "elsewhere.toml");
    writeFileSync(outside, 'x = "outside"\n');
    symlinkSync(outside, join(project, "sub", "fledge.toml"));
    expect(config(join(project, "sub"))).toBeNull();
  });

  test("a symlink to a file inside the project is followed", () => {
    writeFileSync(join(project, "real.toml"), 'y = 1\n');
    symlinkSync(join(project, "real.toml"), join(project, "fledge.toml"));
    expect(config(project)).toEqual({ y: 1 });
  });

  test("a project inside a credential folder, or the home folder itself, answers null", () => {
    writeFileSync(join(home, ".aws", "fledge.toml"), 'k = "PLANTED-AWS"\n');
    expect(config(join(home, ".aws"))).toBeNull();
    writeFileSync(join(home, "fledge.toml"), 'k = "home"\n');
    expect(config(home)).toBeNull();
  });

  test("a FIFO or a folder named fledge.toml answers null without blocking", () => {
    Bun.spawnSync(["mkfifo", join(project, "fledge.toml")]);
    expect(config(project)).toBeNull();
    mkdirSync(join(project, "sub", "fledge.toml"));
    expect(config(join(project, "sub"))).toBeNull();
  });

  test("only one plain file name is ever read", () => {
    writeFileSync(join(project, "fledge.toml"), "a = 1\n");
    expect(readProjectFileForPlugin(join(project, "sub"), "../fledge.toml", env)).toBeUndefined();
    expect(readProjectFileForPlugin(project, "fledge.toml", env)).toBe("a = 1\n");
  });
});

describe("the confinement's home without HOME", () => {
  test("policyHome: HOME when absolute, else the password database's home, else unknown", () => {
    expect(policyHome({ HOME: home })).toBe(home);
    expect(policyHome({}, () => ({ homedir: "/home/acct" }))).toBe("/home/acct");
    expect(policyHome({ HOME: "relative/dir" }, () => ({ homedir: "/home/acct" }))).toBe("/home/acct");
    expect(policyHome({ HOME: "" }, () => ({ homedir: "/home/acct" }))).toBe("/home/acct");
    expect(policyHome({}, () => ({ homedir: "" }))).toBeUndefined();
    expect(policyHome({}, () => { throw new Error("no passwd entry"); })).toBeUndefined();
    expect(policyHome({})).toBe(userInfo().homedir);
  });

  test("with HOME unset, the account's home folder is still not a project (the f13 attack)", () => {
    const acct = userInfo().homedir;
    const r = confinementRules({ pluginDir: join(t.path, "plugin"), projectRoot: acct, projectWritable: false, network: false, tempDir: join(t.path, "tmp"), fledgeConfigDir: env.FLEDGE_CONFIG_DIR! }, { PATH: "/usr/bin:/bin" });
    expect(r.notes.join("\n")).toContain("is your home folder");
    expect(r.fs.some((f) => f.path === realpathSync(acct))).toBe(false);
  });
});

// A uid with no password entry and no HOME: nothing tells fledge where the credentials
// are, so a native plugin must not start at all (not start with a guessed policy).
const NO_ACCOUNT_UID = 54321;
const canSwitchUser = kernelLandlockAbi() >= 1 && canRunAsUser(NO_ACCOUNT_UID, "the no-home refusal test");

test.skipIf(!canSwitchUser)("with no HOME and no password entry a native plugin is refused, not run", () => {
  const src = join(t.path, "src");
  mkdirSync(join(src, "bin"), { recursive: true });
  writeFileSync(join(src, "plugin.toml"), '[plugin]\nname = "peek"\nversion = "1.0.0"\nruntime = "native"\n[[commands]]\nname = "peek"\nbinary = "bin/peek"\n');
  writeFileSync(join(src, "bin", "peek"), `#!/bin/sh\necho ran > ${join(t.path, "RAN")}\n`);
  chmodSync(join(src, "bin", "peek"), 0o755);
  for (const p of [t.path, src, join(src, "bin"), join(src, "plugin.toml"), join(src, "bin", "peek")]) chownSync(p, NO_ACCOUNT_UID, NO_ACCOUNT_UID);
  const as = (args: string[]) =>
    Bun.spawnSync(["setpriv", `--reuid=${NO_ACCOUNT_UID}`, `--regid=${NO_ACCOUNT_UID}`, "--clear-groups", "env", "-i", "PATH=/usr/bin:/bin", `FLEDGE_CONFIG_DIR=${join(t.path, "nohome-cfg")}`, "NO_COLOR=1", process.execPath, MAIN, ...args], { cwd: t.path, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const inst = as(["plugins", "install", src, "--copy", "--yes", "--trust-native"]);
  expect(inst.stderr.toString()).not.toContain("ERROR");
  expect(inst.exitCode).toBe(0);
  const r = as(["peek"]);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr.toString()).toContain("cannot tell which folder is your home");
  expect(existsSync(join(t.path, "RAN"))).toBe(false);
}, 120_000);
