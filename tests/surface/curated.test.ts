/**
 * `install --defaults`, `update --defaults` and `plugins recommend`, against the
 * loopback GitHub serving the three default repositories at their pinned tags.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PLUGINS, detectLanguage, recommend } from "../../src/install/index.ts";
import { MAIN } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { baseEnv, readReg, runFledgeAsync, sandbox, wasmPlugin } from "../install/helpers.ts";

setDefaultTimeout(120_000);
let gh: GithubServer;
let fixtures: ReturnType<typeof sandbox>;
let sb: ReturnType<typeof sandbox>;

beforeAll(async () => {
  gh = await startGithubServer();
  fixtures = sandbox();
  for (const spec of DEFAULT_PLUGINS) {
    const [full, tag] = spec.split("@") as [string, string];
    const repo = full.split("/")[1]!;
    const cmd = repo.replace("fledge-plugin-", "");
    // metrics is served later by the test that needs all three
    if (cmd === "metrics") continue;
    gh.addRepo(full, { dir: wasmPlugin(join(fixtures.root, repo), { name: cmd }), tag });
  }
  // a recommended plugin served on its default branch (recommend installs unpinned)
  gh.addRepo("CorvidLabs/fledge-plugin-todo", { dir: wasmPlugin(join(fixtures.root, "fledge-plugin-todo"), { name: "todo" }) });
});
afterAll(() => {
  gh.stop();
  fixtures.cleanup();
});
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const env = (): Record<string, string> => ({ ...sb.env, FLEDGE_GITHUB_API_URL: gh.url });

describe("install --defaults", () => {
  test("continues past a failure, prints the JSON envelope, then exits 1", async () => {
    const r = await runFledgeAsync(["plugins", "install", "--defaults", "--json"], { env: env() });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ schema_version: 1, action: "install", scope: "defaults", summary: { total: 3, installed: 2, failed: 1 } });
    expect(j.installed.map((x: { name: string }) => x.name)).toEqual(["fledge-plugin-github", "fledge-plugin-deps"]);
    expect(j.installed[0]).toMatchObject({ pinned_ref: "v0.4.0", trust_tier: "official", commands: ["github"] });
    expect(j.failed).toHaveLength(1);
    expect(j.failed[0].source).toBe("CorvidLabs/fledge-plugin-metrics@v0.2.1");
    expect(j.failed[0].error).toContain("not found");
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["fledge-plugin-github", "fledge-plugin-deps"]);
  });

  test("all three served: exit 0; then update --defaults reports each; text mode without plugins says so", async () => {
    const none = await runFledgeAsync(["plugins", "update", "--defaults"], { env: env() });
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("No default plugins are installed");
    const noneJson = await runFledgeAsync(["plugins", "update", "--defaults", "--json"], { env: env() });
    expect(JSON.parse(noneJson.stdout)).toMatchObject({ action: "update", scope: "defaults", results: [], summary: { total: 0 } });

    gh.addRepo("CorvidLabs/fledge-plugin-metrics", { dir: wasmPlugin(join(fixtures.root, "fledge-plugin-metrics"), { name: "metrics" }), tag: "v0.2.1" });
    const r = await runFledgeAsync(["plugins", "install", "--defaults"], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("3 of 3 default plugins installed.");
    // a plugin outside the default set is left alone by update --defaults
    const other = wasmPlugin(join(sb.root, "mine"), { name: "mine" });
    expect((await runFledgeAsync(["plugins", "install", other], { env: env() })).code).toBe(0);
    const u = await runFledgeAsync(["plugins", "update", "--defaults", "--json"], { env: env() });
    expect(u.code).toBe(0);
    const j = JSON.parse(u.stdout);
    expect(j).toMatchObject({ schema_version: 1, action: "update", scope: "defaults", summary: { total: 3 } });
    expect(j.results.map((x: { name: string }) => x.name).sort()).toEqual(["fledge-plugin-deps", "fledge-plugin-github", "fledge-plugin-metrics"]);
  });

  test("usage errors: --defaults with a source or --copy, neither given, update --defaults with a name", async () => {
    for (const args of [["plugins", "install", "--defaults", "a/b"], ["plugins", "install", "--defaults", "--copy"], ["plugins", "install"], ["plugins", "update", "--defaults", "x"]]) {
      const r = await runFledgeAsync(args, { env: env() });
      expect(r.code).toBe(2);
    }
    const r = await runFledgeAsync(["plugins", "install", "--json"], { env: env() });
    expect(JSON.parse(r.stdout).error.message).toContain("--defaults");
  });
});

describe("plugins recommend", () => {
  test("by language and files, leaving out installed plugins; JSON as the original", async () => {
    const proj = join(sb.root, "proj");
    mkdirSync(join(proj, ".github"), { recursive: true });
    writeFileSync(join(proj, "Cargo.toml"), "[package]\nname='x'\n");
    writeFileSync(join(proj, "Dockerfile"), "FROM scratch\n");
    const r = await runFledgeAsync(["plugins", "recommend", "--json"], { env: env(), cwd: proj });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(["action", "installed_count", "language", "recommendations", "schema_version"]);
    expect(j).toMatchObject({ action: "plugins_recommend", language: "rust", installed_count: 0 });
    const repos = j.recommendations.map((x: { repo: string }) => x.repo);
    expect(repos).toContain("CorvidLabs/fledge-plugin-bench");
    expect(repos).toContain("CorvidLabs/fledge-plugin-coverage");
    expect(repos).toContain("CorvidLabs/fledge-plugin-docker");
    expect(repos).toContain("CorvidLabs/fledge-plugin-github");
    for (const x of j.recommendations) expect(x.reason).toBeString();

    expect((await runFledgeAsync(["plugins", "install", "CorvidLabs/fledge-plugin-github@v0.4.0"], { env: env() })).code).toBe(0);
    const after = JSON.parse((await runFledgeAsync(["plugins", "recommend", "--json"], { env: env(), cwd: proj })).stdout);
    expect(after.installed_count).toBe(1);
    expect(after.recommendations.map((x: { repo: string }) => x.repo)).not.toContain("CorvidLabs/fledge-plugin-github");

    const text = await runFledgeAsync(["plugins", "recommend"], { env: env(), cwd: proj });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Project language: rust");
    expect(text.stdout).toContain("fledge plugins install CorvidLabs/");
  });

  test("language detection order and a generic project", () => {
    const dir = join(sb.root, "langs");
    const cases: [string, string][] = [["package.json", "node"], ["go.mod", "go"], ["pyproject.toml", "python"], ["Gemfile", "ruby"], ["build.gradle.kts", "java-gradle"], ["pom.xml", "java-maven"], ["Package.swift", "swift"]];
    for (const [file, lang] of cases) {
      const d = join(dir, lang);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, file), "");
      expect(detectLanguage(d)).toBe(lang as ReturnType<typeof detectLanguage>);
    }
    mkdirSync(join(dir, "none"));
    const g = recommend(join(dir, "none"), []);
    expect(g.language).toBe("generic");
    expect(g.recommendations.map((r) => r.repo)).not.toContain("CorvidLabs/fledge-plugin-bench");
  });
});

describe.skipIf(!SCRIPT)("plugins recommend on a terminal", () => {
  const sh = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
  async function onPty(answer: string): Promise<{ code: number; screen: string }> {
    const proj = join(sb.root, "proj");
    mkdirSync(proj, { recursive: true });
    const cmd = `${[process.execPath, MAIN, "plugins", "recommend"].map(sh).join(" ")}; echo "EXIT=$?"`;
    const { screen } = await answerOnPty(cmd, { env: baseEnv(env()), cwd: proj, question: "recommended plugins? [y/N]", answer });
    const m = /EXIT=(\d+)/.exec(screen);
    return { code: m ? Number(m[1]) : -1, screen };
  }

  test("asks once; No installs nothing", async () => {
    const r = await onPty("n\r");
    expect(r.screen).toContain("Install all 6 recommended plugins?");
    expect(r.code).toBe(0);
    expect(r.screen).toContain("Nothing installed.");
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("yes installs each through the ordinary install; the ones that cannot be installed fail the command", async () => {
    const r = await onPty("y\r");
    expect(r.code).toBe(1);
    // only todo is served on a default branch; the others fail and the rest still run
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["fledge-plugin-todo"]);
    expect(r.screen).toContain("Installed fledge-plugin-todo");
    expect(r.screen).toContain("5 of 6 recommended plugin(s) failed to install");
  });
});
