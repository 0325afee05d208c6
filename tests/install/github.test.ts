/**
 * The GitHub REST client against the loopback fake: ref resolution, errors with
 * useful messages, retries on 5xx, dropped connections, and where the token goes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultBranch, downloadTarball, githubApiBase, githubClient, listTags, releaseAssets, resolveCommit, searchRepositories } from "../../src/install/github.ts";
import { tempDir } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { HELLO_WASM } from "./helpers.ts";
import { expectFledgeRejection } from "../helpers/errors.ts";

const TOKEN = "ghp_testtoken_0123456789abcdef";
let gh: GithubServer;
let sha: string;
let tmp: { path: string; cleanup: () => void };

beforeAll(async () => {
  gh = await startGithubServer();
  sha = gh.addRepo("acme/hello", { dir: HELLO_WASM, defaultBranch: "trunk", description: "says hello", stars: 5 });
  gh.addCommit("acme/hello", { dir: HELLO_WASM, tag: "v1.0.0" });
  tmp = tempDir("fledge-gh-");
});
afterAll(() => {
  gh.stop();
  tmp.cleanup();
});
afterEach(() => {
  gh.clearFailures();
  gh.redirectTarballs = false;
  gh.requests.length = 0;
});

const client = () => githubClient({ FLEDGE_GITHUB_API_URL: gh.url }, TOKEN);
const anonymous = () => githubClient({ FLEDGE_GITHUB_API_URL: gh.url }, undefined);

const failure = expectFledgeRejection;

describe("base URL", () => {
  test("FLEDGE_GITHUB_API_URL, then GITHUB_API_URL, then api.github.com", () => {
    expect(githubApiBase({ FLEDGE_GITHUB_API_URL: "http://a/", GITHUB_API_URL: "http://b" })).toBe("http://a");
    expect(githubApiBase({ GITHUB_API_URL: "https://ghe.example/api/v3" })).toBe("https://ghe.example/api/v3");
    expect(githubApiBase({})).toBe("https://api.github.com");
  });
});

describe("refs", () => {
  test("no ref resolves the default branch", async () => {
    expect(await defaultBranch(client(), "acme", "hello")).toBe("trunk");
    expect(await resolveCommit(client(), "acme", "hello", null)).toEqual({ sha, ref: "trunk" });
  });

  test("a tag resolves to its commit; tags are listed", async () => {
    const r = await resolveCommit(client(), "acme", "hello", "v1.0.0");
    expect(r.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(r.sha).not.toBe(sha);
    expect(await listTags(client(), "acme", "hello")).toEqual(["v1.0.0"]);
  });

  test("unknown repository and unknown ref are 'not found' errors", async () => {
    const e1 = await failure(resolveCommit(client(), "acme", "missing", null));
    expect(e1.code).toBe("github_not_found");
    expect(e1.message).toContain("repository acme/missing not found");
    const e2 = await failure(resolveCommit(client(), "acme", "hello", "no-such-branch"));
    expect(e2.message).toContain("ref 'no-such-branch' in acme/hello not found");
    // Without a token, the hint mentions private repositories and how to set one.
    const e3 = await failure(resolveCommit(anonymous(), "acme", "missing", null));
    expect(e3.hint).toContain("FLEDGE_GITHUB_TOKEN");
  });
});

describe("HTTP errors", () => {
  test("401: the token was rejected", async () => {
    gh.fail({ path: "/repos/acme/hello", status: 401 });
    const e = await failure(resolveCommit(client(), "acme", "hello", null));
    expect(e.code).toBe("github_auth");
    expect(e.message).not.toContain(TOKEN);
  });

  test("403 with x-ratelimit-remaining: 0 names the reset time", async () => {
    const reset = Math.floor(Date.now() / 1000) + 900;
    gh.fail({ path: "/commits/", status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) } });
    const e = await failure(resolveCommit(anonymous(), "acme", "hello", "v1.0.0"));
    expect(e.code).toBe("github_rate_limited");
    expect(e.message).toContain(new Date(reset * 1000).toISOString());
    expect(e.message).toMatch(/in about 1[45] minutes/);
    expect(e.hint).toContain("token");
  });

  test("a plain 403 is 'forbidden'", async () => {
    gh.fail({ path: "/repos/acme/hello", status: 403 });
    expect((await failure(defaultBranch(client(), "acme", "hello"))).code).toBe("github_forbidden");
  });

  test("5xx is retried with backoff, then succeeds", async () => {
    gh.fail({ path: "/repos/acme/hello", status: 502, times: 2 });
    expect(await defaultBranch(client(), "acme", "hello")).toBe("trunk");
    expect(gh.requests.filter((r) => r.url === "/repos/acme/hello")).toHaveLength(3);
  });

  test("5xx that never ends fails after the retries", async () => {
    gh.fail({ path: "/repos/acme/hello", status: 500 });
    const e = await failure(defaultBranch(client(), "acme", "hello"));
    expect(e.code).toBe("github_error");
    expect(gh.requests.filter((r) => r.url === "/repos/acme/hello")).toHaveLength(4);
  });

  test("nothing listening: a network error naming the API URL", async () => {
    const dead = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const url = `http://127.0.0.1:${dead.port}`;
    dead.stop(true);
    const e = await failure(defaultBranch(githubClient({ FLEDGE_GITHUB_API_URL: url }, TOKEN), "acme", "hello"));
    expect(e.code).toBe("network");
    expect(e.message).toContain(url);
  });
});

describe("downloads", () => {
  test("the tarball is downloaded; the token goes only in the Authorization header", async () => {
    const file = join(tmp.path, "ok.tgz");
    await downloadTarball(client(), "acme", "hello", sha, file);
    expect(existsSync(file)).toBe(true);
    for (const r of gh.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(r.url).not.toContain(TOKEN);
      for (const [k, v] of Object.entries(r.headers)) if (k !== "authorization") expect(v).not.toContain(TOKEN);
    }
  });

  test("a redirect to another origin (codeload) is followed without the token", async () => {
    gh.redirectTarballs = true;
    await downloadTarball(client(), "acme", "hello", sha, join(tmp.path, "redirected.tgz"));
    const codeload = gh.requests.filter((r) => r.server === "codeload");
    expect(codeload).toHaveLength(1);
    expect(codeload[0]!.headers.authorization).toBeUndefined();
  });

  test("a connection dropped mid-download is a clear network error", async () => {
    gh.fail({ path: /tarball/, drop: true });
    const e = await failure(downloadTarball(client(), "acme", "hello", sha, join(tmp.path, "dropped.tgz")));
    expect(e.code).toBe("network");
    expect(e.message).toContain("download of acme/hello@");
  });
});

describe("releases and search", () => {
  test("release assets by tag; a missing release is null, not an error", async () => {
    gh.addRelease("acme/hello", "v1.0.0", { "hello.wasm": "\0asm", SHA256SUMS: "" });
    const assets = await releaseAssets(client(), "acme", "hello", "v1.0.0");
    expect(assets?.map((a) => a.name)).toEqual(["hello.wasm", "SHA256SUMS"]);
    expect(await releaseAssets(client(), "acme", "hello", "v9.9.9")).toBeNull();
  });

  test("topic search returns normalized items", async () => {
    const items = await searchRepositories(client(), "topic:fledge-plugin", 10);
    expect(items).toEqual([
      { owner: "acme", name: "hello", full_name: "acme/hello", description: "says hello", stars: 5, url: "https://github.com/acme/hello", topics: ["fledge-plugin"] },
    ]);
  });
});
