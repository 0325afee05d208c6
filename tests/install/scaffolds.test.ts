/**
 * `fledge plugins create` as an author uses it: each wasm scaffold is built with the
 * command its own build hook runs, passes `validate --strict`, installs, and runs
 * with arguments. Then the C one is turned into a network plugin that talks to a real
 * loopback server: allowed for the listed host, refused for another host and for a
 * redirect to another, refused at install from an unverified source, and refused to
 * start without the network grant. Skips with one line when a toolchain is missing.
 */
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { hookArgv } from "../../src/install/hooks.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { startHttpServer, type TestHttpServer } from "../helpers/http-server.ts";
import { clangWasm, rustWasm, skipLine } from "../helpers/toolchains.ts";
import { baseEnv, runFledgeAsync, sandbox } from "./helpers.ts";

setDefaultTimeout(600_000);

const HAVE_CLANG = clangWasm();
const HAVE_RUST = rustWasm() !== null;
if (!HAVE_CLANG) skipLine("the C scaffold tests", "no clang with wasm32-wasi and wasi-libc (run scripts/setup.sh)");
if (!HAVE_RUST) skipLine("the Rust scaffold tests", "no Rust with a wasm32-wasip1/wasm32-wasi standard library (run scripts/setup.sh: rustc cargo libstd-rust-dev-wasm32)");

let sb: ReturnType<typeof sandbox>;
let srv: TestHttpServer;
let gh: GithubServer;
beforeAll(async () => {
  srv = await startHttpServer();
  gh = await startGithubServer();
});
afterAll(() => {
  srv.stop();
  gh.stop();
});
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[], cwd = sb.root) => runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }, cwd, timeoutMs: 300_000 });

/** Run the plugin's build hook exactly as fledge would split it, in the plugin folder. */
function runBuildHook(dir: string): void {
  const doc = parse(readFileSync(join(dir, "plugin.toml"), "utf8")) as { hooks?: { build?: string } };
  const argv = hookArgv(doc.hooks?.build ?? "", dir);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, env: baseEnv(), encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`build hook failed (${r.status}): ${r.stderr}`);
}

async function createBuildValidate(name: string, flags: string[]): Promise<string> {
  const r = await fledge(["plugins", "create", name, ...flags, "-o", sb.root]);
  expect(r.code).toBe(0);
  const dir = join(sb.root, name);
  runBuildHook(dir);
  expect(existsSync(join(dir, `${name}.wasm`))).toBe(true);
  const v = await fledge(["plugins", "validate", "--strict", dir]);
  expect(v.stderr + v.stdout).not.toContain("warning");
  expect(v.code).toBe(0);
  return dir;
}

async function installAndRun(dir: string, name: string): Promise<void> {
  const inst = await fledge(["plugins", "install", dir, "--yes"]);
  expect(inst.code).toBe(0);
  const none = await fledge([name]);
  expect(none.stdout).toBe(`Hello from ${name}! Try: fledge ${name} some words\n`);
  const some = await fledge([name, "one", "two words", "ü 😀", '"quoted"']);
  expect(some.code).toBe(0);
  expect(some.stdout).toBe(`Hello from ${name}! Arguments: one two words ü 😀 "quoted"\n`);
}

describe.skipIf(!HAVE_CLANG)("C scaffold (--lang c)", () => {
  test("builds with its hook, validates strictly, installs, and prints its arguments", async () => {
    const dir = await createBuildValidate("chi", ["--lang", "c"]);
    await installAndRun(dir, "chi");
  });

  const NET_MAIN = `#include "fledge.h"
int main(void) {
  fledge_init();
  for (int i = 0; i < fledge_argc; i++) {
    char *reply = fledge_http("GET", fledge_argv[i], NULL, NULL);
    char *err = fledge_json_string(reply, "error");
    if (err) {
      fledge_outputf("error: %s\\n", err);
    } else {
      char *body = fledge_json_string(reply, "body");
      fledge_outputf("%d %s\\n", (int)fledge_json_number(reply, "status", 0), body ? body : "");
      free(body);
    }
    free(err);
    free(reply);
  }
  return 0;
}
`;

  // The three network plugins share one source: its build hook runs once (the first
  // test checks it builds), the others get the same module under their own name.
  let netWasm: Buffer | undefined;
  function buildNet(dir: string, name: string): void {
    if (netWasm) return writeFileSync(join(dir, `${name}.wasm`), netWasm);
    runBuildHook(dir);
    netWasm = readFileSync(join(dir, `${name}.wasm`));
  }

  async function netPlugin(name: string, capabilities: string): Promise<string> {
    const r = await fledge(["plugins", "create", name, "--lang", "c", "-o", sb.root]);
    expect(r.code).toBe(0);
    const dir = join(sb.root, name);
    writeFileSync(join(dir, "src/main.c"), NET_MAIN);
    const toml = readFileSync(join(dir, "plugin.toml"), "utf8");
    writeFileSync(join(dir, "plugin.toml"), toml.slice(0, toml.indexOf("[capabilities]")) + capabilities);
    return dir;
  }

  test("network: the listed host answers; another host and a redirect to another are refused", async () => {
    const dir = await netPlugin("cnet", `[capabilities]\nnetwork = true\nhosts = ["127.0.0.1:${srv.port}"]\n`);
    buildNet(dir, "cnet");
    expect((await fledge(["plugins", "validate", "--strict", dir])).code).toBe(0);
    const inst = await fledge(["plugins", "install", dir, "--yes"]);
    expect(inst.code).toBe(0);
    expect(inst.stderr).toContain(`HTTP(S) to 127.0.0.1:${srv.port}`); // shown at consent
    const list = await fledge(["plugins", "list"]);
    expect(list.stdout).toContain(`network hosts: 127.0.0.1:${srv.port}`);
    const audit = await fledge(["plugins", "audit", "--json"]);
    expect(audit.stdout).toContain(`127.0.0.1:${srv.port}`);

    const run = await fledge(["cnet", srv.url("/hello"), `http://127.0.0.1:1/`, srv.url(`/redirect?to=${encodeURIComponent("http://127.0.0.2:" + srv.port + "/hello")}`), `http://localhost:${srv.port}/hello`]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("200 hello from loopback");
    expect(lines[1]).toStartWith("error: refused: host 127.0.0.1:1 is not in the plugin's [capabilities] hosts");
    expect(lines[2]).toStartWith(`error: refused: host 127.0.0.2:${srv.port} is not in the plugin's [capabilities] hosts`);
    expect(lines[3]).toStartWith(`error: refused: host localhost:${srv.port} is not in`);
  });

  test("network: refused at install from an unverified source", async () => {
    const dir = await netPlugin("cnetu", `[capabilities]\nnetwork = true\nhosts = ["127.0.0.1:${srv.port}"]\n`);
    buildNet(dir, "cnetu");
    gh.addRepo("stranger/cnetu", { dir });
    const r = await fledge(["plugins", "install", "stranger/cnetu", "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unverified source may not be granted network");
    expect((await fledge(["plugins", "list", "--json"])).stdout).not.toContain("cnetu");
  });

  test("network: a plugin without the grant is refused before it runs", async () => {
    const dir = await netPlugin("cnetn", `[capabilities]\nnetwork = false\n`);
    buildNet(dir, "cnetn");
    expect((await fledge(["plugins", "install", dir, "--yes"])).code).toBe(0);
    const run = await fledge(["cnetn", srv.url("/hello")]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("capabilities not granted: network");
  });
});

describe.skipIf(!HAVE_RUST)("Rust scaffold (--wasm)", () => {
  test("builds with its hook (whichever WASI target the Rust has), validates strictly, installs, and prints its arguments", async () => {
    const dir = await createBuildValidate("rhi", ["--wasm"]);
    expect(readFileSync(join(dir, "Cargo.toml"), "utf8")).toContain('fledge-plugin-sdk = { path = "fledge-plugin-sdk" }');
    await installAndRun(dir, "rhi");
  });
});
