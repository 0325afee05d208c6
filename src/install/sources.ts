/**
 * Materialize a parsed source into `staging.tree`: a GitHub tarball through the REST
 * API, another git URL through `git clone`, or a local directory as a live link or a
 * copy. Nothing here decides trust; it only fetches what `checkSourceSafety` allowed.
 */
import { spawn } from "node:child_process";
import { gitCommand } from "../core/programs.ts";
import { chmodSync, copyFileSync, createReadStream, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { resolveInside } from "../manifest/index.ts";
import { credentialedCloneUrl, type Source } from "../trust/index.ts";
import { FledgeError } from "../core/index.ts";
import { archiveError, checkTarballCommit, extractTarGz } from "./archive.ts";
import { downloadTarball, resolveCommit, type GithubClient } from "./github.ts";
import { gitNetworkArgs, idleError, redactUrl, redactUrls, watchChild } from "./net.ts";
import type { Staging } from "./staging.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export interface Materialized {
  /** Resolved commit SHA (GitHub and git sources). */
  commit?: string;
  /** The ref that was resolved (the default branch when none was given). */
  resolvedRef?: string;
  /** For a local source: its canonical absolute path (what the registry stores). */
  localPath?: string;
  linked: boolean;
}

export interface MaterializeOptions {
  copy: boolean;
  github: GithubClient;
  /** Working directory local paths are relative to. */
  cwd: string;
}

export async function materialize(source: Source, staging: Staging, opts: MaterializeOptions): Promise<Materialized> {
  switch (source.kind) {
    case "github":
      return fromGithub(source, staging, opts.github);
    case "git":
      return fromGit(source, staging, opts.github.idleMs / 1000); // the same idle time as every request
    case "local":
      return fromLocal(source, staging, opts);
  }
}

async function fromGithub(source: Source, staging: Staging, client: GithubClient): Promise<Materialized> {
  const owner = source.owner!;
  const repo = source.repo!;
  const { sha, ref } = await resolveCommit(client, owner, repo, source.ref);
  const archive = join(staging.scratch, "source.tar.gz");
  await downloadTarball(client, owner, repo, sha, archive);
  const identity = await extractTarGz(createReadStream(archive), staging.tree);
  checkTarballCommit(identity, sha, `${owner}/${repo}@${ref}`);
  rmSync(archive, { force: true });
  return { commit: sha, resolvedRef: ref, linked: false };
}

/** Hide URL credentials and queries in git's output (and its progress lines). */
function scrub(text: string, secret: string | null): string {
  const out = secret ? text.split(secret).join("<url>") : text;
  const lines = out
    .split(/\r|\n/)
    .filter((l) => !/^(remote: )?(Counting|Compressing|Enumerating|Receiving|Resolving|Updating|Total|Cloning into)\b/.test(l.trim()) && l.trim() !== "");
  return redactUrls(lines.join("\n"));
}

/**
 * Run git with prompts disabled and no repository hooks. Output is captured (and
 * scrubbed of credentials) for the error message: git echoes URLs it was given.
 */
function git(args: string[], cwd: string, secret: string | null, idleSeconds?: number): Promise<{ code: number; out: string; stalled?: boolean }> {
  return new Promise((res, rej) => {
    const net = idleSeconds === undefined ? [] : gitNetworkArgs(idleSeconds);
    let argv: string[];
    try {
      argv = gitCommand(["-c", "advice.detachedHead=false", ...net, ...args]);
    } catch (e) {
      rej(new FledgeError(`cannot run git: ${renderUntrusted((e as Error).message)}`, { cause: e, code: "git_missing", hint: "install git to use git URLs as plugin sources" }));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", SSH_ASKPASS: "", GCM_INTERACTIVE: "never" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const watch = idleSeconds === undefined ? undefined : watchChild(child, idleSeconds);
    child.stdout.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
    child.stderr.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-64 * 1024)));
    child.on("error", (e) => rej(new FledgeError(`cannot run git: ${renderUntrusted(e.message)}`, { cause: e, code: "git_missing", hint: "install git to use git URLs as plugin sources" })));
    child.on("close", (code) => res({ code: code ?? 1, out: scrub(out.trim(), secret), ...(watch?.fired() ? { stalled: true } : {}) }));
  });
}

async function fromGit(source: Source, staging: Staging, idleSeconds: number): Promise<Materialized> {
  const url = credentialedCloneUrl(source) ?? source.cloneUrl;
  if (!url) throw new FledgeError(`no clone URL for ${renderUntrusted(source.input)}`, { code: "invalid_source" });
  const secret = url !== source.cloneUrl ? url : null;
  // `--` ends the options: the URL and path can never be read as flags. Without a ref
  // a shallow clone is enough; a ref may be any commit, so clone fully, then check out.
  // --progress: a transfer that moves prints, which is what the idle watchdog watches.
  const clone = source.ref === null ? ["clone", "--depth", "1", "--progress", "--", url, staging.tree] : ["clone", "--progress", "--no-checkout", "--", url, staging.tree];
  const c = await git(clone, staging.dir, secret, idleSeconds);
  // Our watchdog, or git's own low-speed rule for http(s) ("Operation too slow"): both are the idle timeout.
  if (c.stalled || /operation too slow/i.test(c.out)) throw idleError(`git clone of ${redactUrl(source.base)}`, idleSeconds);
  if (c.code !== 0) {
    throw new FledgeError(`git clone of ${renderUntrusted(redactUrl(source.base))} failed${c.out ? `: ${renderUntrusted(c.out)}` : ""}`, { code: "git_clone_failed", hint: "check the repository URL, your network connection and your git credentials" });
  }
  if (source.ref !== null) {
    // checkSourceSafety already refused refs starting with '-'; the trailing `--` also
    // makes git read the ref as a revision, never as a path or an option.
    const co = await git(["checkout", "--quiet", source.ref, "--"], staging.tree, secret);
    if (co.code !== 0) {
      throw new FledgeError(`ref '${renderUntrusted(source.ref)}' not found in ${renderUntrusted(redactUrl(source.base))}${co.out ? `: ${renderUntrusted(co.out)}` : ""}`, { code: "git_ref_not_found", hint: `list the tags with: git ls-remote --tags ${renderUntrusted(redactUrl(source.base))}` });
    }
  }
  const head = await git(["rev-parse", "HEAD"], staging.tree, secret);
  const commit = head.code === 0 && /^[0-9a-f]{40,64}$/.test(head.out) ? head.out : undefined;
  // The registry keeps the commit; the plugin dir does not need git's metadata (and
  // a .git dir would let `git` commands in hooks act on a repository we cloned).
  rmSync(join(staging.tree, ".git"), { recursive: true, force: true });
  return { ...(commit ? { commit } : {}), ...(source.ref ? { resolvedRef: source.ref } : {}), linked: false };
}

function expandHome(p: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return p;
}

/** The absolute folder a local source names (`~` expanded, relative to `cwd`). */
export function localFolder(source: Source, cwd: string): string {
  const raw = expandHome(source.path);
  return isAbsolute(raw) ? raw : resolve(cwd, raw);
}

async function fromLocal(source: Source, staging: Staging, opts: MaterializeOptions): Promise<Materialized> {
  const abs = localFolder(source, opts.cwd);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw new FledgeError(`local plugin path '${renderUntrusted(source.path)}' does not exist`, { code: "local_not_found" });
  }
  if (!statSync(real).isDirectory()) throw new FledgeError(`local plugin path '${renderUntrusted(source.path)}' is not a directory`, { code: "local_not_found" });
  if (opts.copy) {
    copyTree(real, staging.tree);
  } else {
    // A live link: the plugin dir IS the author's working tree. Removal only ever
    // unlinks this symlink (see removePath), never the target.
    symlinkSync(real, staging.tree, "dir");
  }
  return { localPath: real, linked: !opts.copy };
}

/**
 * Snapshot a local plugin for `--copy`, under the same rules as an archive: regular
 * files (mode reduced to 0644/0755), directories, and symlinks that resolve inside the
 * copy. `.git` is skipped; devices and FIFOs are refused.
 */
const COPY = "to copy the local plugin";

export function copyTree(from: string, to: string): void {
  const links: string[] = [];
  const walk = (rel: string): void => {
    const dst = rel ? join(to, rel) : to;
    mkdirSync(dst, { mode: 0o755 });
    for (const name of readdirSync(rel ? join(from, rel) : from).sort()) {
      if (!rel && name === ".git") continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(from, r));
      if (st.isSymbolicLink()) {
        const target = readlinkSync(join(from, r));
        if (isAbsolute(target)) throw archiveError(`symlink '${renderUntrusted(r)}' points at the absolute path '${renderUntrusted(target)}'`, COPY);
        symlinkSync(target, join(to, r));
        links.push(r);
      } else if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        copyFileSync(join(from, r), join(to, r));
        chmodSync(join(to, r), st.mode & 0o111 ? 0o755 : 0o644);
      } else throw archiveError(`'${renderUntrusted(r)}' is a device, FIFO or socket`, COPY);
    }
  };
  walk("");
  for (const r of links) {
    const res = resolveInside(to, r);
    if (!("path" in res)) throw archiveError(`symlink '${renderUntrusted(r)}' resolves outside the plugin`, COPY);
  }
}
