/**
 * `fledge plugins publish` against the loopback GitHub server and a real bare git
 * remote, and the `gh auth token` fallback (a fake `gh` on PATH). The token must reach
 * only the API origin, never stdout/stderr, never a file under the config dir or the
 * plugin's git config.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { publishRemote } from "../../src/install/publish.ts";
import { ghAuthToken } from "../../src/registry/config.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { runFledgeAsync, sandbox, wasmPlugin } from "../install/helpers.ts";

setDefaultTimeout(90_000);
// Pushes go to the loopback server's git endpoint, which runs in this process: fledge
// must be a child process (spawn: true) so its synchronous git does not block the server.
let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
const TOKEN = "ghp_publishTestToken0000000000001";
const GH_TOKEN_VALUE = "gho_fromTheGhCli000000000000000002";

beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
  gh.remoteRoot = join(sb.root, "remotes");
  gh.created.length = 0;
  gh.cloneUrl = undefined;
  gh.requests.length = 0;
});
afterEach(() => sb.cleanup());

let counter = 0;
function freshPlugin(): { dir: string; name: string } {
  const name = `pub-${process.pid}-${++counter}`;
  return { dir: wasmPlugin(join(sb.root, name), { name }), name };
}

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...sb.env, FLEDGE_GITHUB_API_URL: gh.url, GIT_CONFIG_GLOBAL: "/dev/null", ...extra });

function bareLog(owner: string, name: string): string {
  const r = spawnSync("git", ["--git-dir", join(gh.remoteRoot!, owner, `${name}.git`), "log", "--format=%s", "main"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : `(git log failed: ${r.stderr})`;
}

function bareFiles(owner: string, name: string): string[] {
  const r = spawnSync("git", ["--git-dir", join(gh.remoteRoot!, owner, `${name}.git`), "ls-tree", "-r", "--name-only", "main"], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean);
}

/** Every file under `dir` that contains `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

function fakeGh(): string {
  const bin = join(sb.root, "ghbin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "gh"), `#!/bin/sh\nif [ "$1" = auth ] && [ "$2" = token ]; then echo '${GH_TOKEN_VALUE}'; exit 0; fi\nexit 1\n`, { mode: 0o755 });
  return `${bin}:${process.env.PATH}`;
}

describe("plugins publish", () => {
  test("creates the repository, adds the fledge-plugin topic, pushes a first commit; JSON has the original's keys", async () => {
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "publish", p.dir, "--yes", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(["action", "cancelled", "install_hint", "plugin", "repo", "schema_version", "topic"]);
    expect(j).toMatchObject({ schema_version: 1, action: "publish", cancelled: false, topic: "fledge-plugin", install_hint: `fledge plugins install tester/${p.name}` });
    expect(j.repo).toEqual({ owner: "tester", name: p.name, url: `${gh.url}/tester/${p.name}`, created: true, private: false });
    expect(j.plugin).toEqual({ name: p.name, version: "1.0.0", description: "test plugin" });
    expect(gh.created).toEqual([{ fullName: `tester/${p.name}`, private: false, description: "test plugin", org: null }]);
    expect(gh.topicsSet.get(`tester/${p.name}`)).toContain("fledge-plugin");
    expect(bareLog("tester", p.name)).toContain(`Initial commit of the ${p.name} fledge plugin`);
    expect(bareFiles("tester", p.name)).toEqual(["hello.wasm", "plugin.toml"]);
    // The token went to the API only, in the header; never printed or stored.
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    for (const req of gh.requests) if (req.headers.authorization) expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(filesContaining(sb.root, TOKEN)).toEqual([]);
    // search now finds it
    const s = await runFledgeAsync(["plugins", "search", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(JSON.parse(s.stdout).results.map((x: { full_name: string }) => x.full_name)).toContain(`tester/${p.name}`);
  });

  test("--org and --private create under the organization; a second publish pushes to the existing repository", async () => {
    const p = freshPlugin();
    const first = await runFledgeAsync(["plugins", "publish", p.dir, "--org", "acme", "--private", "-y", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).repo).toMatchObject({ owner: "acme", created: true, private: true });
    expect(gh.created[0]).toMatchObject({ fullName: `acme/${p.name}`, private: true, org: "acme" });
    writeFileSync(join(p.dir, "README.md"), "more\n");
    spawnSync("git", ["-C", p.dir, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "x"]);
    spawnSync("git", ["-C", p.dir, "add", "README.md"]);
    spawnSync("git", ["-C", p.dir, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "add readme"]);
    const again = await runFledgeAsync(["plugins", "publish", p.dir, "--org", "acme", "-y", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).repo).toMatchObject({ owner: "acme", created: false });
    expect(gh.created.length).toBe(1);
    expect(bareLog("acme", p.name).split("\n")[0]).toBe("add readme");
  });

  test("without a terminal and without --yes: refused, nothing created or pushed", async () => {
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "publish", p.dir, "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("consent_required");
    expect(gh.created).toEqual([]);
  });

  test("an invalid plugin is not published", async () => {
    const dir = join(sb.root, "bad");
    mkdirSync(dir);
    writeFileSync(join(dir, "plugin.toml"), "[plugin]\nname = \"\"\n");
    const r = await runFledgeAsync(["plugins", "publish", dir, "--yes"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not validate");
    expect(gh.created).toEqual([]);
  });

  test("no token anywhere: a clear error naming gh auth login", async () => {
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "publish", p.dir, "--yes"], { env: env({ PATH: "/usr/bin:/bin" }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("needs a GitHub token");
    expect(r.stderr).toContain("gh auth login");
  });

  test("the push goes to <owner>/<name>.git on the API's web host, never to a URL from the server", () => {
    expect(publishRemote({}, "a", "b")).toEqual({ push: "https://github.com/a/b.git", web: "https://github.com/a/b" });
    expect(publishRemote({ FLEDGE_GITHUB_API_URL: "https://ghe.example.com/api/v3" }, "a", "b").push).toBe("https://ghe.example.com/a/b.git");
    expect(publishRemote({ FLEDGE_GITHUB_API_URL: "http://127.0.0.1:8080" }, "a", "b").push).toBe("http://127.0.0.1:8080/a/b.git");
  });

  test("a hostile server's clone_url (a local repository with a pre-receive hook) is never pushed to", async () => {
    // The attack: a plugin installed earlier ships a bare repository whose hook runs as
    // the user; the server names it as the clone URL.
    const trap = join(sb.root, "trap.git");
    spawnSync("git", ["init", "-q", "--bare", trap]);
    const proof = join(sb.root, "hook-ran");
    writeFileSync(join(trap, "hooks", "pre-receive"), `#!/bin/sh
touch '${proof}'
`, { mode: 0o755 });
    for (const hostile of [`file://${trap}`, trap, `http://127.0.0.1:1/${"x"}.git`, "ext::sh -c touch% /tmp/pwned"]) {
      gh.cloneUrl = hostile;
      const p = freshPlugin();
      const r = await runFledgeAsync(["plugins", "publish", p.dir, "--yes", "--json"], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).repo.url).toBe(`${gh.url}/tester/${p.name}`);
      expect(bareLog("tester", p.name)).toContain(`Initial commit of the ${p.name} fledge plugin`);
      const origin = spawnSync("git", ["-C", p.dir, "remote", "get-url", "origin"], { encoding: "utf8" }).stdout.trim();
      expect(origin).toBe(`${gh.url}/tester/${p.name}.git`);
    }
    expect(statSync(proof, { throwIfNoEntry: false })).toBeUndefined();
  });

  test("the confirmation names where the commit is pushed", async () => {
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "publish", p.dir], { env: env({ FLEDGE_GITHUB_TOKEN: TOKEN }), spawn: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`to ${gh.url}/tester/${p.name}.git`);
  });
});

describe("token fallback to gh auth token", () => {
  test("publish uses gh's token when nothing else is set; never printed or stored", async () => {
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "publish", p.dir, "--yes", "--json"], { env: env({ PATH: fakeGh() }), spawn: true });
    expect(r.code).toBe(0);
    const authed = gh.requests.filter((q) => q.headers.authorization);
    expect(authed.length).toBeGreaterThan(0);
    for (const q of authed) expect(q.headers.authorization).toBe(`Bearer ${GH_TOKEN_VALUE}`);
    expect(r.stdout + r.stderr).not.toContain(GH_TOKEN_VALUE);
    expect(filesContaining(sb.root, GH_TOKEN_VALUE).filter((f) => !f.endsWith("/ghbin/gh"))).toEqual([]);
  });

  test("search sends gh's token to the API; an env token wins over gh", async () => {
    const s = await runFledgeAsync(["plugins", "search", "--json"], { env: env({ PATH: fakeGh() }), spawn: true });
    expect(s.code).toBe(0);
    expect(gh.requests.at(-1)!.headers.authorization).toBe(`Bearer ${GH_TOKEN_VALUE}`);
    const s2 = await runFledgeAsync(["plugins", "search", "--json"], { env: env({ PATH: fakeGh(), GITHUB_TOKEN: TOKEN }) });
    expect(s2.code).toBe(0);
    expect(gh.requests.at(-1)!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  test("a local install never runs gh (the token is only for the GitHub API)", async () => {
    const bin = join(sb.root, "ghbin2");
    mkdirSync(bin, { recursive: true });
    const marker = join(sb.root, "gh-ran");
    writeFileSync(join(bin, "gh"), `#!/bin/sh\ntouch '${marker}'\necho tok\n`, { mode: 0o755 });
    const p = freshPlugin();
    const r = await runFledgeAsync(["plugins", "install", p.dir], { env: env({ PATH: `${bin}:${process.env.PATH}` }) });
    expect(r.code).toBe(0);
    expect(statSync(marker, { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe("ghAuthToken (attacker's view)", () => {
  let dir: ReturnType<typeof sandbox>;
  beforeEach(() => {
    dir = sandbox();
  });
  afterEach(() => dir.cleanup());
  const gh = (sub: string, body: string): string => {
    const d = join(dir.root, sub);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "gh"), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return d;
  };

  test("a gh in a relative or empty PATH entry is never run", () => {
    gh("rel", "echo planted");
    const marker = join(dir.root, "ran");
    gh("", `touch '${marker}'; echo planted`);
    const cwd = process.cwd();
    process.chdir(dir.root);
    try {
      expect(ghAuthToken({ PATH: "rel:/usr/bin:/bin" })).toBeUndefined();
      expect(ghAuthToken({ PATH: ":/usr/bin/nonexistent" })).toBeUndefined();
    } finally {
      process.chdir(cwd);
    }
    expect(statSync(marker, { throwIfNoEntry: false })).toBeUndefined();
  });

  test("gh is asked for the token of the API's own host only (github.com's token never goes to another API)", async () => {
    const argsFile = join(dir.root, "args");
    const d = gh("log", `echo "$@" >> '${argsFile}'; [ "$4" = github.com ] && echo gho_COM && exit 0; exit 1`);
    expect(ghAuthToken({ PATH: d })).toBe("gho_COM");
    expect(ghAuthToken({ PATH: d }, "127.0.0.1:9")).toBeUndefined();
    expect(ghAuthToken({ PATH: d }, "evil host")).toBeUndefined();
    expect(readFileSync(argsFile, "utf8")).toBe("auth token --hostname github.com\nauth token --hostname 127.0.0.1:9\n");
    // Through the CLI: a search against a non-GitHub API asks gh for that host only.
    const srv = await startGithubServer();
    try {
      writeFileSync(argsFile, "");
      const r = await runFledgeAsync(["plugins", "search", "--json"], { env: { ...dir.env, PATH: `${d}:${process.env.PATH}`, FLEDGE_GITHUB_API_URL: srv.url } });
      expect(r.code).toBe(0);
      expect(readFileSync(argsFile, "utf8")).toBe(`auth token --hostname ${new URL(srv.url).host}\n`);
      for (const q of srv.requests) expect(q.headers.authorization).toBeUndefined();
    } finally {
      srv.stop();
    }
  });

  test("only one printable token is taken: a failing, empty or odd gh gives none", () => {
    expect(ghAuthToken({ PATH: gh("ok", "echo '  gho_abc  '") })).toBe("gho_abc");
    expect(ghAuthToken({ PATH: gh("fail", "echo gho_x; exit 1") })).toBeUndefined();
    expect(ghAuthToken({ PATH: gh("empty", "true") })).toBeUndefined();
    expect(ghAuthToken({ PATH: gh("esc", "printf 'gho_\\033[2Jx\\n'") })).toBeUndefined();
    expect(ghAuthToken({ PATH: gh("two", "printf 'a b\\n'") })).toBeUndefined();
  });
});
