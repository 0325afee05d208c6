/**
 * `fledge plugins update`: escalations need consent again and
 * declining keeps the old version byte-for-byte; pins are honoured; local plugins
 * are skipped; a failed update makes the command exit non-zero.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addedCapabilities, changedHooks, newestTag } from "../../src/install/index.ts";
import { NO_CAPABILITIES, type Manifest } from "../../src/manifest/index.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { listAll, pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin, type TomlOptions } from "./helpers.ts";

setDefaultTimeout(60_000);

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let n = 0;
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
  gh.clearFailures();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[]) => runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }, cwd: sb.root });

/** Publish v1 of a plugin, install it, and return a function that publishes the next version. */
async function installed(v1: Omit<TomlOptions, "name">, owner = "acme"): Promise<{ full: string; name: string; push: (next: Omit<TomlOptions, "name">) => string }> {
  const name = `up${++n}`;
  const full = `${owner}/${name}`;
  gh.addRepo(full, { dir: wasmPlugin(join(sb.root, `${name}-v1`), { ...v1, name }) });
  const r = await fledge(["plugins", "install", full, "--yes"]);
  expect(r.code).toBe(0);
  let version = 1;
  return {
    full,
    name,
    push: (next) => gh.addCommit(full, { dir: wasmPlugin(join(sb.root, `${name}-v${++version}`), { ...next, name }) }),
  };
}

function snapshot(name: string): { files: string[]; registry: string; wasm: Buffer } {
  return { files: pluginsState(sb.config), registry: readFileSync(join(sb.config, "plugins.toml"), "utf8"), wasm: readFileSync(join(sb.config, "plugins", name, "hello.wasm")) };
}

describe("H.8 escalations need consent; the old version is kept until then", () => {
  test("a new capability: refused without --yes (old version untouched), applied with it", async () => {
    const p = await installed({ version: "1.0.0" });
    const before = snapshot(p.name);
    p.push({ version: "2.0.0", caps: { store: true } });
    const r = await fledge(["plugins", "update", p.name, "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ schema_version: 1, action: "update", summary: { total: 1, updated: 0, failed: 1 } });
    expect(out.results[0]).toMatchObject({ name: p.name, status: "failed", error_code: "consent_required", escalation: { capabilities: ["store"], hooks: [] } });
    expect(r.stderr).toContain("new capabilities:");
    expect(snapshot(p.name)).toEqual(before);

    const ok = await fledge(["plugins", "update", p.name, "--yes", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).results[0]).toMatchObject({ status: "updated", previous_version: "1.0.0", version: "2.0.0" });
    expect(readReg(sb.config).plugins[0]).toMatchObject({ version: "2.0.0", capabilities: { store: true } });
  });

  test("a changed hook needs consent too", async () => {
    const p = await installed({ version: "1.0.0", hooks: { post_install: "true" } });
    const before = snapshot(p.name);
    p.push({ version: "1.1.0", hooks: { post_install: "echo changed" } });
    const r = await fledge(["plugins", "update", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).results[0].escalation).toEqual({ capabilities: [], hooks: ["post_install"] });
    expect(snapshot(p.name)).toEqual(before);
    expect((await fledge(["plugins", "update", "--yes"])).code).toBe(0);
    expect(readReg(sb.config).plugins[0]!.extra).toEqual({ hooks: { post_install: "echo changed" } });
  });

  test("no escalation: updates without asking, keeps the plugin's data, refreshes integrity", async () => {
    const p = await installed({ version: "1.0.0", caps: { store: true, filesystem: "plugin" } });
    const dir = join(sb.config, "plugins", p.name);
    writeFileSync(join(dir, "state.json"), '{"k":"v"}');
    const sha = p.push({ version: "1.0.1", caps: { store: true, filesystem: "project" } });
    const r = await fledge(["plugins", "update", p.name]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("1.0.0 → 1.0.1");
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe('{"k":"v"}');
    expect(readReg(sb.config).plugins[0]).toMatchObject({ version: "1.0.1", commit: sha, capabilities: { store: true, filesystem: "project" } });
    const again = await fledge(["plugins", "update", p.name, "--json"]);
    expect(JSON.parse(again.stdout).results[0].status).toBe("up_to_date");
  });

  test("an unverified plugin whose update adds exec fails; the old version stays", async () => {
    const p = await installed({ version: "1.0.0" }, "stranger");
    const before = snapshot(p.name);
    p.push({ version: "2.0.0", caps: { exec: true } });
    const r = await fledge(["plugins", "update", p.name, "--yes", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "failed", error_code: "capability_denied" });
    expect(snapshot(p.name)).toEqual(before);
  });
});

describe("pins, local plugins, failures", () => {
  test("a pinned plugin stays on its ref and reports the newer tag", async () => {
    const full = "acme/pinme";
    gh.addRepo(full, { dir: wasmPlugin(join(sb.root, "pin1"), { name: "pinme", version: "1.0.0" }), tag: "v1.0.0" });
    expect((await fledge(["plugins", "install", `${full}@v1.0.0`])).code).toBe(0);
    const current = await fledge(["plugins", "update", "--json"]);
    expect(JSON.parse(current.stdout).results[0]).toMatchObject({ status: "up_to_date", pinned_ref: "v1.0.0" });
    gh.addCommit(full, { dir: wasmPlugin(join(sb.root, "pin2"), { name: "pinme", version: "1.1.0" }), tag: "v1.1.0" });
    const r = await fledge(["plugins", "update", "pinme", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "skipped", pinned_ref: "v1.0.0", latest_tag: "v1.1.0", version: "1.0.0" });
    expect(readReg(sb.config).plugins[0]).toMatchObject({ version: "1.0.0", pinned_ref: "v1.0.0" });
  });

  test("local plugins are skipped", async () => {
    const src = wasmPlugin(join(sb.root, "loc"), { name: "loc" });
    expect((await fledge(["plugins", "install", src])).code).toBe(0);
    const r = await fledge(["plugins", "update", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ name: "loc", status: "skipped" });
  });

  test("a network failure mid-update: non-zero exit, old version intact, other plugins still updated", async () => {
    const a = await installed({ version: "1.0.0" });
    const b = await installed({ version: "1.0.0" });
    const beforeA = snapshot(a.name);
    a.push({ version: "1.0.1" });
    b.push({ version: "1.0.1" });
    gh.fail({ path: `/repos/acme/${a.name}/tarball`, drop: true });
    const r = await fledge(["plugins", "update", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.summary).toMatchObject({ total: 2, updated: 1, failed: 1 });
    expect(readFileSync(join(sb.config, "plugins", a.name, "hello.wasm")).equals(beforeA.wasm)).toBe(true);
    expect(readReg(sb.config).plugins.map((p) => p.version)).toEqual(["1.0.0", "1.0.1"]);
    expect(listAll(join(sb.config, "plugins")).filter((f) => f.startsWith(".staging-"))).toEqual([]);
  });
});

describe("git sources", () => {
  test("a file:// plugin updates to the new HEAD commit", async () => {
    const src = wasmPlugin(join(sb.root, "gitup"), { name: "gitup", version: "1.0.0" });
    const git = (...args: string[]) => {
      const r = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: src });
      if (r.exitCode !== 0) throw new Error(r.stderr.toString());
      return r.stdout.toString().trim();
    };
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "v1");
    expect((await fledge(["plugins", "install", `file://${src}`])).code).toBe(0);
    const same = await fledge(["plugins", "update", "--json"]);
    expect(JSON.parse(same.stdout).results[0].detail).toBe("already at the latest commit");
    wasmPlugin(src, { name: "gitup", version: "1.1.0" });
    git("commit", "-q", "-am", "v2");
    const head = git("rev-parse", "HEAD");
    const r = await fledge(["plugins", "update", "gitup", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "updated", version: "1.1.0", commit: head });
  });
});

describe("diff helpers", () => {
  test("addedCapabilities counts only climbs", () => {
    expect(addedCapabilities({ ...NO_CAPABILITIES, filesystem: "plugin", exec: true }, { ...NO_CAPABILITIES, filesystem: "project", exec: true, network: true })).toEqual({
      ...NO_CAPABILITIES,
      network: true,
    });
    expect(addedCapabilities(NO_CAPABILITIES, { ...NO_CAPABILITIES, filesystem: "project" }).filesystem).toBe("project");
  });

  test("changedHooks reports new and changed hooks, not removed ones", () => {
    const m = { hooks: { build: "make", post_install: "a" } } as unknown as Manifest;
    expect(changedHooks({ build: "make", post_remove: "x" }, m)).toEqual([{ event: "post_install", command: "a" }]);
  });

  test("newestTag prefers the highest semver tag", () => {
    expect(newestTag(["v1.10.0", "v1.9.0", "nightly", "v2.0.0"])).toBe("v2.0.0");
    expect(newestTag(["nightly"])).toBe("nightly");
    expect(newestTag([])).toBeNull();
  });
});
