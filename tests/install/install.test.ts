/**
 * `fledge plugins install` end to end: a real fledge child process against the
 * loopback fake GitHub API. Covers hostile sources, archives, manifests, hooks and consent, and the happy paths.
 * Each test gets its own FLEDGE_CONFIG_DIR; "nothing left behind" means: no plugin
 * dir, no staging dir, no shim, registry unchanged.
 */
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzip, makeTar, startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { FIXTURES, HELLO_WASM, WASM_BYTES, listAll, nativePlugin, pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

const TOKEN = "ghp_SECRET_fledge_test_token_42";
let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let repoCount = 0;

beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
  gh.clearFailures();
  gh.requests.length = 0;
});
afterEach(() => sb.cleanup());

/** Put a plugin folder on the fake GitHub under a fresh repo name; returns owner/repo. */
function publish(dir: string, opts: { owner?: string; repo?: string; tag?: string } = {}): string {
  const full = `${opts.owner ?? "acme"}/${opts.repo ?? `plug${++repoCount}`}`;
  gh.addRepo(full, { dir, ...(opts.tag ? { tag: opts.tag } : {}) });
  return full;
}

function fledge(args: string[], env: Record<string, string> = {}) {
  return runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url, ...env }, cwd: sb.root });
}

/** Assert a failed install left no trace. */
function nothingLeft(): void {
  const state = pluginsState(sb.config).filter((p) => p !== "bin");
  expect(state).toEqual([]);
  expect(readReg(sb.config).plugins).toEqual([]);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("install from GitHub", () => {
  test("a wasm plugin: registry entry, shim, files, JSON; the token only in Authorization", async () => {
    const full = publish(HELLO_WASM, { repo: "hello-wasm" });
    const r = await fledge(["plugins", "install", full, "--json"], { FLEDGE_GITHUB_TOKEN: TOKEN });
    expect(r.stderr).not.toContain("internal error");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ schema_version: 1, action: "install", summary: { total: 1, installed: 1, failed: 0 } });
    expect(out.installed[0]).toMatchObject({ name: "hello-wasm", source: full, version: "0.1.0", trust_tier: "unverified", runtime: "wasm", sandboxed: true, risk: "sandboxed", pinned_ref: null });

    const [entry] = readReg(sb.config).plugins;
    expect(entry).toMatchObject({ name: "hello-wasm", source: full, runtime: "wasm", trust_tier: "unverified", commands: ["hello-wasm"] });
    expect(entry!.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(entry!.integrity).toEqual({ "hello.wasm": sha256(WASM_BYTES) });
    expect(entry!.capabilities).toEqual({ exec: false, store: false, metadata: false, filesystem: "none", network: false });
    expect(pluginsState(sb.config)).toEqual(["bin", "bin/fledge-hello-wasm", "hello-wasm", "hello-wasm/hello.wasm", "hello-wasm/hello.wat", "hello-wasm/plugin.toml"]);
    const shim = readFileSync(join(sb.config, "plugins/bin/fledge-hello-wasm"), "utf8");
    expect(shim).toStartWith("#!/bin/sh\n");
    expect(shim).toContain(' hello-wasm "$@"');

    // The token: sent as a bearer token to the API, nowhere else.
    expect(gh.requests.length).toBeGreaterThan(0);
    for (const q of gh.requests) {
      expect(q.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(q.url).not.toContain(TOKEN);
    }
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    for (const f of listAll(sb.config)) {
      const p = join(sb.config, f);
      if (existsSync(p) && !readdirSafe(p)) expect(readFileSync(p, "latin1")).not.toContain(TOKEN);
    }
  });

  test("owner/repo@tag pins the ref and records the tag's commit", async () => {
    const full = publish(HELLO_WASM, { repo: "pinned" });
    const tagSha = gh.addCommit(full, { dir: HELLO_WASM, tag: "v2.0.0" });
    const r = await fledge(["plugins", "install", `${full}@v2.0.0`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pinned to v2.0.0");
    expect(readReg(sb.config).plugins[0]).toMatchObject({ name: "pinned", pinned_ref: "v2.0.0", commit: tagSha });
  });

  test("a build hook runs without a shell at the plugin's final path, output on stderr", async () => {
    const full = publish(join(FIXTURES, "wasm-build"));
    const r = await fledge(["plugins", "install", full, "--yes", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("build: build.sh");
    expect(r.stderr).toContain(`built in ${join(sb.config, "plugins", full.split("/")[1]!)}\n`);
    expect(() => JSON.parse(r.stdout)).not.toThrow(); // hook output never reaches stdout
    const name = full.split("/")[1]!;
    expect(readFileSync(join(sb.config, "plugins", name, "out/hello.wasm"))).toEqual(WASM_BYTES);
    expect(readReg(sb.config).plugins[0]!.integrity).toEqual({ "out/hello.wasm": sha256(WASM_BYTES) });
  });

  test("already installed: refused without --force, replaced with it", async () => {
    const full = publish(HELLO_WASM, { repo: "twice" });
    expect((await fledge(["plugins", "install", full])).code).toBe(0);
    const again = await fledge(["plugins", "install", full]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already installed");
    const forced = await fledge(["plugins", "install", full, "--force"]);
    expect(forced.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["twice"]);
  });
});

function readdirSafe(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}

describe("H.1 hostile sources are refused before any request", () => {
  for (const source of ["CorvidLabs/../attacker/evil", "CorvidLabs/%2e%2e/attacker/evil", "CorvidLabs/%252e%252e/attacker/evil", "acme/hello@-rf", "acme/hello@--upload-pack=touch /tmp/x"]) {
    test(source, async () => {
      const r = await fledge(["plugins", "install", source, "--json", "--yes"]);
      expect(r.code).not.toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.schema_version).toBe(1);
      expect(["unsafe_source", "invalid_source"]).toContain(out.error.code);
      expect(gh.requests).toEqual([]);
      nothingLeft();
    });
  }

  test("a credential URL: the secret is never printed or stored", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("", { status: 500 }) });
    const port = dead.port;
    dead.stop(true);
    const secret = "hunter2SECRETtoken";
    const r = await fledge(["plugins", "install", `https://user:${secret}@127.0.0.1:${port}/o/r.git`, "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain(secret);
    for (const f of listAll(sb.config)) {
      const p = join(sb.config, f);
      if (!readdirSafe(p)) expect(readFileSync(p, "latin1")).not.toContain(secret);
    }
    nothingLeft();
  });
});

describe("H.4 trust policy and consent", () => {
  test("an unverified source asking for exec is refused, naming how to trust it", async () => {
    const dir = wasmPlugin(join(sb.root, "src-exec"), { name: "wants-exec", caps: { exec: true } });
    const full = publish(dir, { owner: "stranger" });
    const r = await fledge(["plugins", "install", full, "--yes", "--trust-native"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unverified source may not be granted exec");
    expect(r.stderr).toContain('orgs = ["stranger"]');
    nothingLeft();
  });

  test("an unverified source asking for network is refused; trusting the owner in config allows it", async () => {
    const dir = wasmPlugin(join(sb.root, "src-net"), { name: "wants-net", caps: { network: true } });
    const full = publish(dir, { owner: "friend" });
    const denied = await fledge(["plugins", "install", full, "--yes"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("may not be granted network");
    nothingLeft();
    mkdirSync(sb.config, { recursive: true });
    writeFileSync(join(sb.config, "config.toml"), '[trust]\norgs = ["friend"]\n');
    const ok = await fledge(["plugins", "install", full, "--yes"]);
    expect(ok.code).toBe(0);
    expect(readReg(sb.config).plugins[0]).toMatchObject({ trust_tier: "team", capabilities: { network: true } });
  });

  test("capabilities need --yes without a terminal; the prompt text names them", async () => {
    const dir = wasmPlugin(join(sb.root, "src-store"), { name: "wants-store", caps: { store: true, filesystem: "project" } });
    const full = publish(dir);
    const r = await fledge(["plugins", "install", full]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("store: may keep its own key/value data");
    expect(r.stderr).toContain("filesystem (project)");
    expect(r.stderr).toContain("--yes");
    nothingLeft();
    const ok = await fledge(["plugins", "install", full, "--yes"]);
    expect(ok.code).toBe(0);
    expect(readReg(sb.config).plugins[0]!.capabilities).toEqual({ exec: false, store: true, metadata: false, filesystem: "project", network: false });
  });

  test("native: refused non-interactively without --trust-native, even with --yes", async () => {
    const dir = nativePlugin(join(sb.root, "src-native"), { name: "nat" });
    const full = publish(dir, { repo: "nat" });
    const plain = await fledge(["plugins", "install", full]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("--trust-native");
    const yes = await fledge(["plugins", "install", full, "--yes", "--json"]);
    expect(yes.code).toBe(1);
    expect(JSON.parse(yes.stdout).error.code).toBe("consent_required");
    nothingLeft();
    const ok = await fledge(["plugins", "install", full, "--trust-native", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).installed[0]).toMatchObject({ runtime: "native", sandboxed: false, risk: "elevated" });
  });

  test("--non-interactive and FLEDGE_NON_INTERACTIVE never prompt", async () => {
    const dir = wasmPlugin(join(sb.root, "src-md"), { name: "md", caps: { metadata: true } });
    const full = publish(dir);
    const r = await fledge(["plugins", "install", full, "--non-interactive"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot ask without a terminal");
    const r2 = await fledge(["plugins", "install", full], { FLEDGE_NON_INTERACTIVE: "1" });
    expect(r2.code).toBe(1);
  });
});

describe("H.3 hostile manifests are refused", () => {
  const cases: [string, Record<string, string | Uint8Array>, RegExp][] = [
    ["missing plugin.toml", { "hello.wasm": WASM_BYTES }, /no readable plugin\.toml/],
    ["invalid TOML", { "plugin.toml": "[plugin\nname = ", "hello.wasm": WASM_BYTES }, /plugin\.toml .* is invalid/],
    ["wrong types", { "plugin.toml": '[plugin]\nname = 5\nversion = true\n', "hello.wasm": WASM_BYTES }, /is invalid/],
    ["binary ../../bin/sh", { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nruntime = "native"\n[[commands]]\nname = "x"\nbinary = "../../bin/sh"\n' }, /commands\[0\]\.binary/],
    ["absolute binary", { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nruntime = "native"\n[[commands]]\nname = "x"\nbinary = "/bin/sh"\n' }, /commands\[0\]\.binary/],
    ["command name with /", { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nprotocol = "fledge-v1"\n[[commands]]\nname = "a/b"\nbinary = "hello.wasm"\n', "hello.wasm": WASM_BYTES }, /commands\[0\]\.name/],
    ["command name ..", { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nprotocol = "fledge-v1"\n[[commands]]\nname = ".."\nbinary = "hello.wasm"\n', "hello.wasm": WASM_BYTES }, /commands\[0\]\.name/],
    ["command name -rf", { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nprotocol = "fledge-v1"\n[[commands]]\nname = "-rf"\nbinary = "hello.wasm"\n', "hello.wasm": WASM_BYTES }, /commands\[0\]\.name/],
    [
      "duplicate command names",
      { "plugin.toml": '[plugin]\nname = "x"\nversion = "1.0.0"\nprotocol = "fledge-v1"\n[[commands]]\nname = "a"\nbinary = "hello.wasm"\n[[commands]]\nname = "a"\nbinary = "hello.wasm"\n', "hello.wasm": WASM_BYTES },
      /commands\[1\]\.name/,
    ],
  ];
  for (const [label, files, pattern] of cases) {
    test(label, async () => {
      const dir = join(sb.root, "m");
      mkdirSync(dir, { recursive: true });
      for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
      const full = publish(dir);
      const r = await fledge(["plugins", "install", full, "--yes", "--trust-native"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(pattern);
      nothingLeft();
    });
  }

  test("a binary symlinked out of the plugin dir (live-linked local plugin)", async () => {
    const dir = wasmPlugin(join(sb.root, "linked-out"), { name: "linked-out", runtime: "native", commands: [{ name: "lo", binary: "bin/sh" }] }, { "bin/sh": { symlink: "/bin/sh" } });
    const r = await fledge(["plugins", "install", dir, "--yes", "--trust-native"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/outside the plugin/);
    nothingLeft();
  });

  test("a command owned by another plugin is refused, also with --force: the other plugin and its data stay", async () => {
    const a = wasmPlugin(join(sb.root, "a"), { name: "aaa", commands: [{ name: "shared", binary: "hello.wasm" }] });
    const b = wasmPlugin(join(sb.root, "b"), { name: "bbb", commands: [{ name: "shared", binary: "hello.wasm" }, { name: "other", binary: "hello.wasm" }] });
    expect((await fledge(["plugins", "install", a, "--copy"])).code).toBe(0);
    const before = readFileSync(join(sb.config, "plugins.toml"), "utf8");
    const clash = await fledge(["plugins", "install", b, "--copy"]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain("command 'shared' is already provided by plugin 'aaa'");
    expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
    expect(existsSync(join(sb.config, "plugins/bbb"))).toBe(false);
    writeFileSync(join(sb.config, "plugins/aaa/state.json"), '{"kept":true}');
    const forced = await fledge(["plugins", "install", b, "--copy", "--force", "--json"]);
    expect(forced.code).toBe(1);
    const err = JSON.parse(forced.stdout).error;
    expect(err.code).toBe("command_conflict");
    expect(err.message).toContain("command 'shared' is already provided by plugin 'aaa'");
    expect(err.message).toContain("--force never removes another plugin");
    expect(err.hint).toContain("fledge plugins remove aaa");
    expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["aaa"]);
    expect(readFileSync(join(sb.config, "plugins/aaa/state.json"), "utf8")).toBe('{"kept":true}');
    expect(existsSync(join(sb.config, "plugins/bbb"))).toBe(false);
    expect(readdirSync(join(sb.config, "plugins/bin")).sort()).toEqual(["fledge-shared"]);
    // Removing it explicitly, as the hint says, then installing works.
    expect((await fledge(["plugins", "remove", "aaa"])).code).toBe(0);
    expect((await fledge(["plugins", "install", b, "--copy"])).code).toBe(0);
    expect(readdirSync(join(sb.config, "plugins/bin")).sort()).toEqual(["fledge-other", "fledge-shared"]);
  });
});

describe("H.5 failures at every step roll back completely", () => {
  test("the connection drops mid-download", async () => {
    const full = publish(HELLO_WASM);
    gh.fail({ path: /tarball/, drop: true });
    const r = await fledge(["plugins", "install", full]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("download of");
    nothingLeft();
  });

  test("a 404 for the repository and for the ref", async () => {
    const r = await fledge(["plugins", "install", "acme/does-not-exist"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("repository acme/does-not-exist not found");
    const full = publish(HELLO_WASM);
    const r2 = await fledge(["plugins", "install", `${full}@nope`]);
    expect(r2.stderr).toContain("ref 'nope'");
    nothingLeft();
  });

  test("rate limited: the error says when it resets", async () => {
    const full = publish(HELLO_WASM);
    gh.fail({ path: "/repos/", status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 120) } });
    const r = await fledge(["plugins", "install", full, "--json"]);
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe("github_rate_limited");
    expect(err.message).toContain("resets at");
  });

  test("5xx twice, then the install succeeds", async () => {
    const full = publish(HELLO_WASM);
    gh.fail({ path: /tarball/, status: 503, times: 2 });
    const r = await fledge(["plugins", "install", full]);
    expect(r.code).toBe(0);
  });

  test("a failing build hook", async () => {
    const dir = wasmPlugin(join(sb.root, "bf"), { name: "bf", commands: [{ name: "bf", binary: "out/x.wasm" }], hooks: { build: "false" } });
    const r = await fledge(["plugins", "install", publish(dir), "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("build hook failed with exit code 1");
    nothingLeft();
  });

  test("a build hook that does not produce the binary", async () => {
    const dir = wasmPlugin(join(sb.root, "nb"), { name: "nb", commands: [{ name: "nb", binary: "out/x.wasm" }], hooks: { build: "true" } });
    const r = await fledge(["plugins", "install", publish(dir), "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not exist after the build");
    nothingLeft();
  });

  test("a failing post_install hook", async () => {
    const dir = wasmPlugin(join(sb.root, "pi"), { name: "pi", hooks: { post_install: "sh -c 'exit 3'" } });
    const r = await fledge(["plugins", "install", publish(dir), "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("post_install hook failed with exit code 3");
    nothingLeft();
  });

  test("a write that fails after the plugin was moved into place (shim path unwritable)", async () => {
    // Root ignores permissions, so "disk full / read-only" is simulated by a directory
    // standing where the shim must be written: the rename onto it fails for anyone.
    mkdirSync(join(sb.config, "plugins/bin/fledge-blocked/sub"), { recursive: true });
    const dir = wasmPlugin(join(sb.root, "blk"), { name: "blocked" });
    const r = await fledge(["plugins", "install", dir, "--copy"]);
    expect(r.code).toBe(1);
    expect(existsSync(join(sb.config, "plugins/blocked"))).toBe(false);
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(pluginsState(sb.config)).toEqual(["bin", "bin/fledge-blocked", "bin/fledge-blocked/sub"]);
  });

  test("H.2 end to end: a hostile tarball served by 'GitHub' leaves nothing behind", async () => {
    const victim = join(sb.root, "victim.txt");
    writeFileSync(victim, "original");
    const full = "evil/tarball";
    gh.addRepo(full, {
      tarball: gzip(makeTar([{ name: "evil-tarball-abc/", type: "5" }, { name: "evil-tarball-abc/plugin.toml", data: "x" }, { name: "evil-tarball-abc/../../../victim.txt", data: "pwned" }])),
    });
    const r = await fledge(["plugins", "install", full, "--yes", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("unsafe_archive");
    expect(readFileSync(victim, "utf8")).toBe("original");
    nothingLeft();
  });
});
