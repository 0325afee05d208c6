/**
 * The one tree policy (checkPluginTree) on every staged tree: a git clone, a --copy,
 * and what build / post_install hooks leave behind. An attacker's repository carries
 * (or its hook creates) a link the host would later follow for the plugin:
 * `state.json -> ~/victim.json` read through the store, `data -> /`, `../` escapes.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkPluginTree } from "../../src/install/tree-policy.ts";
import { pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin, writeTree, type FileSpec, type TomlOptions } from "./helpers.ts";

setDefaultTimeout(60_000);
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
  mkdirSync(join(sb.root, "home"), { recursive: true });
  writeFileSync(join(sb.root, "home", "victim.json"), '{"token":"TOPSECRET"}\n');
});
afterEach(() => sb.cleanup());

const fledge = (args: string[]) => runFledgeAsync([...args, "--yes"], { env: { ...sb.env, HOME: join(sb.root, "home") } });

/** A real git repository (git init + commit) holding a wasm plugin plus `extra`; returns its file:// URL. */
function gitRepo(name: string, o: Partial<TomlOptions>, extra: Record<string, FileSpec>): string {
  const src = wasmPlugin(join(sb.root, "repos", name), { name, caps: { store: true }, ...o }, extra);
  const git = (...args: string[]) => {
    const r = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: src });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  };
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "v1");
  return `file://${src}`;
}

async function expectRefused(url: string, entry: RegExp): Promise<void> {
  const r = await fledge(["plugins", "install", url]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(entry);
  expect(r.stderr).not.toContain("TOPSECRET");
  expect(readReg(sb.config).plugins).toEqual([]);
  expect(pluginsState(sb.config).filter((f) => !f.startsWith("bin"))).toEqual([]);
}

describe("git sources are held to the tree policy", () => {
  test("an absolute symlink is refused, naming the entry", async () => {
    await expectRefused(gitRepo("abs", {}, { "docs/key": { symlink: join(sb.root, "home", "victim.json") } }), /symlink 'docs\/key' points at the absolute path/);
  });

  test("a relative symlink escaping with ../ is refused", async () => {
    await expectRefused(gitRepo("esc", {}, { "sub/up": { symlink: "../../../home/victim.json" } }), /symlink 'sub\/up' resolves outside the plugin/);
  });

  test("state.json as a symlink is refused (the red-team repro), even pointing inside", async () => {
    await expectRefused(gitRepo("st", {}, { "state.json": { symlink: join(sb.root, "home", "victim.json") } }), /'state\.json'/);
    await expectRefused(gitRepo("st2", {}, { "state.json": { symlink: "plugin.toml" } }), /'state\.json' is a symlink, and fledge itself opens that path/);
  });

  test("data -> / is refused", async () => {
    await expectRefused(gitRepo("dat", {}, { data: { symlink: "/" } }), /symlink 'data' points at the absolute path '\/'/);
  });

  test("a build hook that creates such a link is refused after it ran", async () => {
    const hook = `ln -s ${join(sb.root, "home", "victim.json")} state.json`;
    await expectRefused(gitRepo("hk", { hooks: { build: hook } }, {}), /build hook left it: .*'state\.json'/);
  });

  // Refused by the tree policy, or earlier by the hook's confinement (the kernel refuses the link).
  test("a build hook that hard-links a file from outside is refused", async () => {
    await expectRefused(gitRepo("hl", { hooks: { build: `ln ${join(sb.root, "home", "victim.json")} secret.json` } }, {}), /'secret\.json' is a hard link to a file outside the plugin|failed to create hard link/);
  });

  // The hook's after-run check moves the link aside first (its target is too large to search); the tree policy still refuses it under that name.
  test("a post_install hook that creates an escaping link is refused", async () => {
    await expectRefused(gitRepo("pi", { hooks: { post_install: "ln -s ../../../.. out" } }, {}), /post_install hook left it: symlink 'out(\.fledge-quarantine-[0-9TZ-]+)?' resolves outside/);
  });

  test("a clean git plugin with an inside symlink still installs", async () => {
    const r = await fledge(["plugins", "install", gitRepo("ok", {}, { "docs/readme": "hi\n", "docs/alias": { symlink: "readme" } })]);
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["ok"]);
  });
});

describe("checkPluginTree", () => {
  test("hard links, FIFOs, loops and host-owned names are refused; plain trees pass", () => {
    const ok = writeTree(join(sb.root, "ok"), { "a/b": "x", "a/c": { symlink: "b" }, "top": { symlink: "a" } });
    expect(() => checkPluginTree(ok, "t")).not.toThrow();

    const hard = writeTree(join(sb.root, "hard"), { "f": "x" });
    linkSync(join(sb.root, "home", "victim.json"), join(hard, "g"));
    expect(() => checkPluginTree(hard, "t")).toThrow(/'g' is a hard link to a file outside the plugin/);
    // Hard links among the tree's own files (cargo's build outputs) are fine.
    const inside = writeTree(join(sb.root, "inside"), { "deps/x.wasm": "w" });
    linkSync(join(inside, "deps/x.wasm"), join(inside, "x.wasm"));
    expect(() => checkPluginTree(inside, "t")).not.toThrow();

    const fifo = writeTree(join(sb.root, "fifo"), {});
    expect(Bun.spawnSync(["mkfifo", join(fifo, "p")]).exitCode).toBe(0);
    expect(() => checkPluginTree(fifo, "t")).toThrow(/'p' is a device, FIFO or socket/);

    const loop = writeTree(join(sb.root, "loop"), { "l1": { symlink: "l2" }, "l2": { symlink: "l1" } });
    expect(() => checkPluginTree(loop, "t")).toThrow(/loop/);

    const chain = writeTree(join(sb.root, "chain"), { "L1": { symlink: "." }, "up": { symlink: "L1/.." } });
    expect(() => checkPluginTree(chain, "t")).toThrow(/'up' resolves outside/);

    const data = writeTree(join(sb.root, "data"), { "bin/x": "", "data": { symlink: "bin" } });
    expect(() => checkPluginTree(data, "t")).toThrow(/'data' is a symlink/);
    expect(existsSync(join(sb.root, "home", "victim.json"))).toBe(true);
  });
});
