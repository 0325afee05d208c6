/**
 * No "internal error" from plain bad input. Each row is an input a user's disk,
 * environment or a (hostile or broken) server can produce; each must give an error
 * that names the input and the fix, with a stable code, never "this is a bug in
 * fledge". Hostile servers are loopback Bun servers written here.
 */
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { githubClient, listTags, releaseAssets, searchRepositories } from "../../src/install/github.ts";
import { runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

type Handler = (req: Request) => Response | Promise<Response>;
let server: ReturnType<typeof Bun.serve>;
let handler: Handler = () => new Response("{}");
let sb: ReturnType<typeof sandbox>;

beforeAll(() => {
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => handler(req) });
});
afterAll(() => server.stop(true));
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const api = (): string => `http://127.0.0.1:${server.port}`;
const json = (v: unknown, init: ResponseInit = {}): Response => new Response(JSON.stringify(v), { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });

interface Row {
  name: string;
  /** Prepare the disk / server; return the fledge arguments and extra env. */
  setup: () => { args: string[]; env?: Record<string, string> };
  code: string | RegExp;
  /** Text the message (or hint) must contain: the input it names. */
  names: string | RegExp;
  /** Text that must NOT appear (secrets). */
  hides?: string;
}

const localPlugin = (): string => wasmPlugin(join(sb.root, "p"), { name: "hello-x" });

const ROWS: Row[] = [
  {
    name: "plugins/ is a file",
    setup: () => {
      mkdirSync(sb.config, { recursive: true });
      writeFileSync(join(sb.config, "plugins"), "oops");
      return { args: ["plugins", "install", localPlugin()] };
    },
    code: "config_dir_unusable",
    names: "plugins",
  },
  {
    name: "plugins/bin is a file",
    setup: () => {
      mkdirSync(join(sb.config, "plugins"), { recursive: true });
      writeFileSync(join(sb.config, "plugins", "bin"), "oops");
      return { args: ["plugins", "install", localPlugin()] };
    },
    code: "config_dir_unusable",
    names: "bin",
  },
  {
    name: "plugins/ is a dangling symlink",
    setup: () => {
      mkdirSync(sb.config, { recursive: true });
      symlinkSync(join(sb.root, "gone"), join(sb.config, "plugins"));
      return { args: ["plugins", "install", localPlugin()] };
    },
    code: "config_dir_unusable",
    names: "broken symbolic link",
  },
  {
    name: "FLEDGE_CONFIG_DIR is a file",
    setup: () => {
      writeFileSync(join(sb.root, "cfgfile"), "x");
      return { args: ["plugins", "install", localPlugin()], env: { FLEDGE_CONFIG_DIR: join(sb.root, "cfgfile") } };
    },
    code: /config_dir_unusable|io_error|filesystem/,
    names: "cfgfile",
  },
  {
    name: "plugins.toml is a folder (list)",
    setup: () => {
      mkdirSync(join(sb.config, "plugins.toml"), { recursive: true });
      return { args: ["plugins", "list"] };
    },
    code: /io_error|filesystem/,
    names: "plugins.toml",
  },
  {
    name: "config.toml is a folder (search)",
    setup: () => {
      mkdirSync(join(sb.config, "config.toml"), { recursive: true });
      return { args: ["plugins", "search", "x"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: /io_error|filesystem|config/,
    names: "config.toml",
  },
  ...(
    [
      ["not a URL", "not a url"],
      ["a port out of range", "http://127.0.0.1:99999"],
      ["a port that is not a number", "http://127.0.0.1:abc"],
      ["port 0", "http://127.0.0.1:0"],
      ["an ftp scheme", "ftp://127.0.0.1/"],
      ["a file scheme", "file:///etc"],
      ["a query", "http://127.0.0.1:1/?x=1"],
    ] as const
  ).map(([what, value]): Row => ({
    name: `FLEDGE_GITHUB_API_URL with ${what}`,
    setup: () => ({ args: ["plugins", "install", "acme/hello"], env: { FLEDGE_GITHUB_API_URL: value } }),
    code: "invalid_api_url",
    names: "FLEDGE_GITHUB_API_URL",
  })),
  {
    name: "GITHUB_API_URL with a password (search): refused, the password never shown",
    setup: () => ({ args: ["plugins", "search", "x"], env: { GITHUB_API_URL: "http://user:s3cretpw@127.0.0.1:1" } }),
    code: "invalid_api_url",
    names: "GITHUB_API_URL",
    hides: "s3cretpw",
  },
  {
    name: "redirect with an invalid Location",
    setup: () => {
      handler = () => new Response(null, { status: 302, headers: { location: "http://[::1" } });
      return { args: ["plugins", "install", "acme/hello"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_bad_redirect",
    names: "redirect",
  },
  {
    name: "redirect to a file: URL",
    setup: () => {
      handler = () => new Response(null, { status: 301, headers: { location: "file:///etc/passwd" } });
      return { args: ["plugins", "search", "x"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_bad_redirect",
    names: "file",
  },
  {
    name: "search: items is null",
    setup: () => {
      handler = () => json({ items: null });
      return { args: ["plugins", "search", "x"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_error",
    names: "items",
  },
  {
    name: "search: the body is HTML, not JSON",
    setup: () => {
      handler = () => new Response("<html>proxy login</html>", { headers: { "content-type": "text/html" } });
      return { args: ["plugins", "search", "x"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_error",
    names: /items|not valid JSON/,
  },
  {
    name: "install: the repository answer is null",
    setup: () => {
      handler = () => json(null);
      return { args: ["plugins", "install", "acme/hello"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_error",
    names: "acme/hello",
  },
  {
    name: "install: the commit answer is an array",
    setup: () => {
      handler = (req) => (new URL(req.url).pathname.includes("/commits/") ? json([1, 2]) : json({ default_branch: "main" }));
      return { args: ["plugins", "install", "acme/hello"], env: { FLEDGE_GITHUB_API_URL: api() } };
    },
    code: "github_error",
    names: "acme/hello",
  },
  {
    name: "plugins create x -o <file>/sub",
    setup: () => {
      writeFileSync(join(sb.root, "afile"), "x");
      return { args: ["plugins", "create", "x", "-o", join(sb.root, "afile", "sub")] };
    },
    code: "invalid_output",
    names: "afile",
  },
  {
    name: "plugins create x -o <file>",
    setup: () => {
      writeFileSync(join(sb.root, "afile"), "x");
      return { args: ["plugins", "create", "x", "-o", join(sb.root, "afile")] };
    },
    code: "invalid_output",
    names: "afile",
  },
  {
    name: "plugins create bin (a reserved name)",
    setup: () => ({ args: ["plugins", "create", "bin", "-o", sb.root] }),
    code: "usage",
    names: "reserved",
  },
];

describe("plain bad input never reaches 'internal error'", () => {
  test("plugins/ as a symlink to a real folder is fine (dotfiles setups)", async () => {
    mkdirSync(join(sb.root, "elsewhere"));
    mkdirSync(sb.config, { recursive: true });
    symlinkSync(join(sb.root, "elsewhere"), join(sb.config, "plugins"));
    const r = await runFledgeAsync(["plugins", "install", localPlugin()], { env: sb.env, cwd: sb.root });
    expect(r.code).toBe(0);
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const { args, env } = row.setup();
      const r = await runFledgeAsync([...args, "--json"], { env: { ...sb.env, ...env }, cwd: sb.root, timeoutMs: 30_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr + r.stdout).not.toMatch(/internal error|bug in fledge/);
      const err = JSON.parse(r.stdout).error;
      if (typeof row.code === "string") expect(err.code).toBe(row.code);
      else expect(err.code).toMatch(row.code);
      if (typeof row.names === "string") expect(`${err.message} ${err.hint ?? ""}`).toContain(row.names);
      else expect(`${err.message} ${err.hint ?? ""}`).toMatch(row.names);
      expect(err.hint ?? "").not.toBe("");
      if (row.hides) expect(r.stdout + r.stderr).not.toContain(row.hides);
    });
  }
});

describe("server lists with items of the wrong type are read, not crashed on", () => {
  test("search skips null, numbers, strings and items naming no repository", async () => {
    handler = () =>
      json({
        items: [null, 1, "x", [], { full_name: null }, { owner: null, name: 5 }, { owner: { login: "acme" }, name: "good", full_name: "acme/good", description: null, stargazers_count: "9", topics: [null, "t"] }],
      });
    const items = await searchRepositories(githubClient({ FLEDGE_GITHUB_API_URL: api() }, undefined), "x", 10);
    expect(items).toEqual([{ owner: "acme", name: "good", full_name: "acme/good", description: "No description", stars: 0, url: "", topics: ["t"] }]);
    const r = await runFledgeAsync(["plugins", "search", "x", "--json"], { env: { ...sb.env, FLEDGE_GITHUB_API_URL: api() } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).results.map((x: { full_name: string }) => x.full_name)).toEqual(["acme/good"]);
  });

  test("tags and release assets skip null entries", async () => {
    const client = githubClient({ FLEDGE_GITHUB_API_URL: api() }, undefined);
    handler = () => json([null, { name: 3 }, { name: "v1.0.0" }]);
    expect(await listTags(client, "a", "b")).toEqual(["v1.0.0"]);
    handler = () => json({ assets: [null, 7, { name: "x.wasm", url: "http://127.0.0.1:1/a", size: 3 }] });
    expect(await releaseAssets(client, "a", "b", "v1")).toEqual([{ name: "x.wasm", url: "http://127.0.0.1:1/a", size: 3 }]);
  });
});
