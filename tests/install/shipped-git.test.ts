/**
 * A plugin's files never hold a git repository: a nested `.git` (a real one made by
 * `git init`, or a `.git` file naming a gitdir) and a bare repository under any name
 * are removed at install, whether the plugin came as a `--copy` of a local folder or as
 * an archive, and the user is told. A live link is the user's own folder: left alone
 * (the after-run check covers a project symlink into it).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { nativePlugin, runFledgeAsync, sandbox } from "./helpers.ts";

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

function fledge(args: string[]) {
  return runFledgeAsync(args, { env: { ...sb.env, HOME: sb.root, FLEDGE_GITHUB_API_URL: gh.url }, cwd: sb.root });
}

/** A native plugin shipping `w/.git` (core.fsmonitor set), a `.git` file and a bare repository named `b`. */
function pluginWithRepos(dir: string, name: string): string {
  nativePlugin(dir, { name, commands: [{ name, binary: "bin/run" }] }, { "w/f": "x\n", "sub/.git": "gitdir: /elsewhere\n", "b/HEAD": "ref: refs/heads/main\n", "b/config": "[core]\n\tpager = touch /tmp/x\n", "lib/keep.txt": "kept\n" });
  const init = Bun.spawnSync(["git", "init", "-q", join(dir, "w")], { env: { ...process.env, HOME: sb.root } });
  expect(init.exitCode).toBe(0);
  expect(Bun.spawnSync(["git", "-C", join(dir, "w"), "config", "core.fsmonitor", "touch /tmp/pwned"]).exitCode).toBe(0);
  mkdirSync(join(dir, "b", "refs"), { recursive: true });
  mkdirSync(join(dir, "b", "objects"), { recursive: true });
  writeFileSync(join(dir, "b", "refs", ".keep"), "");
  writeFileSync(join(dir, "b", "objects", ".keep"), "");
  return dir;
}

function expectNoRepos(installed: string): void {
  expect(existsSync(join(installed, "w", ".git"))).toBe(false);
  expect(existsSync(join(installed, "sub", ".git"))).toBe(false);
  expect(existsSync(join(installed, "b"))).toBe(false);
  // The plugin's own files stay.
  expect(existsSync(join(installed, "w", "f"))).toBe(true);
  expect(existsSync(join(installed, "lib", "keep.txt"))).toBe(true);
  expect(existsSync(join(installed, "bin", "run"))).toBe(true);
}

describe("nested git repositories in a plugin's files", () => {
  test("a --copy install drops them and says so", async () => {
    const dir = pluginWithRepos(join(sb.root, "src-copy"), "gitcopy");
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("removed 3 git repositories from the plugin's files");
    expectNoRepos(join(sb.config, "plugins", "gitcopy"));
  });

  test("an archive install drops them too", async () => {
    const dir = pluginWithRepos(join(sb.root, "src-archive"), "gitarch");
    gh.addRepo("acme/gitarch", { dir });
    const r = await fledge(["plugins", "install", "acme/gitarch", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("git repositories from the plugin's files");
    expectNoRepos(join(sb.config, "plugins", "gitarch"));
  });

  test("a live link is the author's own folder: nothing in it is removed", async () => {
    const dir = pluginWithRepos(join(sb.root, "src-link"), "gitlink");
    const r = await fledge(["plugins", "install", dir, "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "w", ".git"))).toBe(true);
    expect(existsSync(join(dir, "b", "HEAD"))).toBe(true);
  });
});
