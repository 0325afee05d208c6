/**
 * remove, list, audit, verify; local and git sources; hooks without a shell;
 * concurrency (H.6) and a process killed mid-install (H.7).
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { FIXTURES, HELLO_NATIVE, HELLO_WASM, baseEnv, listAll, nativePlugin, pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(90_000);

let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[], env: Record<string, string> = {}) => runFledgeAsync(args, { env: { ...sb.env, ...env }, cwd: sb.root });

describe("local sources", () => {
  test("a live link: remove unlinks it and never touches the source tree", async () => {
    const src = wasmPlugin(join(sb.root, "live"), { name: "live" });
    const before = listAll(src);
    expect((await fledge(["plugins", "install", src])).code).toBe(0);
    const link = join(sb.config, "plugins/live");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const r = await fledge(["plugins", "remove", "live", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ schema_version: 1, action: "remove", removed: { name: "live", commands: ["live"] } });
    expect(existsSync(link)).toBe(false);
    expect(listAll(src)).toEqual(before);
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(pluginsState(sb.config)).toEqual(["bin"]);
  });

  test("--force over a live link replaces only the link; the old target survives", async () => {
    const src = wasmPlugin(join(sb.root, "relink"), { name: "relink" });
    const before = listAll(src);
    expect((await fledge(["plugins", "install", src])).code).toBe(0);
    expect((await fledge(["plugins", "install", src, "--force", "--copy"])).code).toBe(0);
    expect(lstatSync(join(sb.config, "plugins/relink")).isDirectory()).toBe(true);
    expect(listAll(src)).toEqual(before);
  });

  test("--copy snapshots the tree (without .git); --copy with a remote source is a usage error", async () => {
    const src = wasmPlugin(join(sb.root, "snap"), { name: "snap" }, { ".git/HEAD": "ref: refs/heads/main\n", "docs/inner-link": { symlink: "../plugin.toml" } });
    expect((await fledge(["plugins", "install", src, "--copy"])).code).toBe(0);
    const dir = join(sb.config, "plugins/snap");
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(existsSync(join(dir, ".git"))).toBe(false);
    expect(existsSync(join(dir, "docs/inner-link"))).toBe(true);
    const usage = await fledge(["plugins", "install", "acme/x", "--copy"]);
    expect(usage.code).toBe(2);
  });

  test("--copy refuses a symlink that leaves the plugin", async () => {
    const src = wasmPlugin(join(sb.root, "esc"), { name: "esc" }, { "data/home": { symlink: "../../.." } });
    const r = await fledge(["plugins", "install", src, "--copy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("resolves outside the plugin");
    expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
  });
});

describe("hooks", () => {
  test("post_install and post_remove run in the plugin dir with FLEDGE_PLUGIN_DIR", async () => {
    const markers = join(sb.root, "markers");
    mkdirSync(markers);
    const env = { FLEDGE_TEST_MARKERS: markers };
    // A copy whose hooks may write the markers folder only (the fixture grants all of /tmp,
    // which fledge searches before and after each run for new .git folders).
    const src = join(sb.root, "native-hooks");
    cpSync(join(FIXTURES, "native-hooks"), src, { recursive: true });
    const manifest = join(src, "plugin.toml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace('write = ["/tmp"]', `write = ["${markers}"]`));
    const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--trust-native"], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("post_install: bin/mark post_install");
    const log1 = readFileSync(join(markers, "hooks.log"), "utf8");
    expect(log1).toMatch(/^post_install cwd=(\S+) dir=\1\n$/);
    const rm = await fledge(["plugins", "remove", "native-hooks"], env);
    expect(rm.code).toBe(0);
    const lines = readFileSync(join(markers, "hooks.log"), "utf8").trim().split("\n");
    expect(lines[1]).toBe(`post_remove cwd=${join(sb.config, "plugins/native-hooks")} dir=${join(sb.config, "plugins/native-hooks")}`);
  });

  test("a hook line runs without a shell: '$HOME' is a plain argument; shell operators are refused before consent", async () => {
    const src = wasmPlugin(join(sb.root, "noshell"), { name: "noshell", hooks: { post_install: "echo one $HOME" } });
    const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("one $HOME");
    expect(JSON.parse(r.stdout).action).toBe("install");
    // '&&' and '>' would be plain arguments too, so such a hook cannot do what it says: refused, nothing run.
    const ops = wasmPlugin(join(sb.root, "ops"), { name: "ops", hooks: { post_install: "echo one && touch pwned > out.txt" } });
    const o = await fledge(["plugins", "install", ops, "--copy", "--yes"]);
    expect(o.code).not.toBe(0);
    expect(o.stderr).toContain("uses the shell operator '&&'");
    expect(existsSync(join(sb.config, "plugins/ops"))).toBe(false);
  });

  test("a changed post_remove on a live link is not run (only the approved one is)", async () => {
    const markers = join(sb.root, "m2");
    mkdirSync(markers);
    const src = wasmPlugin(join(sb.root, "hk"), { name: "hk", hooks: { post_remove: "true" } });
    expect((await fledge(["plugins", "install", src, "--yes"])).code).toBe(0);
    writeFileSync(join(src, "plugin.toml"), readFileSync(join(src, "plugin.toml"), "utf8").replace('post_remove = "true"', `post_remove = "touch ${markers}/ran"`));
    const r = await fledge(["plugins", "remove", "hk", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).warnings[0]).toContain("post_remove hook not run");
    expect(existsSync(join(markers, "ran"))).toBe(false);
  });
});

describe("list, audit, verify", () => {
  test("list and audit report runtime, sandboxing, risk and granted capabilities", async () => {
    expect(JSON.parse((await fledge(["plugins", "list", "--json"])).stdout)).toEqual({ schema_version: 1, plugins: [] });
    expect((await fledge(["plugins", "install", HELLO_WASM])).code).toBe(0);
    expect((await fledge(["plugins", "install", HELLO_NATIVE, "--trust-native"])).code).toBe(0);
    const caps = wasmPlugin(join(sb.root, "c"), { name: "capsy", caps: { exec: true, store: true }, hooks: { post_install: "true" } });
    expect((await fledge(["plugins", "install", caps, "--yes"])).code).toBe(0);

    const list = JSON.parse((await fledge(["plugins", "list", "--json"])).stdout);
    expect(list.plugins.map((p: { name: string; runtime: string; sandboxed: boolean; risk: string; trust_tier: string }) => [p.name, p.runtime, p.sandboxed, p.risk, p.trust_tier])).toEqual([
      ["hello-wasm", "wasm", true, "sandboxed", "local"],
      ["hello-native", "native", false, "elevated", "local"],
      ["capsy", "wasm", true, "elevated", "local"],
    ]);
    const text = await fledge(["plugins", "list"]);
    // Native plugins say whether they run confined here (Landlock) or unconfined (elevated risk).
    expect(text.stdout).toMatch(/native, (confined \(Landlock ABI \d+ \+ seccomp\)|unconfined, elevated risk)/);

    const audit = JSON.parse((await fledge(["plugins", "audit", "--json"])).stdout);
    expect(audit.summary).toEqual({ total: 3, unverified: 0, elevated: 2, native: 1, sandboxed: 2 });
    const capsy = audit.audit.find((a: { name: string }) => a.name === "capsy");
    expect(capsy).toMatchObject({ capabilities: { exec: true, store: true, metadata: false, filesystem: "none", network: false }, hooks: { post_install: "true" }, has_lifecycle_hooks: true });
    const auditText = (await fledge(["plugins", "audit"])).stdout;
    expect(auditText).toContain("exec: may run shell commands");
    expect(auditText).toContain("Summary: 3 plugin(s)");
  });

  test("verify re-hashes binaries and fails when one changed", async () => {
    const src = wasmPlugin(join(sb.root, "v"), { name: "ver" });
    expect((await fledge(["plugins", "install", src, "--copy"])).code).toBe(0);
    const ok = await fledge(["plugins", "verify", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).results[0]).toMatchObject({ name: "ver", status: "ok" });
    writeFileSync(join(sb.config, "plugins/ver/hello.wasm"), "\0asm tampered");
    const bad = await fledge(["plugins", "verify", "ver", "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).results[0].files[0]).toMatchObject({ binary: "hello.wasm", status: "modified" });
    expect((await fledge(["plugins", "verify", "nope"])).code).toBe(1);
  });

  test("remove of an unknown plugin lists what is installed", async () => {
    expect((await fledge(["plugins", "install", HELLO_WASM])).code).toBe(0);
    const r = await fledge(["plugins", "remove", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("installed: hello-wasm");
  });
});

describe("git sources", () => {
  function gitRepo(dir: string): string {
    const g = (...args: string[]) => {
      const r = spawnSync("git", args, { cwd: dir, env: { ...baseEnv(), GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
      if (r.status !== 0) throw new Error(r.stderr.toString());
      return r.stdout.toString().trim();
    };
    g("init", "-q", "-b", "main");
    g("add", "-A");
    g("commit", "-q", "-m", "v1");
    g("tag", "v1.0.0");
    writeFileSync(join(dir, "NEWS"), "second\n");
    g("add", "-A");
    g("commit", "-q", "-m", "v2");
    return g("rev-parse", "v1.0.0");
  }

  test("a file:// URL clones shallowly, @tag checks out that commit, .git is dropped", async () => {
    const src = wasmPlugin(join(sb.root, "gitplug"), { name: "gitplug" });
    const v1 = gitRepo(src);
    const url = `file://${src}`;
    const r = await fledge(["plugins", "install", `${url}@v1.0.0`, "--json"]);
    expect(r.code).toBe(0);
    const entry = readReg(sb.config).plugins[0]!;
    expect(entry).toMatchObject({ name: "gitplug", source: url, pinned_ref: "v1.0.0", commit: v1, trust_tier: "unverified" });
    const dir = join(sb.config, "plugins/gitplug");
    expect(existsSync(join(dir, ".git"))).toBe(false);
    expect(existsSync(join(dir, "NEWS"))).toBe(false);
    const bad = await fledge(["plugins", "install", `${url}@no-such-tag`, "--force"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("ref 'no-such-tag' not found");
  });
});

describe("H.6 concurrency", () => {
  test("ten concurrent installs, then ten concurrent removes: no entry lost, nothing left", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `conc${i}`);
    const dirs = names.map((n) => wasmPlugin(join(sb.root, n), { name: n }));
    const installs = await Promise.all(dirs.map((d) => fledge(["plugins", "install", d, "--copy"])));
    for (const r of installs) expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name).sort()).toEqual(names);
    expect(readdirSync(join(sb.config, "plugins/bin")).sort()).toEqual(names.map((n) => `fledge-${n}`).sort());
    // Half removed while the other half is reinstalled with --force.
    const mixed = await Promise.all(names.map((n, i) => (i % 2 === 0 ? fledge(["plugins", "remove", n]) : fledge(["plugins", "install", dirs[i]!, "--copy", "--force"]))));
    for (const r of mixed) expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name).sort()).toEqual(names.filter((_, i) => i % 2 === 1));
    const removes = await Promise.all(names.filter((_, i) => i % 2 === 1).map((n) => fledge(["plugins", "remove", n])));
    for (const r of removes) expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(pluginsState(sb.config)).toEqual(["bin"]);
  });
});

describe("H.7 a process killed mid-install", () => {
  test("SIGKILL while the build hook runs; the next run cleans up and installs", async () => {
    const src = wasmPlugin(join(sb.root, "slow"), { name: "slow", hooks: { build: "sleep 30" } });
    const started = join(sb.root, "started");
    // New process group, so the kill takes the hook's `sleep` with it.
    const child = spawn(process.execPath, [MAIN, "plugins", "install", src, "--copy", "--yes"], { env: baseEnv(sb.env), cwd: sb.root, detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("running build hook")) resolve();
      });
      child.on("exit", () => reject(new Error(`install exited early: ${stderr}`)));
    });
    writeFileSync(started, "");
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const leftovers = readdirSync(join(sb.config, "plugins")).filter((n) => n.startsWith(".staging-"));
    expect(leftovers).toHaveLength(1);
    expect(readReg(sb.config).plugins).toEqual([]);

    // The next run removes the dead process's staging dir and works normally.
    writeFileSync(join(src, "plugin.toml"), readFileSync(join(src, "plugin.toml"), "utf8").replace('build = "sleep 30"', 'build = "true"'));
    const r = await fledge(["plugins", "install", src, "--copy", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("left by an interrupted install");
    expect(readdirSync(join(sb.config, "plugins")).filter((n) => n.startsWith(".staging-"))).toEqual([]);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["slow"]);
  });
});

describe("native plugin file modes", () => {
  test("a native binary committed without its exec bit is made executable", async () => {
    const src = nativePlugin(join(sb.root, "nx"), { name: "nx" }, { "bin/run": { data: "#!/bin/sh\necho hi\n", mode: 0o644 } });
    expect((await fledge(["plugins", "install", src, "--copy", "--trust-native"])).code).toBe(0);
    expect(lstatSync(join(sb.config, "plugins/nx/bin/run")).mode & 0o100).toBe(0o100);
  });
});
