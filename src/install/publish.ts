/**
 * `fledge plugins publish`: put a plugin folder on GitHub where `search` finds it.
 * Validate the manifest, make sure the repository `<owner>/<plugin.name>` exists
 * (created through the REST API when it does not), give it the `fledge-plugin` topic,
 * then push the folder's current commit with git.
 *
 * The token goes only to the API (Authorization header, API origin only, as every
 * other request). git pushes to `<owner>/<name>.git` on the API's own web host (see
 * publishRemote; never to a URL from the server) and gets the token only for
 * github.com (as an http.extraheader in git's environment, never in the URL, argv or a
 * file); any other host is pushed to with the user's own git credentials.
 */
import { spawnSync } from "node:child_process";
import { gitCommand } from "../core/programs.ts";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { loadManifest, type Manifest } from "../manifest/index.ts";
import { loadConfig } from "../registry/index.ts";
import { FledgeError, log } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { githubApiToken, githubClient, githubWeb, type GithubClient } from "./github.ts";
import { PLUGIN_TOPIC } from "./search.ts";

export interface PublishOptions {
  path: string;
  org?: string;
  private: boolean;
  description?: string;
  env: NodeJS.ProcessEnv;
  /** Asked once the plan is known; false cancels before anything is created or pushed. */
  confirm: (plan: PublishPlan) => Promise<boolean>;
}

export interface PublishPlan {
  owner: string;
  name: string;
  dir: string;
  private: boolean;
  exists: boolean;
  manifest: Manifest;
  /** Where the commit is pushed (shown in the confirmation; never taken from the server). */
  remote: string;
}

export interface PublishResult {
  cancelled: boolean;
  repo: { owner: string; name: string; url: string; created: boolean; private: boolean };
  plugin: { name: string; version: string; description: string };
  topic: string;
  install_hint: string;
}

const MAX_ANSWER = 1024 * 1024;
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** One API call with a JSON body. Redirects are not followed: a write goes where it was sent or nowhere. */
async function api(client: GithubClient, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const url = new URL(`${client.base}${path}`);
  const headers: Record<string, string> = { accept: "application/vnd.github+json", "user-agent": "fledge-cli", "x-github-api-version": "2022-11-28" };
  if (client.token) headers.authorization = `Bearer ${client.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url.href, { method, headers, redirect: "manual", body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(client.idleMs) });
  } catch (e) {
    throw new FledgeError(`cannot reach the GitHub API at ${renderUntrusted(client.base)}: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { cause: e, code: "network", hint: "check your network connection (and FLEDGE_GITHUB_API_URL if set)" });
  }
  const text = await res.text();
  if (text.length > MAX_ANSWER) throw new FledgeError(`the GitHub API answer to ${method} ${path} is too large`, { code: "github_error" });
  let json: Record<string, unknown> | undefined;
  try {
    const v: unknown = text === "" ? undefined : JSON.parse(text);
    json = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

function apiError(what: string, status: number, json: Record<string, unknown> | undefined): FledgeError {
  const msg = typeof json?.message === "string" ? `: ${renderUntrusted(json.message, 200)}` : "";
  if (status === 401) return new FledgeError(`GitHub rejected the token while ${what} (401)${msg}`, { code: "github_auth", hint: "log in again with 'gh auth login', or set a valid FLEDGE_GITHUB_TOKEN" });
  if (status === 403) return new FledgeError(`GitHub refused ${what} (403)${msg}`, { code: "github_forbidden", hint: "the token needs the 'repo' scope (or 'public_repo' for a public repository)" });
  return new FledgeError(`GitHub API error ${status} while ${what}${msg}`, { code: "github_error", hint: "try again later" });
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** fledge's git command line (core/programs.ts), or the error that says git is missing. */
function publishGit(args: string[], step: string, env: NodeJS.ProcessEnv): string[] {
  try {
    return gitCommand(args, env.PATH);
  } catch (e) {
    throw new FledgeError(`cannot run git to ${step}: ${renderUntrusted((e as Error).message)}`, { cause: e, code: "git_missing", hint: "install git (apt-get install git) and try again" });
  }
}

/** Run git in `dir`; returns stdout, throws a FledgeError naming the step on failure. */
function git(dir: string, args: string[], step: string, env: NodeJS.ProcessEnv): string {
  const [exe, ...argv] = publishGit(args, step, env);
  const r = spawnSync(exe!, argv, { cwd: dir, env: { ...env, GIT_TERMINAL_PROMPT: "0" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  if (r.error) throw new FledgeError(`cannot run git to ${step}: ${renderUntrusted(r.error.message)}`, { cause: r.error, code: "git_missing", hint: "install git (apt-get install git) and try again" });
  if (r.status !== 0) {
    throw new FledgeError(`git failed to ${step} (exit ${r.status}): ${renderUntrusted(r.stderr.trim().split("\n").slice(-3).join(" / "), 400)}`, { code: "git_failed", hint: "see git's message; fix it and run 'fledge plugins publish' again" });
  }
  return r.stdout;
}

/**
 * THE decision on where `publish` pushes: the repository the user confirmed,
 * `<owner>/<name>.git` on the web side of the GitHub API fledge talks to (github.com
 * for api.github.com). Never a URL the server hands back: a hostile or confused server
 * could name a repository on this disk (whose hooks git would run with the user's
 * rights) or another host. Owner and name are already checked against GitHub's rules.
 */
export function publishRemote(env: NodeJS.ProcessEnv, owner: string, name: string): { push: string; web: string } {
  const web = `${githubWeb(env).origin}/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
  return { push: `${web}.git`, web };
}

/**
 * The environment git pushes with: only the push URL's own protocol is allowed (no
 * file, ext or other transport, whatever a config or redirect says), and the token
 * goes as an extra header only to github.com.
 */
function pushEnv(env: NodeJS.ProcessEnv, pushUrl: string, token: string | undefined): NodeJS.ProcessEnv {
  const u = new URL(pushUrl);
  env = { ...env, GIT_ALLOW_PROTOCOL: u.protocol.replace(/:$/, ""), GIT_TERMINAL_PROMPT: "0" };
  if (!token || u.host !== "github.com") return env;
  const n = Number.parseInt(env.GIT_CONFIG_COUNT ?? "0", 10) || 0;
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  return { ...env, GIT_CONFIG_COUNT: String(n + 1), [`GIT_CONFIG_KEY_${n}`]: "http.https://github.com/.extraheader", [`GIT_CONFIG_VALUE_${n}`]: `Authorization: Basic ${basic}` };
}

/** Make sure `dir` is a git work tree with at least one commit; returns the branch to push. */
function ensureCommitted(dir: string, name: string, owner: string, env: NodeJS.ProcessEnv): string {
  if (!existsSync(resolve(dir, ".git"))) {
    git(dir, ["init", "-q", "-b", "main"], "create a git repository in the plugin folder", env);
  }
  const [exe, ...headArgs] = publishGit(["rev-parse", "--verify", "-q", "HEAD"], "find the current commit", env);
  const hasHead = spawnSync(exe!, headArgs, { cwd: dir, env, stdio: "ignore" }).status === 0;
  if (!hasHead) {
    git(dir, ["add", "-A"], "stage the plugin's files", env);
    const [gitExe, ...idArgs] = publishGit(["config", "user.email"], "read the commit identity", env);
    const identity = spawnSync(gitExe!, idArgs, { cwd: dir, env, encoding: "utf8" }).stdout?.trim();
    const who = identity ? [] : ["-c", `user.name=${owner}`, "-c", `user.email=${owner}@users.noreply.github.com`];
    git(dir, [...who, "commit", "-q", "-m", `Initial commit of the ${name} fledge plugin`], "make the first commit", env);
  } else if (git(dir, ["status", "--porcelain"], "check for uncommitted changes", env).trim() !== "") {
    log.warn("the plugin folder has uncommitted changes: only what is committed is pushed");
  }
  const branch = git(dir, ["rev-parse", "--abbrev-ref", "HEAD"], "find the current branch", env).trim();
  return branch === "HEAD" || branch === "" ? "main" : branch;
}

export async function publishPlugin(o: PublishOptions): Promise<PublishResult> {
  const dir = resolve(o.path);
  const result = loadManifest(dir, { pluginDir: dir });
  if (!result.manifest || result.errors.length > 0) {
    const lines = result.errors.slice(0, 5).map((p) => `  - ${p.path ? `${renderUntrusted(p.path)}: ` : ""}${renderUntrusted(p.message)}`);
    throw new FledgeError(`the plugin in ${renderUntrusted(dir)} does not validate, so it was not published:\n${lines.join("\n")}`, { code: "manifest_invalid", hint: `run 'fledge plugins validate ${renderUntrusted(o.path)}' and fix what it reports` });
  }
  const manifest = result.manifest;
  const name = manifest.plugin.name;
  if (o.org !== undefined && !OWNER.test(o.org)) throw new FledgeError(`'${renderUntrusted(o.org)}' is not a GitHub organization name`, { code: "usage", exitCode: 2 });
  const config = loadConfig(o.env);
  const token = githubApiToken(o.env, config);
  if (!token) {
    throw new FledgeError("publishing needs a GitHub token, and none was found", {
      code: "github_auth",
      hint: "log in with 'gh auth login', or set FLEDGE_GITHUB_TOKEN (or [github] token in config.toml)",
    });
  }
  const client = githubClient(o.env, token);
  let owner = o.org;
  if (owner === undefined) {
    const me = await api(client, "GET", "/user");
    if (me.status !== 200) throw apiError("reading the account the token belongs to", me.status, me.json);
    owner = str(me.json?.login);
    if (!owner || !OWNER.test(owner)) throw new FledgeError("the GitHub API did not say which account the token belongs to", { code: "github_error" });
  }
  const existing = await api(client, "GET", `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`);
  if (existing.status !== 200 && existing.status !== 404) throw apiError(`looking up ${owner}/${name}`, existing.status, existing.json);
  const exists = existing.status === 200;
  const description = o.description ?? manifest.plugin.description ?? "";
  const remote = publishRemote(o.env, owner, name);
  const base: PublishResult = {
    cancelled: true,
    repo: { owner, name, url: remote.web, created: false, private: exists ? existing.json?.private === true : o.private },
    plugin: { name, version: manifest.plugin.version, description },
    topic: PLUGIN_TOPIC,
    install_hint: `fledge plugins install ${owner}/${name}`,
  };
  if (!(await o.confirm({ owner, name, dir, private: o.private, exists, manifest, remote: remote.push }))) return base;

  let repoJson = existing.json;
  if (!exists) {
    const created = await api(client, "POST", o.org !== undefined ? `/orgs/${encodeURIComponent(owner)}/repos` : "/user/repos", { name, description, private: o.private, has_issues: true });
    if (created.status !== 201 && created.status !== 200) throw apiError(`creating ${owner}/${name}`, created.status, created.json);
    repoJson = created.json;
  }
  const topics = Array.isArray(repoJson?.topics) ? (repoJson.topics as unknown[]).filter((t): t is string => typeof t === "string") : [];
  if (!topics.includes(PLUGIN_TOPIC)) {
    const put = await api(client, "PUT", `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/topics`, { names: [...topics, PLUGIN_TOPIC] });
    if (put.status !== 200) throw apiError(`adding the ${PLUGIN_TOPIC} topic to ${owner}/${name}`, put.status, put.json);
  }
  const branch = ensureCommitted(dir, name, owner, o.env);
  log.info(`pushing ${branch} to ${renderUntrusted(remote.push)}`);
  git(dir, ["push", "-q", "--", remote.push, `HEAD:refs/heads/${branch}`], `push to ${owner}/${name}`, pushEnv(o.env, remote.push, token));
  const remotes = git(dir, ["remote"], "list remotes", o.env).split("\n");
  if (!remotes.includes("origin")) git(dir, ["remote", "add", "origin", remote.push], "add the origin remote", o.env);
  return {
    ...base,
    cancelled: false,
    repo: { ...base.repo, created: !exists, private: repoJson?.private === true },
  };
}
