/**
 * Live links (install from a local folder without --copy): the author's edit loop
 * works without reinstalling, while the integrity check keeps protecting copied and
 * downloaded plugins, and an edited plugin.toml never widens the grant.
 * Attacks covered: a downloaded plugin cannot become "linked" (the kind is fledge's,
 * recorded at install; a real folder never passes as a link); a linked plugin.toml that
 * asks for more capabilities or another runtime is refused at run; a deleted source
 * folder does not crash verify.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseRegistry, serializeRegistry } from "../../src/registry/index.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { nativePlugin, pluginToml, readReg, runFledgeAsync, sandbox, wasmPlugin, writeTree } from "./helpers.ts";

setDefaultTimeout(60_000);

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

function fledge(args: string[], env: Record<string, string> = {}) {
  return runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url, ...env }, cwd: sb.root });
}

/** A wasm module whose _start writes `text` to stdout (fd_write), assembled by hand. */
function echoWasm(text: string): Uint8Array {
  const data = Buffer.from(text);
  const u = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const section = (id: number, body: number[]): number[] => [id, ...u(body.length), ...body];
  const str = (s: string): number[] => [...u(s.length), ...Buffer.from(s)];
  const types = section(1, [2, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0]);
  const imports = section(2, [1, ...str("wasi_snapshot_preview1"), ...str("fd_write"), 0, 0]);
  const funcs = section(3, [1, 1]);
  const memory = section(5, [1, 0, 1]);
  const exports = section(7, [2, ...str("memory"), 2, 0, ...str("_start"), 0, 1]);
  // iovec at 0: {ptr 16, len}; call fd_write(1, 0, 1, 8); drop.
  const body = [0, 0x41, 1, 0x41, 0, 0x41, 1, 0x41, 8, 0x10, 0, 0x1a, 0x0b];
  const code = section(10, [1, ...u(body.length), ...body]);
  const iov = [16, 0, 0, 0, ...new Uint8Array(new Uint32Array([data.length]).buffer)];
  const dataSec = section(11, [2, 0, 0x41, 0, 0x0b, ...u(iov.length), ...iov, 0, 0x41, 16, 0x0b, ...u(data.length), ...data]);
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...funcs, ...memory, ...exports, ...code, ...dataSec]);
}

describe("the author loop on a live link", () => {
  test("native: install . -> edit -> rebuild -> run shows the new build, no reinstall", async () => {
    const dir = nativePlugin(join(sb.root, "mine"), { name: "mine" });
    // cwd is the plugin folder: `install .`
    const inst = await runFledgeAsync(["plugins", "install", ".", "--yes", "--trust-native"], { env: sb.env, cwd: dir });
    expect(inst.code).toBe(0);
    expect(readReg(sb.config).plugins[0]?.kind).toBe("linked");
    expect((await fledge(["mine"])).stdout).toContain("native-run");
    writeFileSync(join(dir, "bin/run"), "#!/bin/sh\necho rebuilt-by-author\n");
    const run = await fledge(["mine"]);
    expect(run.stderr).not.toContain("refusing");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("rebuilt-by-author");
  });

  test("wasm: a rebuilt module runs at once; list and verify say it is a live link", async () => {
    const dir = writeTree(join(sb.root, "wmine"), { "plugin.toml": pluginToml({ name: "wmine" }), "hello.wasm": echoWasm("first build\n") });
    const inst = await runFledgeAsync(["plugins", "install", ".", "--yes"], { env: sb.env, cwd: dir });
    expect(inst.code).toBe(0);
    expect((await fledge(["wmine"])).stdout).toBe("first build\n");
    writeFileSync(join(dir, "hello.wasm"), echoWasm("second build\n"));
    const run = await fledge(["wmine"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("second build\n");
    const list = await fledge(["plugins", "list"]);
    expect(list.stdout).toContain(`live link to ${dir}`);
    expect(JSON.parse((await fledge(["plugins", "list", "--json"])).stdout).plugins[0].kind).toBe("linked");
    const verify = await fledge(["plugins", "verify"]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain("linked  wmine  [linked]");
    expect(verify.stdout).toContain("not checked");
    const vj = JSON.parse((await fledge(["plugins", "verify", "--json"])).stdout);
    expect(vj.results[0]).toMatchObject({ status: "linked", kind: "linked", linked: true, link_target: dir, link_target_exists: true });
  });

  test("an edited plugin.toml asking for more capabilities is refused until reinstalled; the same grant keeps running", async () => {
    const dir = writeTree(join(sb.root, "caps"), { "plugin.toml": pluginToml({ name: "caps", caps: { store: true } }), "hello.wasm": echoWasm("ok\n") });
    expect((await runFledgeAsync(["plugins", "install", ".", "--yes"], { env: sb.env, cwd: dir })).code).toBe(0);
    writeFileSync(join(dir, "plugin.toml"), pluginToml({ name: "caps", caps: { store: true, metadata: true, filesystem: "project" } }));
    const run = await fledge(["caps"]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("now asks for metadata, filesystem=project, which was not granted at install");
    expect(run.stderr).toContain(`fledge plugins install ${dir} --force`);
    // What the registry granted is unchanged.
    expect(readReg(sb.config).plugins[0]?.capabilities).toMatchObject({ store: true, metadata: false, filesystem: "none" });
    // Asking for less (or the same) is fine; re-approving takes the new grant.
    writeFileSync(join(dir, "plugin.toml"), pluginToml({ name: "caps" }));
    expect((await fledge(["caps"])).stdout).toBe("ok\n");
    writeFileSync(join(dir, "plugin.toml"), pluginToml({ name: "caps", caps: { metadata: true } }));
    expect((await fledge(["caps"])).code).not.toBe(0);
    expect((await runFledgeAsync(["plugins", "install", ".", "--yes", "--force"], { env: sb.env, cwd: dir })).code).toBe(0);
    expect((await fledge(["caps"])).stdout).toBe("ok\n");
  });

  test("a linked plugin.toml switched to native is refused (approved as wasm)", async () => {
    const dir = writeTree(join(sb.root, "rt"), { "plugin.toml": pluginToml({ name: "rt" }), "hello.wasm": echoWasm("ok\n") });
    expect((await runFledgeAsync(["plugins", "install", ".", "--yes"], { env: sb.env, cwd: dir })).code).toBe(0);
    writeTree(dir, { "plugin.toml": pluginToml({ name: "rt", runtime: "native", protocol: false, commands: [{ name: "rt", binary: "bin/run" }] }), "bin/run": { data: "#!/bin/sh\necho escaped\n", mode: 0o755 } });
    const run = await fledge(["rt"]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain("escaped");
    expect(run.stderr).toContain("approved as wasm");
  });

  test("verify does not crash once the linked source folder is deleted, and says what to do", async () => {
    const dir = wasmPlugin(join(sb.root, "gone"), { name: "gone" });
    expect((await runFledgeAsync(["plugins", "install", ".", "--yes"], { env: sb.env, cwd: dir })).code).toBe(0);
    rmSync(dir, { recursive: true });
    const v = await fledge(["plugins", "verify"]);
    expect(v.stderr).not.toContain("internal error");
    expect(v.code).toBe(1);
    expect(v.stdout).toContain("no longer exists");
    const one = await fledge(["plugins", "verify", "gone", "--json"]);
    expect(JSON.parse(one.stdout).results[0]).toMatchObject({ status: "failed", link_target_exists: false });
    expect((await fledge(["plugins", "list"])).code).toBe(0);
    const run = await fledge(["gone"]);
    expect(run.stderr).not.toContain("internal error");
    expect(run.code).not.toBe(0);
    // And it can be removed.
    expect((await fledge(["plugins", "remove", "gone"])).code).toBe(0);
  });
});

describe("integrity still protects copies and downloads", () => {
  test("a --copy plugin edited in place is refused; list and verify say copied", async () => {
    const dir = wasmPlugin(join(sb.root, "cp"), { name: "cp" });
    expect((await fledge(["plugins", "install", dir, "--copy", "--yes"])).code).toBe(0);
    expect(readReg(sb.config).plugins[0]?.kind).toBe("copied");
    writeFileSync(join(sb.config, "plugins", "cp", "hello.wasm"), echoWasm("tampered\n"));
    const run = await fledge(["cp"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("has changed since it was installed");
    expect(run.stderr).not.toContain("<source>");
    expect(run.stderr).toContain(`fledge plugins install ${dir} --force`);
    const v = await fledge(["plugins", "verify"]);
    expect(v.stdout).toContain("FAILED  cp  [copied]");
  });

  test("a downloaded plugin whose registry entry is edited to say linked is still checked (its folder is real)", async () => {
    gh.addRepo("acme/dl", { dir: wasmPlugin(join(sb.root, "src-dl"), { name: "dl" }) });
    expect((await fledge(["plugins", "install", "acme/dl", "--yes"])).code).toBe(0);
    const regFile = join(sb.config, "plugins.toml");
    const reg = parseRegistry(readFileSync(regFile, "utf8"), "plugins.toml");
    expect(reg.plugins[0]?.kind).toBe("downloaded");
    reg.plugins[0]!.kind = "linked";
    writeFileSync(regFile, serializeRegistry(reg));
    writeFileSync(join(sb.config, "plugins", "dl", "hello.wasm"), echoWasm("tampered\n"));
    const run = await fledge(["dl"]);
    expect(run.stdout).not.toContain("tampered");
    expect(run.stderr).toContain("has changed since it was installed");
  });

  test("a plugin.toml cannot claim to be linked: the kind comes from how fledge installed it", async () => {
    const dir = wasmPlugin(join(sb.root, "claim"), { name: "claim" }, { "extra.toml": "" });
    writeFileSync(join(dir, "plugin.toml"), `${readFileSync(join(dir, "plugin.toml"), "utf8")}\n[install]\nkind = "linked"\n`);
    gh.addRepo("acme/claim", { dir });
    expect((await fledge(["plugins", "install", "acme/claim", "--yes"])).code).toBe(0);
    expect(readReg(sb.config).plugins[0]?.kind).toBe("downloaded");
  });
});

describe("smaller breaks", () => {
  test("reinstalling says 'already installed' before downloading anything", async () => {
    gh.addRepo("acme/again", { dir: wasmPlugin(join(sb.root, "src-again"), { name: "again" }) });
    expect((await fledge(["plugins", "install", "acme/again", "--yes"])).code).toBe(0);
    gh.requests.length = 0;
    // Without --yes/--force (with -y, as in the original, it reinstalls).
    const r = await fledge(["plugins", "install", "acme/again"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("already installed");
    expect(gh.requests.filter((q) => /tarball|releases/.test(q.url))).toEqual([]);
  });

  test("a pre-release version (0.3.0-dev) installs", async () => {
    const dir = wasmPlugin(join(sb.root, "dev"), { name: "dev", version: "0.3.0-dev" });
    const r = await fledge(["plugins", "install", dir, "--yes"]);
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins[0]?.version).toBe("0.3.0-dev");
  });
});
