/**
 * The `project` part of `init`, and the project root that bounds exec's cwd and
 * roots metadata. Detected from fledge's cwd: the git top-level when inside a work
 * tree, else the cwd itself.
 */
import { existsSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { filterOffArgs, gitCommand } from "../core/programs.ts";

export interface GitInfo {
  branch: string;
  dirty: boolean;
  remote: string;
  remote_url: string;
}

export interface ProjectInfo {
  name: string;
  root: string;
  language: string;
  git: GitInfo | null;
}

/**
 * Run fledge's own git in a project with a clean, non-interactive setup; undefined when
 * git fails or is missing. The project may hold a repository a plugin wrote (a `.git`
 * planted in a subfolder), so git is the absolute one (core/programs.ts) and nothing
 * its configuration names runs: fsmonitor and hooks are off there, and for `status`
 * (the one command here that may run filter drivers) every driver the configuration
 * names is switched off too; submodules, which have configurations of their own, are
 * not looked into.
 */
export function git(args: string[], cwd: string): string | undefined {
  try {
    let extra: string[] = [];
    if (args[0] === "status") {
      const filters = gitRun(["config", "--name-only", "--get-regexp", "^filter\\."], cwd, true);
      const off = filterOffArgs(filters ?? "");
      if (off === undefined) return undefined;
      extra = off;
      args = [args[0], "--ignore-submodules=all", ...args.slice(1)];
    }
    return gitRun([...extra, ...args], cwd, false);
  } catch {
    return undefined;
  }
}

/** One git child; `emptyOk`: exit 1 (git config found nothing) is an empty answer. */
function gitRun(args: string[], cwd: string, emptyOk: boolean): string | undefined {
  const argv = gitCommand(args);
  const r = Bun.spawnSync(argv, {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "ignore",
    env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" },
  });
  if (r.exitCode === 1 && emptyOk) return "";
  if (r.exitCode !== 0) return undefined;
  return r.stdout.toString();
}

/** Marker files, most specific first. */
const LANGUAGE_MARKERS: ReadonlyArray<readonly [string, string]> = [
  ["Cargo.toml", "rust"],
  ["tsconfig.json", "typescript"],
  ["package.json", "javascript"],
  ["go.mod", "go"],
  ["pyproject.toml", "python"],
  ["setup.py", "python"],
  ["requirements.txt", "python"],
  ["Package.swift", "swift"],
  ["Gemfile", "ruby"],
  ["build.gradle.kts", "kotlin"],
  ["pom.xml", "java"],
  ["build.gradle", "java"],
  ["mix.exs", "elixir"],
  ["composer.json", "php"],
  ["deno.json", "typescript"],
  ["CMakeLists.txt", "cpp"],
];

export function detectLanguage(root: string): string {
  for (const [marker, language] of LANGUAGE_MARKERS) {
    if (existsSync(join(root, marker))) return language;
  }
  return "unknown";
}

/**
 * Remove userinfo from http(s) remotes so a token embedded in a clone URL
 * (`https://x-access-token:ghp_…@github.com/…`) never reaches a plugin.
 */
export function stripUrlCredentials(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@]*@/i, "$1");
}

export function detectGit(root: string): GitInfo | null {
  const branch = git(["rev-parse", "--abbrev-ref", "HEAD"], root)?.trim();
  if (!branch) return null;
  const dirty = (git(["status", "--porcelain"], root) ?? "").trim() !== "";
  const remote = (git(["remote"], root) ?? "").split("\n")[0]?.trim() || "origin";
  const remoteUrl = git(["remote", "get-url", remote], root)?.trim() ?? "";
  return { branch, dirty, remote, remote_url: stripUrlCredentials(remoteUrl) };
}

/** The project root for a cwd: the git top-level if any, else the cwd (both real paths). */
export function findProjectRoot(cwd: string = process.cwd()): string {
  const top = git(["rev-parse", "--show-toplevel"], cwd)?.trim();
  const root = top || cwd;
  try {
    return realpathSync(root);
  } catch {
    return root;
  }
}

/** Project info for `init`; null only when the cwd cannot be read. */
export function detectProject(cwd: string = process.cwd()): ProjectInfo | null {
  if (!existsSync(cwd)) return null;
  const root = findProjectRoot(cwd);
  return { name: basename(root) || "unknown", root, language: detectLanguage(root), git: detectGit(root) };
}
