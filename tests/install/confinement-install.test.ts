/**
 * [confinement] and --unconfined through a real install: shown in plain words at
 * consent, recorded as granted, shown by list and audit; an unverified source never
 * gets credentials; --unconfined needs its own consent and is recorded.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { nativePlugin, readReg, runFledgeAsync, sandbox } from "./helpers.ts";

setDefaultTimeout(60_000);
const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
  mkdirSync(join(sb.root, "home"), { recursive: true });
});
afterEach(() => sb.cleanup());

const fledge = (args: string[]) => runFledgeAsync(args, { env: { ...sb.env, HOME: join(sb.root, "home") } });
const ghPlugin = (name: string) => nativePlugin(join(sb.root, name), { name, protocol: false, confinement: { read: ["~/.config/gh"], env: ["GH_TOKEN"] } });

function gitRepo(dir: string): string {
  const git = (...args: string[]) => {
    const r = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  };
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "v1");
  return `file://${dir}`;
}

describe("[confinement] at install", () => {
  test("consent names each extra in plain words, credentials flagged; the grant is recorded and audited", async () => {
    const r = await fledge(["plugins", "install", ghPlugin("ghx"), "--copy", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("may read ~/.config/gh (credentials)");
    expect(r.stderr).toContain("sees the variable GH_TOKEN (credentials)");
    if (confinable) expect(r.stderr).toMatch(/confinement: confined \(Landlock ABI \d+ \+ seccomp\)/);
    else expect(r.stderr).toContain("unconfined, elevated risk");
    // Where each path led at consent is recorded with it (a later symlink is judged against it).
    const granted = readReg(sb.config).plugins[0]?.confinement;
    expect(granted).toMatchObject({ unconfined: false, read: ["~/.config/gh"], write: [], env: ["GH_TOKEN"], resolved_write: [] });
    expect(granted?.resolved_read?.map((p) => p.endsWith("/.config/gh"))).toEqual([true]);
    const audit = JSON.parse((await fledge(["plugins", "audit", "--json"])).stdout);
    expect(audit.audit[0].confinement_extras).toEqual(["may read ~/.config/gh (credentials)", "sees the variable GH_TOKEN (credentials)"]);
    expect(audit.audit[0].confined).toBe(confinable);
  });

  test("an unverified source may not ask for credentials, even with --yes --trust-native", async () => {
    const url = gitRepo(ghPlugin("ghu"));
    const r = await fledge(["plugins", "install", url, "--yes", "--trust-native"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("an unverified plugin may not ask for credentials");
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("--unconfined needs its own consent (--trust-native without a terminal) and is recorded", async () => {
    const src = nativePlugin(join(sb.root, "wide"), { name: "wide", protocol: false });
    const refused = await fledge(["plugins", "install", src, "--copy", "--yes", "--unconfined"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--trust-native");
    const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--trust-native", "--unconfined"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("unconfined, elevated risk (installed with --unconfined)");
    expect(readReg(sb.config).plugins[0]?.confinement?.unconfined).toBe(true);
    const list = JSON.parse((await fledge(["plugins", "list", "--json"])).stdout);
    expect(list.plugins[0]).toMatchObject({ confined: false, confinement: "unconfined, elevated risk (installed with --unconfined)" });
    expect((await fledge(["plugins", "list"])).stdout).toContain("native, unconfined, elevated risk (installed with --unconfined)");
  });

  test("a [confinement] write to a place where code runs later is a manifest error", async () => {
    const src = nativePlugin(join(sb.root, "rc"), { name: "rc", protocol: false, confinement: { write: ["~/.bashrc"] } });
    const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--trust-native"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("confinement.write");
  });

  test("a plain-named variable holding a credential at consent is shown as credentials and recorded so; one set later is not", async () => {
    const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    const src = nativePlugin(join(sb.root, "up"), { name: "up", protocol: false, confinement: { env: ["APP_UPSTREAM", "APP_MODE"] } });
    const r = await runFledgeAsync(["plugins", "install", src, "--copy", "--yes", "--trust-native"], { env: { ...sb.env, HOME: join(sb.root, "home"), APP_UPSTREAM: token } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("sees the variable APP_UPSTREAM (credentials)");
    expect(r.stderr).not.toContain(token);
    expect(readReg(sb.config).plugins[0]?.confinement?.credential_env).toEqual(["APP_UPSTREAM"]);
  });
});
