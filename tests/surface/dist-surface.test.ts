/**
 * The command surface of issue 12 through the compiled binary (what users run):
 * --ni, --json before the sub-command, FLEDGE_NON_INTERACTIVE=y, fledge-<cmd> from
 * PATH, install/update --defaults and install -y against the loopback GitHub,
 * recommend, create -y, search -i without a terminal, publish to a bare git remote,
 * and the git pre-push hook written by `hooks install` calling the binary back.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PLUGINS } from "../../src/install/index.ts";
import { ROOT, tempDir, type RunResult } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { baseEnv, wasmPlugin } from "../install/helpers.ts";

setDefaultTimeout(120_000);
const out = tempDir("fledge-dist-surface-");
const bin = join(out.path, "fledge");
const work = join(out.path, "work");
const config = join(out.path, "config");
let gh: GithubServer;

beforeAll(async () => {
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build.ts"), bin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  mkdirSync(work, { recursive: true });
  gh = await startGithubServer();
  gh.remoteRoot = join(out.path, "remotes");
  for (const spec of DEFAULT_PLUGINS) {
    const [full, tag] = spec.split("@") as [string, string];
    const repo = full.split("/")[1]!;
    gh.addRepo(full, { dir: wasmPlugin(join(out.path, "fx", repo), { name: repo.replace("fledge-plugin-", "") }), tag });
  }
}, 300_000);

afterAll(() => {
  gh?.stop();
  out.cleanup();
});

const env = (extra: Record<string, string> = {}): Record<string, string> => baseEnv({ FLEDGE_CONFIG_DIR: config, FLEDGE_GITHUB_API_URL: gh.url, GIT_CONFIG_GLOBAL: "/dev/null", ...extra });

async function fledge(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn([bin, ...args], { env: opts.env ?? env(), cwd: opts.cwd ?? work, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

function git(cwd: string, ...args: string[]): number {
  return spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@e", ...args], { cwd, env: env(), stdio: "ignore" }).status ?? -1;
}

describe("compiled binary: issue 12 surface", () => {
  test("flags: --ni, plugins --json list, FLEDGE_NON_INTERACTIVE=y, create -y, search -i refuses without a terminal", async () => {
    expect((await fledge(["--ni", "plugins", "list"])).code).toBe(0);
    expect(JSON.parse((await fledge(["plugins", "--json", "list"])).stdout)).toEqual({ schema_version: 1, plugins: [] });
    const c = await fledge(["plugins", "create", "made", "-y", "-o", work, "--json"], { env: env({ FLEDGE_NON_INTERACTIVE: " Y " }) });
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout).action).toBe("create");
    const s = await fledge(["plugins", "search", "-i"]);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("needs a terminal");
  });

  test("fledge-<cmd> on PATH runs, flagged unconfined; fledge-plugins never takes over", async () => {
    const pathBin = join(out.path, "pathbin");
    mkdirSync(pathBin, { recursive: true });
    writeFileSync(join(pathBin, "fledge-hi"), "#!/bin/sh\necho \"hi $1\"\nexit 4\n", { mode: 0o755 });
    writeFileSync(join(pathBin, "fledge-plugins"), "#!/bin/sh\necho hijacked\n", { mode: 0o755 });
    const e = env({ PATH: `${pathBin}:${process.env.PATH}` });
    const r = await fledge(["hi", "there"], { env: e });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("hi there\n");
    expect(r.stderr).toContain("unconfined");
    const p = await fledge(["plugins", "list"], { env: e });
    expect(p.stdout).not.toContain("hijacked");
  });

  test("install --defaults, install -y again (reinstall), update --defaults, recommend", async () => {
    const d = await fledge(["plugins", "install", "--defaults", "--json"]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ action: "install", scope: "defaults", summary: { total: 3, installed: 3, failed: 0 } });
    const again = await fledge(["plugins", "install", "CorvidLabs/fledge-plugin-deps@v0.2.0", "-y", "--json"]);
    expect(again.code).toBe(0);
    const u = await fledge(["plugins", "update", "--defaults", "--json"]);
    expect(u.code).toBe(0);
    expect(JSON.parse(u.stdout)).toMatchObject({ action: "update", scope: "defaults", summary: { total: 3 } });
    const proj = join(work, "goproj");
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, "go.mod"), "module x\n");
    const rec = JSON.parse((await fledge(["plugins", "recommend", "--json"], { cwd: proj })).stdout);
    expect(rec).toMatchObject({ action: "plugins_recommend", language: "go", installed_count: 3 });
    expect(rec.recommendations.map((x: { repo: string }) => x.repo)).not.toContain("CorvidLabs/fledge-plugin-deps");
  });

  test("publish to the loopback GitHub and a bare remote; hooks install makes git push call the binary's hooks run", async () => {
    const name = "dist-pub";
    // The hook records that it ran in a folder outside its own: a confined hook may write there only when it asks.
    const gate = join(out.path, "gate");
    mkdirSync(gate, { recursive: true });
    const plugin = wasmPlugin(join(work, name), { name, hooks: { pre_push: "bin/gate" }, confinement: { write: [gate] } }, { "bin/gate": { data: `#!/bin/sh\necho "$FLEDGE_REPO_ROOT" > '${gate}/gate-ran'\nexit 0\n`, mode: 0o755 } });
    const pub = await fledge(["plugins", "publish", plugin, "--yes", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: "ghp_dist000000000000000000000000000" }) });
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.stdout).repo).toMatchObject({ owner: "tester", name, created: true });
    expect(gh.topicsSet.get(`tester/${name}`)).toContain("fledge-plugin");

    expect((await fledge(["plugins", "install", plugin, "-y"])).code).toBe(0);
    const repo = join(work, "proj");
    mkdirSync(repo, { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "f"), "x\n");
    git(repo, "add", "f");
    git(repo, "commit", "-qm", "c");
    const bare = join(out.path, "proj.git");
    spawnSync("git", ["init", "-q", "--bare", bare]);
    git(repo, "remote", "add", "origin", bare);
    const hi = await fledge(["hooks", "install", "--yes"], { cwd: repo });
    expect(hi.code).toBe(0);
    const hook = readFileSync(join(repo, ".git", "hooks", "pre-push"), "utf8");
    expect(hook).toContain(`exec '${bin}' hooks run pre-push`);
    expect(git(repo, "push", "-q", "origin", "main")).toBe(0);
    expect(existsSync(join(gate, "gate-ran"))).toBe(true);
  });
});
