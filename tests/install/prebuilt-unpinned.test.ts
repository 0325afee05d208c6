/**
 * Prebuilt release assets for installs without `@ref`: the release whose tag points at
 * the resolved commit, else the newest release that has the module (its source is
 * installed with it, so manifest and module match), else a build from source with a
 * message saying what to install or pin. A compile hook whose compiler is missing
 * gets a hint naming how to get it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { WASM_BYTES, pluginToml, readReg, runFledgeAsync, sandbox, writeTree } from "./helpers.ts";

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
  gh.requests.length = 0;
});
afterEach(() => sb.cleanup());

/** PATH with no compiler on it (fledge itself runs from process.execPath). */
function noCompilerPath(): string {
  const dir = join(sb.root, "empty-bin");
  mkdirSync(dir, { recursive: true });
  return dir;
}

const fledge = (args: string[]) => runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url, PATH: noCompilerPath() }, cwd: sb.root });

function cSource(dir: string, version: string): string {
  return writeTree(dir, { "plugin.toml": pluginToml({ name: "cwasm", version, hooks: { build: "clang --target=wasm32-wasi -o hello.wasm hello.c" } }), "hello.c": "int main(void){return 0;}\n" });
}

describe("install owner/repo without @ref", () => {
  test("the release tagged at the resolved commit supplies the module: no compiler needed", async () => {
    const full = `acme/same${++n}`;
    gh.addRepo(full, { dir: cSource(join(sb.root, "src"), "1.0.0"), tag: "v1.0.0", branch: "main" });
    gh.addRelease(full, "v1.0.0", { "hello.wasm": WASM_BYTES });
    const r = await fledge(["plugins", "install", full, "--yes"]);
    expect(r.stderr).toContain("using prebuilt hello.wasm from release v1.0.0");
    expect(r.code).toBe(0);
    const e = readReg(sb.config).plugins[0]!;
    expect(e.pinned_ref).toBeUndefined();
    expect(e.version).toBe("1.0.0");
  });

  test("the default branch moved past the latest release: that release (source and module) is installed, and it says so", async () => {
    const full = `acme/moved${++n}`;
    const tagged = gh.addRepo(full, { dir: cSource(join(sb.root, "v1"), "1.0.0"), tag: "v1.0.0" });
    gh.addRelease(full, "v1.0.0", { "hello.wasm": WASM_BYTES });
    gh.addCommit(full, { dir: cSource(join(sb.root, "v2"), "1.1.0-dev") });
    const r = await fledge(["plugins", "install", full, "--yes"]);
    expect(r.stderr).toContain("installing its latest release v1.0.0");
    expect(r.code).toBe(0);
    const e = readReg(sb.config).plugins[0]!;
    expect(e.version).toBe("1.0.0");
    expect(e.commit).toBe(tagged);
    expect(e.pinned_ref).toBeUndefined();
  });

  test("no release fits and the compiler is missing: names the compiler, how to get it, and what to pin", async () => {
    const full = `acme/none${++n}`;
    gh.addRepo(full, { dir: cSource(join(sb.root, "v1"), "1.0.0"), tag: "v0.9.0" });
    gh.addRelease(full, "v0.9.0", { "other.wasm": WASM_BYTES });
    gh.addCommit(full, { dir: cSource(join(sb.root, "v2"), "1.0.0") });
    const r = await fledge(["plugins", "install", full, "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("command not found: clang");
    expect(r.stderr).toContain("apt-get install clang");
    expect(r.stderr).toContain("latest release v0.9.0 has no hello.wasm");
    expect(r.stderr).toContain(`${full}@<tag>`);
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("--build skips release assets altogether", async () => {
    const full = `acme/build${++n}`;
    gh.addRepo(full, { dir: cSource(join(sb.root, "src"), "1.0.0"), tag: "v1.0.0", branch: "main" });
    gh.addRelease(full, "v1.0.0", { "hello.wasm": WASM_BYTES });
    const r = await fledge(["plugins", "install", full, "--yes", "--build"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("command not found: clang");
    expect(gh.requests.filter((q) => q.url.includes("/releases/"))).toEqual([]);
  });
});
