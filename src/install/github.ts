/**
 * The GitHub REST API subset the installer uses, through fetch (streamed bodies, so idle time and size are enforced as bytes arrive): resolve a ref to a
 * commit, download that commit's tarball, read a release's assets, list tags, search
 * repositories. Every request goes through `request()`, the one place that decides
 * where the token may go: only in the Authorization header, and only to the API's
 * own origin (redirects elsewhere, like GitHub's codeload or S3 asset hosts, are
 * followed without it). Errors are FledgeErrors that say what to do, never include
 * the token or any URL's userinfo or query (net.ts `redactUrl`), and name the
 * rate-limit reset time. Every request gives up after the idle timeout without a byte
 * (net.ts), and every body is capped while it streams: JSON 8 MiB, tarballs 128 MiB,
 * release assets 256 MiB.
 */
import { createWriteStream } from "node:fs";
import { FledgeError } from "../core/index.ts";
import { githubToken, type FledgeConfig } from "../registry/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { idleError, idleTimeoutSeconds, idleWatch, readBody, redactUrl, redactUrls, tooLargeError } from "./net.ts";

export const DEFAULT_GITHUB_API = "https://api.github.com";

export interface GithubClient {
  /** API base URL without a trailing slash. */
  base: string;
  /** Never printed; sent only as `Authorization: Bearer` to `base`'s origin. */
  token: string | undefined;
  /** Show download progress on stderr (only on a TTY). */
  progress: boolean;
  /** Give up after this long without a byte (FLEDGE_NETWORK_IDLE_TIMEOUT). */
  idleMs: number;
}

/** `FLEDGE_GITHUB_API_URL`, else `GITHUB_API_URL` (GitHub Actions / Enterprise), else api.github.com. */
export function githubApiBase(env: NodeJS.ProcessEnv): string {
  for (const k of ["FLEDGE_GITHUB_API_URL", "GITHUB_API_URL"] as const) {
    const v = env[k]?.trim();
    if (v) return checkApiBase(k, v.replace(/\/+$/, ""));
  }
  return DEFAULT_GITHUB_API;
}

/**
 * The web side of the GitHub fledge talks to: api.github.com is github.com; a GitHub
 * Enterprise API at https://HOST/api/v3 is https://HOST; any other base (a mirror, a
 * loopback test server) is its own origin. `host` is what `gh auth token --hostname`
 * takes, so gh's token is only ever the one for the host fledge sends it to.
 */
export function githubWeb(env: NodeJS.ProcessEnv): { origin: string; host: string } {
  const api = new URL(githubApiBase(env));
  if (api.origin === DEFAULT_GITHUB_API) return { origin: "https://github.com", host: "github.com" };
  return { origin: api.origin, host: api.host };
}

/** The token for the GitHub API fledge talks to (gh is asked for that host's token only). */
export function githubApiToken(env: NodeJS.ProcessEnv, config?: FledgeConfig): string | undefined {
  return githubToken(env, config, githubWeb(env).host);
}

/** The API base from the environment must be an http(s) URL with a valid port and no user:password. */
function checkApiBase(variable: string, value: string): string {
  const bad = (why: string): FledgeError =>
    new FledgeError(`${variable} is not a usable API address: ${why}`, {
      code: "invalid_api_url",
      hint: `set ${variable} to an http(s) URL such as https://api.github.com or https://ghe.example.com/api/v3, or unset it`,
    });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad("it is not a URL (or its port is not a number from 0 to 65535)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw bad(`the scheme '${url.protocol.replace(/:$/, "")}' is not http or https`);
  if (url.hostname === "") throw bad("it has no host");
  if (url.port === "0") throw bad("port 0 is not a port to connect to");
  if (url.username !== "" || url.password !== "") throw bad("it contains a user name or password (set FLEDGE_GITHUB_TOKEN instead)");
  if (url.search !== "" || url.hash !== "") throw bad("it has a query or fragment");
  return value;
}

export function githubClient(env: NodeJS.ProcessEnv, token: string | undefined): GithubClient {
  return { base: githubApiBase(env), token, progress: Boolean(process.stderr.isTTY), idleMs: idleTimeoutSeconds(env) * 1000 };
}

const RETRIES = 3;
const RETRY_BASE_MS = 250;
const MAX_REDIRECTS = 5;
/** JSON API answers are small (a search page is ~200 KiB); more is an attack on memory. */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

type Kind = "json" | "stream";
interface RequestOptions {
  /** What a 404 means here ("repository owner/repo", "ref 'v1' in owner/repo"). */
  notFound: string;
  accept?: string;
  kind: Kind;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function headersFor(client: GithubClient, url: URL, accept: string): Record<string, string> {
  const h: Record<string, string> = { accept, "user-agent": "fledge-cli", "x-github-api-version": "2022-11-28" };
  if (client.token && url.origin === new URL(client.base).origin) h.authorization = `Bearer ${client.token}`;
  return h;
}

function describeReset(reset: string | null): string {
  const secs = reset === null ? Number.NaN : Number.parseInt(reset, 10);
  if (!Number.isFinite(secs)) return "";
  const at = new Date(secs * 1000);
  const mins = Math.max(0, Math.ceil((at.getTime() - Date.now()) / 60_000));
  return `; it resets at ${at.toISOString()} (in about ${mins} minute${mins === 1 ? "" : "s"})`;
}

/** Map a non-OK response to the error the user should see. */
function httpError(status: number, headers: Headers, url: URL, opts: RequestOptions, client: GithubClient): FledgeError {
  const tokenHint = "set FLEDGE_GITHUB_TOKEN (or GITHUB_TOKEN / GH_TOKEN, or [github] token in config.toml)";
  if (status === 404 || status === 422) {
    return new FledgeError(`GitHub: ${renderUntrusted(opts.notFound)} not found`, {
      code: "github_not_found",
      hint: client.token ? "check the spelling of the owner, repository and ref" : `check the spelling; if the repository is private, ${tokenHint}`,
    });
  }
  if (status === 401) {
    return new FledgeError("GitHub rejected the token (401 bad credentials)", { code: "github_auth", hint: "the token in FLEDGE_GITHUB_TOKEN / GITHUB_TOKEN / GH_TOKEN / config.toml is wrong or expired" });
  }
  const limited = headers.get("x-ratelimit-remaining") === "0" || status === 429;
  if (limited) {
    return new FledgeError(`GitHub API rate limit exceeded${describeReset(headers.get("x-ratelimit-reset"))}`, {
      code: "github_rate_limited",
      hint: client.token ? "wait for the reset, or use a token with a higher limit" : `wait for the reset, or ${tokenHint} for a higher limit`,
    });
  }
  if (status === 403) {
    return new FledgeError(`GitHub refused access to ${renderUntrusted(opts.notFound)} (403 forbidden)`, { code: "github_forbidden", hint: client.token ? "the token lacks access to this repository" : tokenHint });
  }
  if (!isApi(client, url)) return new FledgeError(`${redactUrl(url.href)} answered HTTP ${status}`, { code: "github_error", hint: "the GitHub API redirected there; try again later" });
  return new FledgeError(`GitHub API error ${status} for ${renderUntrusted(url.pathname)}`, { code: "github_error", hint: "GitHub may be having problems; try again later" });
}

/** Is `url` the API itself (where the token may go), or a host it redirected to? */
function isApi(client: GithubClient, url: URL): boolean {
  try {
    return url.origin === new URL(client.base).origin;
  } catch {
    return false;
  }
}

/** How a request target is named in messages: never with userinfo or a (signed) query. */
function targetName(client: GithubClient, url: URL): string {
  return isApi(client, url) ? `the GitHub API at ${redactUrl(client.base)}` : redactUrl(url.href);
}

/** A fetch error's message without Bun's "pass verbose: true" advice (meant for developers). */
function cleanMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return renderUntrusted(text).replace(/\.?\s*For more information, pass `verbose: true`.*$/s, "");
}

function networkError(client: GithubClient, url: URL, e: unknown): FledgeError {
  // The message of a fetch error names the URL at most, never our headers; any URL in it is redacted.
  const why = redactUrls(cleanMessage(e));
  const hint = isApi(client, url) ? "check your network connection (and FLEDGE_GITHUB_API_URL / GITHUB_API_URL if set)" : "the GitHub API redirected there; check your network connection";
  return new FledgeError(`cannot reach ${targetName(client, url)}: ${why}`, { code: "network", hint });
}

interface Raw {
  status: number;
  headers: Headers;
  url: URL;
  body: ReadableStream<Uint8Array> | null;
  /** Aborting closes the connection (used by the idle timeout and the size caps). */
  abort: AbortController;
}

/**
 * One GET with manual redirects, retries with exponential backoff on 5xx and network
 * errors. No answer (not even headers) within the idle time is an error at once: a
 * stalled server is not retried into four times the wait.
 */
async function request(client: GithubClient, target: string, opts: RequestOptions): Promise<Raw> {
  let url: URL;
  try {
    url = new URL(target.startsWith("http") ? target : `${client.base}${target}`);
  } catch {
    throw new FledgeError(`GitHub: the address for ${renderUntrusted(opts.notFound)} is not a valid URL`, { code: "github_error", hint: "the server sent a broken address (e.g. a release asset URL); try again later" });
  }
  const accept = opts.accept ?? "application/vnd.github+json";
  for (let redirects = 0; ; redirects++) {
    let res: Raw | undefined;
    for (let attempt = 0; ; attempt++) {
      const abort = new AbortController();
      const watch = idleWatch(client.idleMs, () => abort.abort());
      try {
        const r = await fetch(url.href, { headers: headersFor(client, url, accept), redirect: "manual", signal: abort.signal });
        res = { status: r.status, headers: r.headers, url, body: r.body, abort };
      } catch (e) {
        if (watch.fired()) throw idleError(`waiting for ${targetName(client, url)} to answer`, client.idleMs / 1000);
        if (attempt < RETRIES) {
          await sleep(RETRY_BASE_MS * 2 ** attempt);
          continue;
        }
        throw networkError(client, url, e);
      } finally {
        watch.stop();
      }
      if (res.status >= 500 && attempt < RETRIES) {
        await cancelBody(res.body);
        await sleep(RETRY_BASE_MS * 2 ** attempt);
        continue;
      }
      break;
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await cancelBody(res.body);
      if (redirects >= MAX_REDIRECTS) throw new FledgeError(`GitHub: too many redirects for ${renderUntrusted(opts.notFound)}`, { code: "github_error" });
      url = redirectTarget(location, url, opts);
      continue;
    }
    if (res.status < 200 || res.status >= 300) {
      await cancelBody(res.body);
      throw httpError(res.status, res.headers, url, opts, client);
    }
    return res;
  }
}

/** Where a redirect goes: an http(s) URL, or the server's answer is refused (never a TypeError). */
function redirectTarget(location: string, from: URL, opts: RequestOptions): URL {
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    throw new FledgeError(`GitHub: the server redirected ${renderUntrusted(opts.notFound)} to an invalid address`, { code: "github_bad_redirect", hint: "the server (or a proxy in between) sent a broken Location header; try again later or check FLEDGE_GITHUB_API_URL" });
  }
  if (to.protocol !== "https:" && to.protocol !== "http:") {
    throw new FledgeError(`GitHub: the server redirected ${renderUntrusted(opts.notFound)} to a '${renderUntrusted(to.protocol.replace(/:$/, ""))}' address, which fledge does not follow`, { code: "github_bad_redirect", hint: "only http(s) redirects are followed; check FLEDGE_GITHUB_API_URL" });
  }
  return to;
}

/** An object from server JSON, or undefined for null, arrays and other types (server data is untrusted). */
function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

async function cancelBody(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body) await body.cancel().catch(() => undefined);
}

/** A JSON answer, read under the idle timeout and the MAX_JSON_BYTES cap while it streams. */
async function getJson<T>(client: GithubClient, path: string, notFound: string): Promise<T> {
  const r = await request(client, path, { notFound, kind: "json" });
  const what = `the GitHub API answer for ${notFound}`;
  const declared = Number.parseInt(r.headers.get("content-length") ?? "", 10);
  if (Number.isFinite(declared) && declared > MAX_JSON_BYTES) {
    r.abort.abort();
    await cancelBody(r.body);
    throw tooLargeError(what, MAX_JSON_BYTES);
  }
  const parts: Uint8Array[] = [];
  if (r.body) {
    try {
      await readBody(r.body, { cap: MAX_JSON_BYTES, idleMs: client.idleMs, what, abort: r.abort, onChunk: (c) => void parts.push(c) });
    } catch (e) {
      if (e instanceof FledgeError) throw e;
      throw networkError(client, r.url, e);
    }
  }
  const text = Buffer.concat(parts).toString("utf8");
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new FledgeError(`${what} is not valid JSON`, { code: "github_error", hint: "GitHub may be having problems; try again later" });
  }
}

const seg = encodeURIComponent;

/** The repository's default branch. */
export async function defaultBranch(client: GithubClient, owner: string, repo: string): Promise<string> {
  const r = await getJson<{ default_branch?: unknown }>(client, `/repos/${seg(owner)}/${seg(repo)}`, `repository ${renderUntrusted(owner)}/${renderUntrusted(repo)}`);
  if (typeof r?.default_branch !== "string" || r.default_branch === "") throw new FledgeError(`GitHub: no default branch for ${renderUntrusted(owner)}/${renderUntrusted(repo)}`, { code: "github_error", hint: "the server did not answer like the GitHub API; check FLEDGE_GITHUB_API_URL / GITHUB_API_URL, or try again later" });
  return r.default_branch;
}

/** Resolve a branch, tag or SHA (default branch when null) to a full commit SHA. */
export async function resolveCommit(client: GithubClient, owner: string, repo: string, ref: string | null): Promise<{ sha: string; ref: string }> {
  const name = ref ?? (await defaultBranch(client, owner, repo));
  const r = await getJson<{ sha?: unknown }>(client, `/repos/${seg(owner)}/${seg(repo)}/commits/${seg(name)}`, `ref '${name}' in ${renderUntrusted(owner)}/${renderUntrusted(repo)}`);
  if (typeof r?.sha !== "string" || !/^[0-9a-f]{40}$/i.test(r.sha)) throw new FledgeError(`GitHub returned no commit for '${name}' in ${renderUntrusted(owner)}/${renderUntrusted(repo)}`, { code: "github_error", hint: "the server did not answer like the GitHub API; check FLEDGE_GITHUB_API_URL / GITHUB_API_URL, or try again later" });
  return { sha: r.sha.toLowerCase(), ref: name };
}

/**
 * Stream a URL's body to `file`, refusing more than `maxBytes`. A connection that
 * drops mid-download is an error (the caller removes the partial file with staging).
 */
async function downloadTo(client: GithubClient, target: string, file: string, what: string, maxBytes: number, accept?: string): Promise<number> {
  const r = await request(client, target, { notFound: what, kind: "stream", ...(accept ? { accept } : {}) });
  const body = r.body;
  if (!body) throw new FledgeError(`GitHub sent an empty response for ${renderUntrusted(what)}`, { code: "github_error" });
  const total = Number.parseInt(r.headers.get("content-length") ?? "", 10);
  if (Number.isFinite(total) && total > maxBytes) {
    r.abort.abort();
    await cancelBody(body);
    throw tooLargeError(`the download of ${what}`, maxBytes);
  }
  const out = createWriteStream(file, { mode: 0o600 });
  let got = 0;
  let lastShown = 0;
  try {
    got = await readBody(body, {
      cap: maxBytes,
      idleMs: client.idleMs,
      what: `the download of ${renderUntrusted(what)} from ${targetName(client, r.url)}`,
      abort: r.abort,
      onChunk: async (chunk, sofar) => {
        if (!out.write(chunk)) await new Promise<void>((res) => out.once("drain", res));
        if (client.progress && sofar - lastShown > 64 * 1024) {
          lastShown = sofar;
          const pct = Number.isFinite(total) && total > 0 ? ` (${Math.min(100, Math.round((sofar / total) * 100))}%)` : "";
          process.stderr.write(`\r  downloading ${renderUntrusted(what)}: ${(sofar / 1024 / 1024).toFixed(1)} MiB${pct}   `);
        }
      },
    });
    if (Number.isFinite(total) && got < total) throw new Error(`connection closed after ${got} of ${total} bytes`);
  } catch (e) {
    out.destroy();
    if (e instanceof FledgeError) throw e;
    throw new FledgeError(`the download of ${renderUntrusted(what)} from ${targetName(client, r.url)} failed: ${redactUrls(cleanMessage(e))}`, { code: "network", hint: "check your network connection and try again" });
  } finally {
    if (client.progress && lastShown > 0) process.stderr.write("\n");
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  return got;
}

export const MAX_TARBALL_BYTES = 128 * 1024 * 1024;
export const MAX_ASSET_BYTES = 256 * 1024 * 1024;

/** Download the tarball of commit `sha` to `file`. */
export async function downloadTarball(client: GithubClient, owner: string, repo: string, sha: string, file: string): Promise<void> {
  await downloadTo(client, `/repos/${seg(owner)}/${seg(repo)}/tarball/${seg(sha)}`, file, `${renderUntrusted(owner)}/${renderUntrusted(repo)}@${sha.slice(0, 12)}`, MAX_TARBALL_BYTES);
}

export interface ReleaseAsset {
  name: string;
  /** API URL of the asset (download with Accept: application/octet-stream). */
  url: string;
  size: number;
}

/** The release for `tag`, or null when there is none (a 404 is not an error here). */
export async function releaseAssets(client: GithubClient, owner: string, repo: string, tag: string): Promise<ReleaseAsset[] | null> {
  try {
    const r = await getJson<{ assets?: unknown }>(client, `/repos/${seg(owner)}/${seg(repo)}/releases/tags/${seg(tag)}`, `release '${tag}' of ${renderUntrusted(owner)}/${renderUntrusted(repo)}`);
    if (!Array.isArray(r?.assets)) return [];
    const out: ReleaseAsset[] = [];
    for (const a of r.assets as unknown[]) {
      const x = record(a);
      if (x && typeof x.name === "string" && typeof x.url === "string") out.push({ name: x.name, url: x.url, size: typeof x.size === "number" ? x.size : 0 });
    }
    return out;
  } catch (e) {
    if (e instanceof FledgeError && e.code === "github_not_found") return null;
    throw e;
  }
}

export async function downloadAsset(client: GithubClient, asset: ReleaseAsset, file: string): Promise<void> {
  await downloadTo(client, asset.url, file, `release asset ${asset.name}`, MAX_ASSET_BYTES, "application/octet-stream");
}

/** Tag names, newest first as GitHub lists them (first page). */
export async function listTags(client: GithubClient, owner: string, repo: string): Promise<string[]> {
  const r = await getJson<unknown>(client, `/repos/${seg(owner)}/${seg(repo)}/tags?per_page=100`, `tags of ${renderUntrusted(owner)}/${renderUntrusted(repo)}`);
  if (!Array.isArray(r)) return [];
  return r.map((t) => record(t)?.name).filter((n): n is string => typeof n === "string");
}

/** Tags with the commit each points at (first page, as GitHub lists them). */
export async function listTagCommits(client: GithubClient, owner: string, repo: string): Promise<{ name: string; sha: string }[]> {
  const r = await getJson<unknown>(client, `/repos/${seg(owner)}/${seg(repo)}/tags?per_page=100`, `tags of ${renderUntrusted(owner)}/${renderUntrusted(repo)}`);
  if (!Array.isArray(r)) return [];
  const out: { name: string; sha: string }[] = [];
  for (const t of r) {
    const x = record(t);
    const sha = record(x?.commit)?.sha;
    if (typeof x?.name === "string" && typeof sha === "string") out.push({ name: x.name, sha });
  }
  return out;
}

export interface SearchItem {
  owner: string;
  name: string;
  full_name: string;
  description: string;
  stars: number;
  url: string;
  topics: string[];
}

/** `GET /search/repositories` with an already-built `q`. */
export async function searchRepositories(client: GithubClient, q: string, limit: number): Promise<SearchItem[]> {
  const query = new URLSearchParams({ q, sort: "stars", per_page: String(limit) });
  const r = await getJson<{ items?: unknown }>(client, `/search/repositories?${query.toString()}`, "search results");
  if (!Array.isArray(r?.items)) throw new FledgeError("unexpected GitHub API response: no 'items' array", { code: "github_error", hint: "the server did not answer like the GitHub API; check FLEDGE_GITHUB_API_URL / GITHUB_API_URL, or try again later" });
  // Items that are not objects, or name no repository, are skipped: server data is untrusted.
  return (r.items as unknown[]).flatMap((raw) => {
    const it = record(raw);
    if (!it) return [];
    const full = typeof it.full_name === "string" ? it.full_name : "";
    const login = record(it.owner)?.login;
    const item = {
      owner: typeof login === "string" ? login : (full.split("/")[0] ?? ""),
      name: typeof it.name === "string" ? it.name : (full.split("/")[1] ?? ""),
      full_name: full,
      description: typeof it.description === "string" ? it.description : "No description",
      stars: typeof it.stargazers_count === "number" ? it.stargazers_count : 0,
      url: typeof it.html_url === "string" ? it.html_url : "",
      topics: Array.isArray(it.topics) ? it.topics.filter((t): t is string => typeof t === "string") : [],
    };
    return item.owner !== "" && item.name !== "" ? [item] : [];
  });
}
