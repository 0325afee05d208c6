/**
 * `install X -y` on an installed plugin reinstalls it, as the original's scripts
 * expect, but inside our rules: -y never approves native code (that is --trust-native
 * or a typed yes), never replaces a plugin whose name merely folds to this one, and
 * fails closed without a terminal. `search -i` picks one result on a real terminal
 * and installs it through the ordinary install; without a terminal it refuses.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { feedChoice } from "../../src/ui/index.ts";
import { MAIN } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { baseEnv, nativePlugin, readReg, runFledgeAsync, sandbox, wasmPlugin } from "../install/helpers.ts";

setDefaultTimeout(90_000);
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe("install X -y on an installed plugin", () => {
  test("reinstalls it (as --force), asking nothing more than -y may approve", async () => {
    const p = wasmPlugin(join(sb.root, "w"), { name: "w", caps: { store: true } });
    expect((await runFledgeAsync(["plugins", "install", p, "-y"], { env: sb.env })).code).toBe(0);
    const before = readReg(sb.config).plugins;
    const again = await runFledgeAsync(["plugins", "install", p, "-y", "--json"], { env: sb.env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ action: "install", scope: "single", summary: { installed: 1 } });
    expect(readReg(sb.config).plugins.map((x) => x.name)).toEqual(before.map((x) => x.name));
    // without -y (or --force) it is still refused
    const plain = await runFledgeAsync(["plugins", "install", p], { env: sb.env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("already installed");
  });

  test("a native plugin: -y alone fails closed without a terminal, and the installed one stays", async () => {
    const p = nativePlugin(join(sb.root, "n"), { name: "nat" });
    expect((await runFledgeAsync(["plugins", "install", p, "--trust-native", "-y"], { env: sb.env })).code).toBe(0);
    const entry = readReg(sb.config).plugins[0]!;
    const r = await runFledgeAsync(["plugins", "install", p, "-y"], { env: sb.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--trust-native");
    expect(readReg(sb.config).plugins).toEqual([entry]);
    expect((await runFledgeAsync(["plugins", "install", p, "-y", "--trust-native"], { env: sb.env })).code).toBe(0);
  });

  test("-y never replaces a plugin whose name only folds to this one (that takes --force)", async () => {
    expect((await runFledgeAsync(["plugins", "install", wasmPlugin(join(sb.root, "a"), { name: "foo", commands: [{ name: "foo1", binary: "hello.wasm" }] }), "-y"], { env: sb.env })).code).toBe(0);
    const r = await runFledgeAsync(["plugins", "install", wasmPlugin(join(sb.root, "b"), { name: "FOO", commands: [{ name: "foo2", binary: "hello.wasm" }] }), "-y"], { env: sb.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("differ only in case");
    expect(readReg(sb.config).plugins.map((x) => x.name)).toEqual(["foo"]);
  });
});

describe("search -i", () => {
  let gh: GithubServer;
  let fx: ReturnType<typeof sandbox>;
  beforeAll(async () => {
    gh = await startGithubServer();
    fx = sandbox();
    gh.addRepo("someone/fledge-plugin-alpha", { dir: wasmPlugin(join(fx.root, "alpha"), { name: "alpha" }), stars: 9, description: "first" });
    gh.addRepo("someone/fledge-plugin-beta", { dir: wasmPlugin(join(fx.root, "beta"), { name: "beta" }), stars: 3, description: "second" });
  });
  afterAll(() => {
    gh.stop();
    fx.cleanup();
  });

  test("without a terminal it refuses before searching; --json wins over -i", async () => {
    const n = gh.requests.length;
    const r = await runFledgeAsync(["plugins", "search", "-i"], { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("needs a terminal");
    expect(gh.requests.length).toBe(n);
    const j = await runFledgeAsync(["plugins", "search", "-i", "--json"], { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url } });
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).results).toHaveLength(2);
  });

  const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  async function pick(keys: string): Promise<{ code: number; screen: string }> {
    const cmd = `${[process.execPath, MAIN, "plugins", "search", "-i"].map(sh).join(" ")}; echo "EXIT=$?"`;
    const { screen } = await answerOnPty(cmd, { env: baseEnv({ ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }), cwd: sb.root, question: "Plugin number?", answer: keys });
    const m = /EXIT=(\d+)/.exec(screen);
    return { code: m ? Number(m[1]) : -1, screen };
  }

  test.skipIf(!SCRIPT)("on a terminal: typing 2 + Enter installs the second result", async () => {
    const r = await pick("2\r");
    expect(r.screen).toContain("someone/fledge-plugin-alpha");
    expect(r.code).toBe(0);
    expect(r.screen).toContain("Installed fledge-plugin-beta");
    expect(readReg(sb.config).plugins.map((x) => x.name)).toEqual(["fledge-plugin-beta"]);
  });

  test.skipIf(!SCRIPT)("Esc cancels and installs nothing; Ctrl+C exits 130", async () => {
    const r = await pick("\u001b");
    expect(r.code).toBe(0);
    expect(r.screen).toContain("Cancelled.");
    expect(readReg(sb.config).plugins).toEqual([]);
    const c = await pick("\u0003");
    expect(c.code).toBe(130);
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("the key rules: a number in range then Enter picks; anything else cancels", () => {
    const run = (keys: string, count = 3) => feedChoice({ line: "" }, keys, count);
    expect(run("2\r")).toEqual({ picked: 1 });
    expect(run("12\r", 12)).toEqual({ picked: 11 });
    expect(run("4\r")).toBe("cancelled");
    expect(run("0\r")).toBe("cancelled");
    expect(run("\r")).toBe("cancelled");
    expect(run("y\r")).toBe("cancelled");
    expect(run("1\u001b")).toBe("cancelled");
    expect(run("1\u0003")).toBe("interrupted");
    expect(run("3\u007f1\r")).toEqual({ picked: 0 });
    expect(run("1")).toBeUndefined();
  });
});
