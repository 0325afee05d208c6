/**
 * Prebuilt wasm from release assets, `search`, and `create` (the C scaffold is
 * built with clang and run against a minimal host to check it speaks fledge.send).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { searchQuery } from "../../src/install/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { WASM_BYTES, pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(90_000);

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let repos: { path: string; cleanup: () => void };
beforeAll(async () => {
  gh = await startGithubServer();
  repos = tempDir("fledge-extras-");
  gh.addRepo("CorvidLabs/fledge-plugin-lint", { dir: wasmPlugin(join(repos.path, "a"), { name: "lint" }), description: "Lints things", stars: 50, topics: ["fledge-plugin", "lint"] });
  gh.addRepo("stranger/lint-more", { dir: wasmPlugin(join(repos.path, "b"), { name: "lint2" }), description: "More linting", stars: 3 });
  gh.addRepo("0xLeif/not-a-plugin", { dir: wasmPlugin(join(repos.path, "c"), { name: "np" }), topics: ["other"] });
});
afterAll(() => {
  gh.stop();
  repos.cleanup();
});
beforeEach(() => {
  sb = sandbox();
  gh.clearFailures();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[], cwd = sb.root) => runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }, cwd });
const sha256 = (d: Uint8Array | string) => createHash("sha256").update(d).digest("hex");

describe("prebuilt wasm release assets", () => {
  function publishPrebuilt(repo: string, sums: string | null): string {
    const full = `acme/${repo}`;
    // The build hook would fail: a successful install proves the asset was used.
    const dir = wasmPlugin(join(sb.root, repo), { name: repo, commands: [{ name: repo, binary: `target/wasm32-wasip1/release/${repo}.wasm` }], hooks: { build: "false" } });
    gh.addRepo(full, { dir, tag: "v1.0.0", topics: [] });
    gh.addRelease(full, "v1.0.0", { [`${repo}.wasm`]: WASM_BYTES, ...(sums === null ? {} : { SHA256SUMS: sums }) });
    return full;
  }

  test("a verified asset is used instead of building", async () => {
    const full = publishPrebuilt("pre1", `${sha256(WASM_BYTES)}  pre1.wasm\n`);
    const r = await fledge(["plugins", "install", `${full}@v1.0.0`, "--yes", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).installed[0].prebuilt).toEqual(["target/wasm32-wasip1/release/pre1.wasm"]);
    expect(r.stderr).toContain("sha256 verified");
    expect(readReg(sb.config).plugins[0]!.integrity).toEqual({ "target/wasm32-wasip1/release/pre1.wasm": sha256(WASM_BYTES) });
  });

  test("a checksum mismatch refuses the install and leaves nothing", async () => {
    const full = publishPrebuilt("pre2", `${"0".repeat(64)}  pre2.wasm\n`);
    const r = await fledge(["plugins", "install", `${full}@v1.0.0`, "--yes", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("checksum_mismatch");
    expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
  });

  test("--build ignores the release and builds (here: the failing hook runs)", async () => {
    const full = publishPrebuilt("pre3", null);
    const r = await fledge(["plugins", "install", `${full}@v1.0.0`, "--yes", "--build"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("build hook failed");
  });
});

describe("search", () => {
  test("the query: keywords, topic and user qualifiers", () => {
    expect(searchQuery({})).toBe("topic:fledge-plugin");
    expect(searchQuery({ query: "lint", topic: "rust", author: "acme" })).toBe("lint in:name,description,topics topic:fledge-plugin topic:rust user:acme");
  });

  test("topic search with trust tiers, filters and JSON", async () => {
    const r = await fledge(["plugins", "search", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.schema_version).toBe(1);
    expect(out.results.map((x: { full_name: string; trust_tier: string }) => [x.full_name, x.trust_tier])).toEqual([
      ["CorvidLabs/fledge-plugin-lint", "official"],
      ["stranger/lint-more", "unverified"],
    ]);
    const official = JSON.parse((await fledge(["plugins", "search", "lint", "--trust-tier", "official", "--json"])).stdout);
    expect(official.results.map((x: { full_name: string }) => x.full_name)).toEqual(["CorvidLabs/fledge-plugin-lint"]);
    const byAuthor = JSON.parse((await fledge(["plugins", "search", "-a", "stranger", "-l", "5", "--json"])).stdout);
    expect(byAuthor.results.map((x: { full_name: string }) => x.full_name)).toEqual(["stranger/lint-more"]);
    const q = gh.requests.at(-1)!.url;
    expect(decodeURIComponent(q.replace(/\+/g, " "))).toContain("q=topic:fledge-plugin user:stranger");
    const text = await fledge(["plugins", "search"]);
    expect(text.stdout).toMatch(/^CorvidLabs\/fledge-plugin-lint +official +50 +Lints things/m);
  });

  test("bad flags are usage errors; a rate limit is reported", async () => {
    expect((await fledge(["plugins", "search", "--trust-tier", "best"])).code).toBe(2);
    expect((await fledge(["plugins", "search", "--limit", "0"])).code).toBe(2);
    gh.fail({ path: "/search/", status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2000000000" } });
    const r = await fledge(["plugins", "search"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("rate limit");
  });
});

describe("create", () => {
  test("a native scaffold validates strictly and installs", async () => {
    const r = await fledge(["plugins", "create", "greet", "-o", sb.root, "-d", "Greets you", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ schema_version: 1, action: "create", name: "greet", runtime: "native", description: "Greets you" });
    expect(statSync(join(sb.root, "greet/bin/greet")).mode & 0o111).not.toBe(0);
    expect((await fledge(["plugins", "validate", join(sb.root, "greet"), "--strict"])).code).toBe(0);
    expect((await fledge(["plugins", "install", join(sb.root, "greet"), "--trust-native"])).code).toBe(0);
    expect((await fledge(["plugins", "create", "greet", "-o", sb.root])).code).toBe(1);
    expect((await fledge(["plugins", "create", "../evil", "-o", sb.root])).code).toBe(2);
  });

  test("the --lang c scaffold builds with its own build hook, validates, and sends an output message through fledge.send", async () => {
    const r = await fledge(["plugins", "create", "wdemo", "--lang", "c", "-o", sb.root]);
    expect(r.code).toBe(0);
    const dir = join(sb.root, "wdemo");
    expect((await fledge(["plugins", "validate", dir])).code).toBe(0);
    // Installing a copy runs the generated build hook (clang, no shell) and validates the result.
    const inst = await fledge(["plugins", "install", dir, "--copy", "--yes", "--json"]);
    expect(inst.stderr).not.toContain("internal error");
    expect(inst.code).toBe(0);
    const wasm = readFileSync(join(sb.config, "plugins/wdemo/wdemo.wasm"));
    const mod = new WebAssembly.Module(wasm);
    const fledgeImports = WebAssembly.Module.imports(mod).filter((i) => i.module === "fledge");
    expect(fledgeImports.map((i) => i.name).sort()).toEqual(["recv", "send"]);

    // Run it against a minimal host: WASI calls succeed with nothing, proc_exit stops.
    const sent: string[] = [];
    let memory: WebAssembly.Memory | undefined;
    const wasi = new Proxy({}, { get: (_t, name) => (name === "proc_exit" ? (code: number) => { throw Object.assign(new Error("exit"), { code }); } : () => 0) });
    const inst2 = new WebAssembly.Instance(mod, {
      wasi_snapshot_preview1: wasi as Record<string, () => number>,
      fledge: {
        send: (ptr: number, len: number) => sent.push(Buffer.from(memory!.buffer, ptr, len).toString("utf8")),
        recv: () => 0,
      },
    });
    memory = inst2.exports.memory as WebAssembly.Memory;
    try {
      (inst2.exports._start as () => void)();
    } catch (e) {
      expect((e as { code?: number }).code).toBe(0);
    }
    expect(sent.map((s) => JSON.parse(s))).toEqual([{ type: "output", text: "Hello from wdemo! Try: fledge wdemo some words\n" }]);
    expect(existsSync(join(dir, "wdemo.wasm"))).toBe(false); // built in the copy, not in the source
  });
});
