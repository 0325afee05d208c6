/**
 * Issue 11 items 8, 9, 11: hostile and broken servers, all on loopback.
 * - secrets in URLs: a redirect to an unreachable `user:pass@host/?X-Amz-Signature=...`
 *   must not print the credentials or the signature, nor call that host "the GitHub API";
 * - stalls: a server that sends no headers, a body that stops after 100 bytes (API JSON,
 *   tarball, redirect target), a git server (http and git://) that never answers: each
 *   gives up after the idle time (1 s here, via FLEDGE_NETWORK_IDLE_TIMEOUT) and says so;
 * - unbounded responses: JSON over 8 MiB and tarballs over 128 MiB are refused while
 *   streaming, with the cap in the message;
 * - a tarball of another commit than the one the API resolved is refused.
 * Time is never asserted beyond "it finished within the test's generous timeout".
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { defaultBranch, downloadTarball, githubClient, MAX_JSON_BYTES } from "../../src/install/github.ts";
import { idleTimeoutSeconds, redactUrl, redactUrls } from "../../src/install/net.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { gzip, makeTar, startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";
import { expectFledgeRejection } from "../helpers/errors.ts";

setDefaultTimeout(60_000);

const SECRET = "SIGNATURE-abc123";
const PASS = "hunter2pass";

const failure = expectFledgeRejection;

/** A port with nothing listening. */
function deadPort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** A TCP server that accepts and never sends a byte (no headers, no git greeting). */
function silentServer(): { port: number; stop: () => void } {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {}, open() {} } });
  return { port: l.port, stop: () => l.stop(true) };
}

/** A body that sends `first` and then nothing, forever. */
function stallingBody(first: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(first);
        return;
      }
      await new Promise(() => undefined); // never
    },
  });
}

let tmp: { path: string; cleanup: () => void };
beforeEach(() => (tmp = tempDir("fledge-net-")));
afterEach(() => tmp.cleanup());

describe("redactUrl: the one way a URL appears in a message", () => {
  test("drops userinfo, query and fragment; keeps scheme, host, port, path", () => {
    expect(redactUrl(`https://user:${PASS}@bucket.example:8443/a/b.tgz?X-Amz-Signature=${SECRET}&X-Amz-Credential=AKIA#frag`)).toBe("https://bucket.example:8443/a/b.tgz?…");
    expect(redactUrl("https://api.github.com/repos/a/b")).toBe("https://api.github.com/repos/a/b");
    expect(redactUrl(`ssh://git:${PASS}@host/x.git`)).toBe("ssh://host/x.git");
    expect(redactUrl(`not a url user:${PASS}@x?${SECRET}`)).not.toContain(SECRET);
  });

  test("every URL inside a message", () => {
    const msg = redactUrls(`fetch failed for https://u:${PASS}@h.example/p?sig=${SECRET}. Then (http://a:${PASS}@b/c?d=${SECRET}), done`);
    expect(msg).not.toContain(PASS);
    expect(msg).not.toContain(SECRET);
    expect(msg).toContain("https://h.example/p?…");
    expect(msg).toContain("(http://b/c?…)");
  });

  test("every FledgeError, whoever builds it, is redacted (message and hint)", () => {
    const e = new FledgeError(`git clone of https://bob:${PASS}@git.example/r.git?token=${SECRET} failed`, { hint: `retry https://x:${PASS}@h/?s=${SECRET}` });
    expect(`${e.message} ${e.hint}`).not.toContain(PASS);
    expect(`${e.message} ${e.hint}`).not.toContain(SECRET);
    expect(e.message).toContain("https://git.example/r.git?…");
  });

  test("FLEDGE_NETWORK_IDLE_TIMEOUT: default 30, a number of seconds, garbage refused by name", () => {
    expect(idleTimeoutSeconds({})).toBe(30);
    expect(idleTimeoutSeconds({ FLEDGE_NETWORK_IDLE_TIMEOUT: "2.5" })).toBe(2.5);
    for (const bad of ["0", "-1", "soon", "1e9"]) {
      expect(() => idleTimeoutSeconds({ FLEDGE_NETWORK_IDLE_TIMEOUT: bad })).toThrow(/FLEDGE_NETWORK_IDLE_TIMEOUT/);
    }
  });
});

describe("secrets in redirect targets", () => {
  test("an unreachable redirect target: no userinfo, no signed query, not 'the GitHub API'", async () => {
    const target = `http://user:${PASS}@127.0.0.1:${deadPort()}/bucket/x.tgz?X-Amz-Signature=${SECRET}`;
    const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 302, headers: { location: target } }) });
    try {
      const client = githubClient({ FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, "tok");
      const e = await failure(downloadTarball(client, "acme", "x", "a".repeat(40), join(tmp.path, "t.tgz")));
      const text = `${e.message}\n${e.hint ?? ""}`;
      expect(e.code).toBe("network");
      expect(text).not.toContain(PASS);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("X-Amz");
      expect(text).not.toContain("user");
      expect(e.message).not.toContain("GitHub API");
      expect(e.message).toContain(`127.0.0.1`);
    } finally {
      api.stop(true);
    }
  });

  test("a redirect target answering an error status is named without its secrets", async () => {
    const bucket = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("denied", { status: 403 }) });
    const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(null, { status: 302, headers: { location: `http://u:${PASS}@127.0.0.1:${bucket.port}/o?X-Amz-Signature=${SECRET}` } }) });
    try {
      const e = await failure(downloadTarball(githubClient({ FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, undefined), "acme", "x", "a".repeat(40), join(tmp.path, "t.tgz")));
      expect(`${e.message} ${e.hint}`).not.toContain(SECRET);
      expect(`${e.message} ${e.hint}`).not.toContain(PASS);
    } finally {
      api.stop(true);
      bucket.stop(true);
    }
  });

  test("end to end: the CLI's JSON error carries no secret either", async () => {
    const gh = await startGithubServer();
    const sb = sandbox();
    try {
      gh.addRepo("acme/leaky", { dir: wasmPlugin(join(sb.root, "p"), { name: "leaky" }) });
      gh.fail({ path: "/tarball/", status: 302, headers: { location: `http://admin:${PASS}@127.0.0.1:${deadPort()}/b?X-Amz-Signature=${SECRET}` } });
      const r = await runFledgeAsync(["plugins", "install", "acme/leaky", "--yes", "--json"], { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }, cwd: sb.root });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout + r.stderr).not.toContain(PASS);
      expect(JSON.parse(r.stdout).error.message).not.toContain("GitHub API");
    } finally {
      gh.stop();
      sb.cleanup();
    }
  });
});

describe("stalls give up after the idle time and say so", () => {
  const env = { FLEDGE_GITHUB_API_URL: "", FLEDGE_NETWORK_IDLE_TIMEOUT: "1" };
  function expectIdle(e: FledgeError): void {
    expect(e.code).toBe("network_timeout");
    expect(e.message).toMatch(/no data for 1 s/);
    expect(e.hint).toContain("FLEDGE_NETWORK_IDLE_TIMEOUT");
  }

  test("an API server that accepts and sends no headers", async () => {
    const s = silentServer();
    try {
      expectIdle(await failure(defaultBranch(githubClient({ ...env, FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${s.port}` }, undefined), "a", "b")));
    } finally {
      s.stop();
    }
  });

  test("an API JSON body that stops after 100 bytes", async () => {
    const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(stallingBody(new TextEncoder().encode(`{"default_branch":"${"x".repeat(80)}`)), { headers: { "content-type": "application/json" } }) });
    try {
      expectIdle(await failure(defaultBranch(githubClient({ ...env, FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, undefined), "a", "b")));
    } finally {
      api.stop(true);
    }
  });

  test("a tarball that stops after 100 bytes, at the API and at a redirect target", async () => {
    const bucket = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(stallingBody(new Uint8Array(100))) });
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => (req.url.includes("/redirect/") ? new Response(null, { status: 302, headers: { location: `http://127.0.0.1:${bucket.port}/x?sig=${SECRET}` } }) : new Response(stallingBody(new Uint8Array(100)))),
    });
    try {
      const client = githubClient({ ...env, FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, undefined);
      expectIdle(await failure(downloadTarball(client, "acme", "x", "a".repeat(40), join(tmp.path, "a.tgz"))));
      const e = await failure(downloadTarball(client, "redirect", "x", "a".repeat(40), join(tmp.path, "b.tgz")));
      expectIdle(e);
      expect(e.message).not.toContain(SECRET);
      expect(e.message).not.toContain("GitHub API");
    } finally {
      api.stop(true);
      bucket.stop(true);
    }
  });

  test("a stalled git server: http (git's low-speed rule) and git:// (the watchdog)", async () => {
    const http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(stallingBody(new Uint8Array(0))) });
    const raw = silentServer();
    const sb = sandbox();
    try {
      for (const url of [`http://127.0.0.1:${http.port}/acme/plugin.git`, `git://127.0.0.1:${raw.port}/acme/plugin.git`]) {
        const r = await runFledgeAsync(["plugins", "install", url, "--yes", "--json"], { env: { ...sb.env, FLEDGE_NETWORK_IDLE_TIMEOUT: "1" }, cwd: sb.root, timeoutMs: 50_000 });
        expect(r.code, `${url}: ${r.stderr}`).toBe(1);
        const err = JSON.parse(r.stdout).error;
        expect(err.code, url).toBe("network_timeout");
        expect(err.message).toContain("no data for 1 s");
        // Nothing half-installed.
        expect(existsSync(join(sb.config, "plugins", "plugin"))).toBe(false);
        expect(readdirSync(join(sb.config, "plugins")).filter((n) => n.startsWith(".staging-"))).toEqual([]);
      }
    } finally {
      http.stop(true);
      raw.stop();
      sb.cleanup();
    }
  });
});

describe("responses are capped while they stream", () => {
  /** `total` bytes of `fill`, in 1 MiB chunks, with or without a Content-Length. */
  function big(total: number, fill: number, declare: boolean): Response {
    let sent = 0;
    const chunk = new Uint8Array(1 << 20).fill(fill);
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= total) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    return new Response(body, { headers: declare ? { "content-length": String(total) } : {} });
  }

  test("a JSON answer over 8 MiB, declared or not", async () => {
    for (const declare of [true, false]) {
      let served = 0;
      const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (served++, big(400 * 1024 * 1024, 0x20, declare)) });
      try {
        const e = await failure(defaultBranch(githubClient({ FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, undefined), "a", "b"));
        expect(e.code).toBe("download_too_large");
        expect(e.message).toContain(`${MAX_JSON_BYTES / 1024 / 1024} MiB`);
        expect(process.memoryUsage().rss).toBeLessThan(1024 * 1024 * 1024);
      } finally {
        api.stop(true);
      }
    }
  });

  test("a tarball over 128 MiB without a Content-Length", async () => {
    const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => big(200 * 1024 * 1024, 0, false) });
    try {
      const e = await failure(downloadTarball(githubClient({ FLEDGE_GITHUB_API_URL: `http://127.0.0.1:${api.port}` }, undefined), "a", "b", "a".repeat(40), join(tmp.path, "t.tgz")));
      expect(e.code).toBe("download_too_large");
      expect(e.message).toContain("128 MiB");
    } finally {
      api.stop(true);
    }
  });
});

describe("the tarball must be of the commit the API resolved", () => {
  let gh: GithubServer;
  let sb: ReturnType<typeof sandbox>;
  beforeAll(async () => (gh = await startGithubServer()));
  afterAll(() => gh.stop());
  beforeEach(() => (sb = sandbox()));
  afterEach(() => sb.cleanup());
  const files = [
    { name: "plugin.toml", data: '[plugin]\nname = "swap"\nversion = "1.0.0"\ndescription = "d"\nauthor = "a"\nprotocol = "fledge-v1"\nruntime = "wasm"\n\n[[commands]]\nname = "swap"\nbinary = "hello.wasm"\n' },
    { name: "hello.wasm", data: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) },
  ];
  const tarOf = (top: string, comment?: string): Uint8Array => gzip(makeTar([{ name: `${top}/`, type: "5" }, ...files.map((f) => ({ name: `${top}/${f.name}`, data: f.data }))], comment ? { globalComment: comment } : {}));

  for (const [label, tarball, pattern] of [
    ["another commit in the pax header", tarOf("acme-swap-1111111", "1".repeat(40)), /pax header says it is commit 1111111111/],
    ["no pax header and another commit's top folder", tarOf("acme-swap-2222222"), /no pax global header naming its commit/],
    ["no pax header, top folder of the right commit", (sha: string) => tarOf(`acme-swap-${sha.slice(0, 7)}`), /no pax global header naming its commit \(GitHub's tarballs always carry one\)/],
    ["the right pax header but another commit's top folder", (sha: string) => tarOf("acme-swap-3333333", sha), /top folder 'acme-swap-3333333' does not name commit/],
  ] as const) {
    test(label, async () => {
      gh.addRepo("acme/swap", { tarball });
      const r = await runFledgeAsync(["plugins", "install", "acme/swap", "--yes", "--json"], { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url }, cwd: sb.root });
      expect(r.code).toBe(1);
      const err = JSON.parse(r.stdout).error;
      expect(err.code).toBe("unsafe_archive");
      expect(err.message).toMatch(pattern);
      expect(existsSync(join(sb.config, "plugins", "swap"))).toBe(false);
    });
  }
});
