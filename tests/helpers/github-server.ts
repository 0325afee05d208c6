/**
 * A real HTTP server on 127.0.0.1 speaking the subset of the GitHub REST API fledge
 * uses, for installer tests. Repositories are built from fixture folders (or raw
 * tarballs, for malicious archives served as-is). Failures are injected per path,
 * and every request is recorded so tests can check where the token went.
 *
 *   const gh = await startGithubServer();
 *   const sha = gh.addRepo("acme/hello", { dir: "tests/fixtures/install/wasm-hello" });
 *   gh.fail({ path: /tarball/, status: 500, times: 2 });
 *   ... run fledge with FLEDGE_GITHUB_API_URL = gh.url ...
 *   gh.stop();
 *
 * Endpoints: GET /repos/{o}/{r}, /repos/{o}/{r}/commits/{ref}, /repos/{o}/{r}/tarball/{ref},
 * /repos/{o}/{r}/tags, /repos/{o}/{r}/releases/tags/{tag}, /repos/{o}/{r}/releases/assets/{id},
 * /search/repositories?q=... ; for `fledge plugins publish`: GET /user (the token's
 * account, `login`), POST /user/repos, POST /orgs/{org}/repos, PUT /repos/{o}/{r}/topics
 * (each needs a token; with `remoteRoot` set, a created repository is a real bare git
 * repository under it and its clone_url a file:// URL). With `redirectTarballs`, tarball requests are redirected
 * (302, like GitHub's codeload) to a second server on another port, i.e. another origin.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

// ---------------------------------------------------------------- tar writing

export interface TarEntry {
  name: string;
  /** "0" file, "1" hard link, "2" symlink, "3" char device, "4" block device, "5" dir, "6" fifo, or anything else raw. */
  type?: string;
  data?: Uint8Array | string;
  mode?: number;
  linkname?: string;
  /** Declared size (defaults to data length); lets tests lie. */
  size?: number;
  /** Pax records written in an `x` header before this entry (raw: tests may craft any key). */
  pax?: Record<string, string>;
}

function putString(buf: Uint8Array, off: number, len: number, s: string): void {
  const b = Buffer.from(s, "utf8");
  buf.set(b.subarray(0, len), off);
}

function putOctal(buf: Uint8Array, off: number, len: number, n: number): void {
  putString(buf, off, len, `${n.toString(8).padStart(len - 1, "0")}\0`);
}

function header(e: TarEntry, name: string, size: number, type: string): Uint8Array {
  const h = new Uint8Array(512);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, e.mode ?? (type === "5" ? 0o755 : 0o644));
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 1_700_000_000);
  h.fill(32, 148, 156);
  h[156] = type.charCodeAt(0);
  putString(h, 157, 100, e.linkname ?? "");
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function pad(n: number): number {
  return (512 - (n % 512)) % 512;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = (t: string): number => Buffer.byteLength(t);
  let len = bytes(body) + 1;
  while (bytes(`${len}${body}`) !== len) len = bytes(`${len}${body}`);
  return `${len}${body}`;
}

/** Raw (uncompressed) tar bytes, exactly as described: no safety checks at all. */
export function makeTar(entries: TarEntry[], opts: { globalComment?: string } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const push = (e: TarEntry, name: string, data: Uint8Array, type: string, size?: number): void => {
    parts.push(header(e, name, size ?? data.length, type), data, new Uint8Array(pad(data.length)));
  };
  if (opts.globalComment) push({ name: "pax_global_header" }, "pax_global_header", Buffer.from(paxRecord("comment", opts.globalComment)), "g");
  for (const e of entries) {
    const data = typeof e.data === "string" ? Buffer.from(e.data) : (e.data ?? new Uint8Array(0));
    let name = e.name;
    const records = { ...e.pax };
    if (Buffer.byteLength(name) > 99 && records.path === undefined) {
      records.path = name;
      name = name.slice(0, 99);
    }
    if (Object.keys(records).length > 0) push({ name: "PaxHeader" }, "PaxHeader", Buffer.from(Object.entries(records).map(([k, v]) => paxRecord(k, v)).join("")), "x");
    push(e, name, data, e.type ?? "0", e.size);
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export function gzip(data: Uint8Array): Uint8Array {
  return Bun.gzipSync(data as Uint8Array<ArrayBuffer>);
}

/** Entries for a folder on disk (files keep their exec bit; symlinks stay symlinks), under `top/`. */
export function entriesFromDir(dir: string, top: string): TarEntry[] {
  const out: TarEntry[] = [{ name: `${top}/`, type: "5" }];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isSymbolicLink()) out.push({ name: `${top}/${r}`, type: "2", linkname: readlinkSync(join(dir, r)) });
      else if (st.isDirectory()) {
        out.push({ name: `${top}/${r}/`, type: "5" });
        walk(r);
      } else out.push({ name: `${top}/${r}`, data: readFileSync(join(dir, r)), mode: st.mode & 0o777 });
    }
  };
  walk("");
  return out;
}

// ---------------------------------------------------------------- the server

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  /** Which server answered: "api" or "codeload". */
  server: "api" | "codeload";
  headers: Record<string, string>;
}

export interface FailRule {
  /** Matched against path+query. */
  path: RegExp | string;
  /** HTTP status to answer with. */
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Send part of the body, then break the connection. */
  drop?: boolean;
  /** How many times (default: forever). */
  times?: number;
}

interface Commit {
  sha: string;
  tarball: Uint8Array;
}

interface Release {
  assets: { id: number; name: string; data: Uint8Array }[];
}

interface Repo {
  owner: string;
  name: string;
  defaultBranch: string;
  description: string | null;
  topics: string[];
  stars: number;
  commits: Map<string, Commit>;
  branches: Map<string, string>;
  tags: Map<string, string>;
  releases: Map<string, Release>;
  private: boolean;
}

export interface AddCommitOptions {
  /** Fixture folder to tar up (GitHub layout: top dir `{owner}-{repo}-{sha7}/`). */
  dir?: string;
  /** Or: gzip'd tarball bytes served exactly as given (or a function of the commit's sha that builds them). */
  tarball?: Uint8Array | ((sha: string) => Uint8Array);
  /** Branch to point at this commit (default: the default branch unless `tag` is given). */
  branch?: string;
  tag?: string;
}

export interface GithubServer {
  url: string;
  /** Origin of the second server that redirected tarballs go to. */
  codeloadUrl: string;
  requests: RecordedRequest[];
  addRepo(fullName: string, opts: AddCommitOptions & { defaultBranch?: string; description?: string; topics?: string[]; stars?: number }): string;
  addCommit(fullName: string, opts: AddCommitOptions): string;
  addRelease(fullName: string, tag: string, assets: Record<string, Uint8Array | string>): void;
  fail(rule: FailRule): void;
  clearFailures(): void;
  /** Make tarball downloads 302 to the codeload server (another origin), like GitHub. */
  redirectTarballs: boolean;
  /** The account GET /user names (default "tester"). */
  login: string;
  /** Where created repositories become bare git repositories (unset: no clone_url). */
  remoteRoot: string | undefined;
  /** What clone_url says instead of the real remote (a hostile server's answer). */
  cloneUrl: string | undefined;
  /** Repositories created through the API, in order. */
  created: { fullName: string; private: boolean; description: string | null; org: string | null }[];
  /** Topics set through PUT /repos/{o}/{r}/topics, by full name. */
  topicsSet: Map<string, string[]>;
  stop(): void;
}

function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

function notFound(): Response {
  return json({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }, 404);
}

const DROP = "connection dropped by the test server (injected)";

/** A body that sends `data`'s first half, then breaks the connection. */
function droppingResponse(data: Uint8Array): Response {
  const half = data.subarray(0, Math.max(1, Math.floor(data.length / 2)));
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      controller.enqueue(half);
      await Bun.sleep(20);
      // Erroring the stream makes Bun reset the connection mid-body (a close would
      // just end a chunked body early, which looks like success).
      controller.error(DROP);
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-gzip", "content-length": String(data.length) } });
}

export async function startGithubServer(): Promise<GithubServer> {
  const repos = new Map<string, Repo>();
  const rules: (FailRule & { left: number })[] = [];
  const requests: RecordedRequest[] = [];
  let counter = 0;
  let assetIds = 1;

  const record = (req: Request, server: "api" | "codeload"): string => {
    const u = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    requests.push({ method: req.method, url: u.pathname + u.search, server, headers });
    return u.pathname + u.search;
  };

  const injected = (path: string, payload: () => Uint8Array | undefined): Response | undefined => {
    for (const r of rules) {
      if (r.left <= 0) continue;
      const hit = typeof r.path === "string" ? path.includes(r.path) : r.path.test(path);
      if (!hit) continue;
      r.left--;
      if (r.drop) return droppingResponse(payload() ?? new Uint8Array(4096));
      return new Response(r.body ?? JSON.stringify({ message: `injected ${r.status}` }), { status: r.status ?? 500, headers: { "content-type": "application/json", ...(r.headers ?? {}) } });
    }
    return undefined;
  };

  const resolveRef = (repo: Repo, ref: string): Commit | undefined => {
    const sha = repo.branches.get(ref) ?? repo.tags.get(ref) ?? (repo.commits.has(ref) ? ref : undefined);
    return sha ? repo.commits.get(sha) : undefined;
  };

  const tarballPayload = (path: string): Uint8Array | undefined => {
    const m = /^\/repos\/([^/]+)\/([^/]+)\/tarball\/(.+)$/.exec(path);
    const repo = m ? repos.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`.toLowerCase()) : undefined;
    return repo && m ? resolveRef(repo, decodeURIComponent(m[3]!))?.tarball : undefined;
  };

  const codeload = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = record(req, "codeload");
      const failed = injected(path, () => tarballPayload(path.replace(/^\/codeload/, "")));
      if (failed) return failed;
      const data = tarballPayload(path.replace(/^\/codeload/, ""));
      return data ? new Response(data, { headers: { "content-type": "application/x-gzip" } }) : notFound();
    },
  });

  const api = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = record(req, "api");
      const u = new URL(req.url);
      const failed = injected(path, () => tarballPayload(u.pathname));
      if (failed) return failed;
      if (u.pathname === "/search/repositories") return search(u.searchParams.get("q") ?? "", Number(u.searchParams.get("per_page") ?? 30));
      const write = publishApi(req, u);
      if (write) return write;
      const git = gitHttp(req, u);
      if (git) return git;
      const m = /^\/repos\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(u.pathname);
      if (!m) return notFound();
      const repo = repos.get(`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`.toLowerCase());
      if (!repo) return notFound();
      const rest = m[3] ?? "";
      if (rest === "") return json(repoJson(repo));
      let mm: RegExpExecArray | null;
      if ((mm = /^commits\/(.+)$/.exec(rest))) {
        const c = resolveRef(repo, decodeURIComponent(mm[1]!));
        return c ? json({ sha: c.sha, commit: { message: "fixture" } }) : json({ message: "No commit found for SHA" }, 422);
      }
      if ((mm = /^tarball\/(.+)$/.exec(rest))) {
        const c = resolveRef(repo, decodeURIComponent(mm[1]!));
        if (!c) return notFound();
        if (server.redirectTarballs) return new Response(null, { status: 302, headers: { location: `${server.codeloadUrl}/codeload${u.pathname}` } });
        return new Response(c.tarball, { headers: { "content-type": "application/x-gzip", "content-length": String(c.tarball.length) } });
      }
      if (rest === "tags") return json([...repo.tags].reverse().map(([name, sha]) => ({ name, commit: { sha } })));
      if ((mm = /^releases\/tags\/(.+)$/.exec(rest))) {
        const rel = repo.releases.get(decodeURIComponent(mm[1]!));
        if (!rel) return notFound();
        return json({
          tag_name: decodeURIComponent(mm[1]!),
          assets: rel.assets.map((a) => ({ id: a.id, name: a.name, size: a.data.length, url: `${server.url}/repos/${repo.owner}/${repo.name}/releases/assets/${a.id}`, browser_download_url: `${server.url}/download/${a.id}` })),
        });
      }
      if ((mm = /^releases\/assets\/(\d+)$/.exec(rest))) {
        for (const rel of repo.releases.values()) {
          const a = rel.assets.find((x) => x.id === Number(mm![1]));
          if (a) return new Response(a.data, { headers: { "content-type": "application/octet-stream" } });
        }
        return notFound();
      }
      return notFound();
    },
  });

  const bareDir = (owner: string, name: string): string => join(server.remoteRoot ?? "", owner, `${name}.git`);
  function repoJson(repo: Repo): Record<string, unknown> {
    return {
      full_name: `${repo.owner}/${repo.name}`,
      default_branch: repo.defaultBranch,
      private: repo.private,
      topics: repo.topics,
      html_url: `https://github.com/${repo.owner}/${repo.name}`,
      ...(server.remoteRoot ? { clone_url: server.cloneUrl ?? `file://${bareDir(repo.owner, repo.name)}` } : {}),
    };
  }

  /**
   * git's smart HTTP protocol for the bare repositories under remoteRoot, through
   * `git http-backend` (CGI), so `publish` pushes to `<origin>/<owner>/<name>.git` on
   * this server exactly as it would to github.com.
   */
  function gitHttp(req: Request, u: URL): Promise<Response> | undefined {
    const m = /^\/([^/]+)\/([^/]+\.git)(\/.*)$/.exec(u.pathname);
    if (!m || !server.remoteRoot) return undefined;
    return (async () => {
      const body = new Uint8Array(await req.arrayBuffer());
      const r = spawnSync("git", ["http-backend"], {
        input: body,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          GIT_PROJECT_ROOT: server.remoteRoot ?? "",
          GIT_HTTP_EXPORT_ALL: "1",
          REMOTE_USER: server.login,
          REQUEST_METHOD: req.method,
          PATH_INFO: `/${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}${m[3]}`,
          QUERY_STRING: u.search.replace(/^\?/, ""),
          CONTENT_TYPE: req.headers.get("content-type") ?? "",
          CONTENT_LENGTH: String(body.length),
          GIT_CONFIG_GLOBAL: "/dev/null",
        },
      });
      const out = r.stdout as Buffer;
      const split = out.indexOf("\r\n\r\n");
      const head = out.subarray(0, split).toString("latin1");
      const headers = new Headers();
      let status = 200;
      for (const line of head.split("\r\n")) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers.append(k, v);
      }
      return new Response(out.subarray(split + 4), { status, headers });
    })();
  }

  /** The write endpoints publish uses; undefined when the request is not one of them. */
  function publishApi(req: Request, u: URL): Response | Promise<Response> | undefined {
    const authed = (req.headers.get("authorization") ?? "").startsWith("Bearer ");
    const unauthorized = (): Response => json({ message: "Requires authentication" }, 401);
    if (req.method === "GET" && u.pathname === "/user") return authed ? json({ login: server.login }) : unauthorized();
    const create = req.method === "POST" ? (u.pathname === "/user/repos" ? server.login : /^\/orgs\/([^/]+)\/repos$/.exec(u.pathname)?.[1]) : undefined;
    if (create !== undefined) {
      if (!authed) return unauthorized();
      return req.json().then((raw: unknown) => {
        const body = raw as { name?: string; description?: string; private?: boolean };
        const name = String(body.name ?? "");
        const fullName = `${decodeURIComponent(create)}/${name}`;
        if (repos.has(fullName.toLowerCase())) return json({ message: "Repository creation failed.", errors: [{ message: "name already exists on this account" }] }, 422);
        const [owner] = fullName.split("/") as [string];
        repos.set(fullName.toLowerCase(), { owner, name, defaultBranch: "main", description: body.description ?? null, topics: [], stars: 0, commits: new Map(), branches: new Map(), tags: new Map(), releases: new Map(), private: body.private === true });
        server.created.push({ fullName, private: body.private === true, description: body.description ?? null, org: u.pathname === "/user/repos" ? null : owner });
        if (server.remoteRoot) {
          mkdirSync(join(server.remoteRoot, owner), { recursive: true });
          spawnSync("git", ["init", "-q", "--bare", bareDir(owner, name)]);
        }
        return json(repoJson(repos.get(fullName.toLowerCase())!), 201);
      });
    }
    const topics = req.method === "PUT" ? /^\/repos\/([^/]+)\/([^/]+)\/topics$/.exec(u.pathname) : null;
    if (topics) {
      if (!authed) return unauthorized();
      const repo = repos.get(`${decodeURIComponent(topics[1]!)}/${decodeURIComponent(topics[2]!)}`.toLowerCase());
      if (!repo) return notFound();
      return req.json().then((raw: unknown) => {
        const body = raw as { names?: string[] };
        repo.topics = [...(body.names ?? [])];
        server.topicsSet.set(`${repo.owner}/${repo.name}`, repo.topics);
        return json({ names: repo.topics });
      });
    }
    return undefined;
  }

  function search(q: string, perPage: number): Response {
    const words = q.split(/\s+/).filter(Boolean);
    const topics = words.filter((w) => w.startsWith("topic:")).map((w) => w.slice(6).toLowerCase());
    const users = words.filter((w) => w.startsWith("user:")).map((w) => w.slice(5).toLowerCase());
    const keywords = words.filter((w) => !w.includes(":"));
    const items = [...repos.values()]
      .filter((r) => topics.every((t) => r.topics.includes(t)))
      .filter((r) => users.every((u) => r.owner.toLowerCase() === u))
      .filter((r) => keywords.every((k) => `${r.name} ${r.description ?? ""} ${r.topics.join(" ")}`.toLowerCase().includes(k.toLowerCase())))
      .sort((a, b) => b.stars - a.stars)
      .slice(0, perPage)
      .map((r) => ({
        name: r.name,
        full_name: `${r.owner}/${r.name}`,
        owner: { login: r.owner },
        description: r.description,
        stargazers_count: r.stars,
        html_url: `https://github.com/${r.owner}/${r.name}`,
        topics: r.topics,
      }));
    return json({ total_count: items.length, incomplete_results: false, items });
  }

  const getRepo = (fullName: string): Repo => {
    const repo = repos.get(fullName.toLowerCase());
    if (!repo) throw new Error(`no such fake repo ${fullName}`);
    return repo;
  };

  const server: GithubServer = {
    url: `http://127.0.0.1:${api.port}`,
    codeloadUrl: `http://127.0.0.1:${codeload.port}`,
    requests,
    redirectTarballs: false,
    login: "tester",
    remoteRoot: undefined,
    cloneUrl: undefined,
    created: [],
    topicsSet: new Map(),
    addRepo(fullName, opts) {
      const [owner, name] = fullName.split("/") as [string, string];
      repos.set(fullName.toLowerCase(), {
        owner,
        name,
        defaultBranch: opts.defaultBranch ?? "main",
        description: opts.description ?? null,
        topics: opts.topics ?? ["fledge-plugin"],
        stars: opts.stars ?? 0,
        commits: new Map(),
        branches: new Map(),
        tags: new Map(),
        releases: new Map(),
        private: false,
      });
      return server.addCommit(fullName, opts);
    },
    addCommit(fullName, opts) {
      const repo = getRepo(fullName);
      const sha = createHash("sha1").update(`${fullName}:${++counter}:${opts.dir ?? ""}:${Date.now()}`).digest("hex");
      const tarball = typeof opts.tarball === "function" ? opts.tarball(sha) : opts.tarball ?? gzip(makeTar(entriesFromDir(opts.dir ?? "", `${repo.owner}-${repo.name}-${sha.slice(0, 7)}`), { globalComment: sha }));
      repo.commits.set(sha, { sha, tarball });
      if (opts.tag) repo.tags.set(opts.tag, sha);
      if (opts.branch || !opts.tag) repo.branches.set(opts.branch ?? repo.defaultBranch, sha);
      return sha;
    },
    addRelease(fullName, tag, assets) {
      const repo = getRepo(fullName);
      repo.releases.set(tag, {
        assets: Object.entries(assets).map(([name, data]) => ({ id: assetIds++, name, data: typeof data === "string" ? Buffer.from(data) : data })),
      });
    },
    fail(rule) {
      rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY });
    },
    clearFailures() {
      rules.length = 0;
    },
    stop() {
      api.stop(true);
      codeload.stop(true);
    },
  };
  return server;
}
