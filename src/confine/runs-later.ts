/**
 * Places where code runs later, outside the confinement, when the user works in a
 * folder: a `.git` (its hooks and `core.fsmonitor` run on `git status`; a `.git` FILE
 * saying `gitdir: /elsewhere` does the same with another folder's config), direnv's
 * `.envrc` (and autoenv's), editors' task and settings folders and files, git hook
 * managers' folders, Mercurial's and Sapling's hooks (`.hg/hgrc`, `.sl/config`),
 * Jujutsu's repository config (its pager and editor run on every command), vim/neovim's
 * and Emacs's per-folder start-up files, tool managers' folder configs (mise, asdf), and
 * a git directory under any name (a bare repository: git discovers it by its contents).
 *
 * Landlock grants a folder as a whole and cannot refuse one NAME inside it, so a
 * writable grant is made of what is around the existing ones (policy.ts), and a new
 * one created during the run is found afterwards and moved aside (never deleted) by
 * quarantineNewRunsLater, once the plugin and everything it started are gone.
 */
import { lstatSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { linkKey, riskyLinkReason } from "./new-links.ts";
import { rawKey, scanRaw, shellQuoteRaw, showRaw, splitUndecodable } from "./raw-names.ts";

/** Entry names (at any depth) never writable in a granted tree, and moved aside when a run creates one. */
export const RUNS_LATER = [
  ".git", // hooks, core.fsmonitor, core.pager; a .git FILE names a gitdir anywhere
  ".hg", // Mercurial: [hooks] in .hg/hgrc
  ".sl", // Sapling: hooks in .sl/config
  ".jj", // Jujutsu: its repository config names the pager and editor every command runs
  ".envrc", // direnv: sourced on cd once allowed
  ".env.leave", // autoenv: sourced on leaving the folder (its .env, the dotenv name, is not watched)
  ".autoenv.zsh", // zsh-autoenv: sourced on cd, after one prompt
  ".autoenv_leave.zsh", // zsh-autoenv: sourced on leaving the folder
  ".vscode", // VS Code: tasks.json (runOn folderOpen), settings naming interpreters and tools
  ".idea", // JetBrains IDEs: run configurations, startup tasks
  ".zed", // Zed: tasks and settings naming language servers
  ".devcontainer", // Dev Containers: initializeCommand runs on the HOST on "Reopen in Container"
  ".devcontainer.json", // Dev Containers: the same file at a folder's top
  ".dir-locals.el", // Emacs: `eval` local variables and mode hooks, after one prompt
  ".dir-locals-2.el", // Emacs: read with .dir-locals.el, same rules
  ".husky", // husky: the git hooks it installs via core.hooksPath
  ".githooks", // a common core.hooksPath folder
  ".pre-commit-config.yaml", // pre-commit: the hooks it fetches and runs on commit
  ".exrc", // vim and neovim 'exrc': sourced on start in the folder
  ".vimrc", // vim 'exrc': sourced on start in the folder
  ".gvimrc", // gvim 'exrc': sourced on start in the folder
  ".nvimrc", // neovim 'exrc' (older releases)
  ".nvim.lua", // neovim 'exrc': Lua sourced on start, once trusted
  ".lvimrc", // vim's localvimrc plugin: sourced on entering the folder, after one prompt
  ".mise.toml", // mise: [env] _.source, hooks and tasks run on cd, once trusted
  "mise.toml", // mise: the same file without the dot
  ".mise.local.toml", // mise: the local override, same rules
  "mise.local.toml", // mise: the local override without the dot
  ".mise", // mise: .mise/config.toml, same rules
  ".tool-versions", // asdf and mise: a `path:` version puts a folder of the plugin's choosing first on PATH
  ".helix", // Helix: languages.toml names the language-server command it starts in the folder
  ".lazy.lua", // lazy.nvim: per-folder plugin spec, Lua run on start in the folder
  ".fleet", // JetBrains Fleet: run configurations and settings naming tools
  ".cargo", // cargo: config.toml's rustc-wrapper and aliases run on `cargo check`, which rust-analyzer runs on open
  "lefthook.yml", // lefthook: the commands its installed hooks run on every commit
  ".lefthook.yml", // lefthook: the same file with a dot
  "lefthook-local.yml", // lefthook: the local override, same rules
  ".lintstagedrc", // lint-staged (run by husky's pre-commit): the commands it runs on commit
  ".lintstagedrc.json", // lint-staged: the same config as JSON
  ".lintstagedrc.yaml", // lint-staged: the same config as YAML
  ".lintstagedrc.yml", // lint-staged: the same config as YAML
  ".lintstagedrc.js", // lint-staged: the same config as code, run on commit
  ".lintstagedrc.cjs", // lint-staged: the same config as CommonJS code
  ".lintstagedrc.mjs", // lint-staged: the same config as ES module code
  "lint-staged.config.js", // lint-staged: config as code, run on commit
  "lint-staged.config.cjs", // lint-staged: the same as CommonJS code
  "lint-staged.config.mjs", // lint-staged: the same as ES module code
  ".overcommit.yml", // overcommit: the hooks its installed git hooks run
  ".simple-git-hooks.json", // simple-git-hooks: the commands its installed hooks run
] as const;
const RUNS_LATER_SET: ReadonlySet<string> = new Set(RUNS_LATER);
/**
 * Name endings that run code the same way, for tools that read any file so named:
 * VS Code's `*.code-workspace` holds settings and tasks like `.vscode` once opened.
 */
export const RUNS_LATER_SUFFIXES = [".code-workspace"] as const;

/** THE test for a runs-later entry by its name: listed, or ending like one. */
export function isRunsLaterName(name: string): boolean {
  return RUNS_LATER_SET.has(name) || RUNS_LATER_SUFFIXES.some((s) => name.endsWith(s) && name.length > s.length);
}
/**
 * Dependency and build folders: searched like the rest (a `vendor/x/.git` or a new
 * `build/.git` runs on `git status` there like any other), but on a budget of their
 * own, since they can be huge; one the budget cannot cover is named in `stopped`.
 */
export const DEPENDENCY_DIRS: ReadonlySet<string> = new Set(["node_modules", "target", ".build", "dist", "build", "vendor"]);

export interface ScanLimits {
  depth: number;
  /** Folders outside DEPENDENCY_DIRS: beyond this the search ends (`complete` false). */
  dirs: number;
  /** Folders inside DEPENDENCY_DIRS: beyond this the dependency folder being searched is given up (named in `stopped`). */
  dependencyDirs: number;
  /**
   * Before the run: a folder whose name is not valid UTF-8 is also named in `stopped`,
   * though searched, so it stays read-only: a rule (a string path) cannot name it.
   */
  stopAtUndecodable?: boolean;
}
/** Before a run: beyond this a writable tree (or the folder named in `stopped`) is granted read-only (a bounded cost at every start). */
export const PRE_RUN_LIMITS: ScanLimits = { depth: 32, dirs: 20_000, dependencyDirs: 20_000, stopAtUndecodable: true };
/** After a run: far deeper and wider (a plugin could nest a `.git` below the pre-run depth). */
const POST_RUN_LIMITS: ScanLimits = { depth: 64, dirs: 500_000, dependencyDirs: 500_000 };

/**
 * THE test for a git directory by git's own rule (a repository without the name `.git`:
 * git discovers such a folder as a bare repository when run inside it), on the folder's
 * entry names. Git wants a `HEAD` and either `refs` and `objects` here or a `commondir`
 * file naming the folder that holds them (a linked worktree's layout, which a plugin can
 * split: `HEAD` and `commondir` in the user's folder, the config elsewhere). Counted
 * generously, `HEAD` with any one of the three: a folder that is almost one costs only
 * its writability. Any entry type counts: git follows symlinks there.
 */
export function isGitDirectory(names: ReadonlySet<string>): boolean {
  return names.has("HEAD") && (names.has("commondir") || names.has("refs") || names.has("objects"));
}

/**
 * What makes a folder a git directory, or points git at code: moved aside after a run
 * that made one. Without `HEAD` git sees no repository there; `commondir` names the
 * folder whose config git would read, `config` and `config.worktree` are the configs
 * themselves (`core.fsmonitor`, `core.hooksPath`, `core.pager`).
 */
export const GIT_DIRECTORY_MAKERS = ["HEAD", "commondir", "config", "config.worktree"] as const;

/**
 * The folder a git directory's `commondir` file names (its config, refs and objects),
 * resolved against the git directory; undefined without one. Git reads that config only
 * through the git directory, but while the git directory is there the common folder is
 * as dangerous as a `.git`: before a run it stays read-only too.
 */
export function commonDirOf(gitDir: string): string | undefined {
  let text: string;
  try {
    // Only a small regular file is read: a FIFO or a device under that name would hang
    // or flood fledge before the run (git would fail on it too).
    const file = join(gitDir, "commondir");
    const st = statSync(file);
    if (!st.isFile() || st.size > 4096) return undefined;
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const named = text.split("\n")[0]!.trim();
  return named === "" ? undefined : resolve(gitDir, named);
}

export interface RunsLaterScan {
  /** Absolute paths of RUNS_LATER entries (files, folders or symlinks; not followed) and of git directories (isGitDirectory) found. */
  found: string[];
  /** Folders the search did not look into: too deep, unreadable, a dependency folder over its budget, or where the folder cap ended it. */
  stopped: string[];
  /** False when the folder cap ended the whole search (its last entry in `stopped` is where). */
  complete: boolean;
  /** Like `found`, below a folder whose name is not valid UTF-8: byte paths (raw-names.ts). */
  foundRaw: Buffer[];
  /** Every symlink met (not followed): a new one is checked after the run (new-links.ts). */
  links: string[];
}

/** Every RUNS_LATER entry and git directory under `root`, `root` itself included (symlinked folders are not entered). */
export function scanRunsLater(root: string, limits: ScanLimits = PRE_RUN_LIMITS): RunsLaterScan {
  const found: string[] = [];
  const foundRaw: Buffer[] = [];
  const links: string[] = [];
  const stopped: string[] = [];
  const givenUp = new Set<string>();
  let dirs = 0;
  let dependencyDirs = 0;
  // [folder, depth, the dependency folder it is in (undefined: none)]
  const stack: [string, number, string | undefined][] = [[root, 0, undefined]];
  while (stack.length > 0) {
    const [dir, depth, dep] = stack.pop()!;
    if (dep !== undefined && givenUp.has(dep)) continue;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      // The root not there is nothing to check. A folder that was listed and cannot be
      // opened now is unseen, whatever the reason: "gone" cannot be told from a name
      // the listing gave in another form than the one on disk.
      const code = (e as NodeJS.ErrnoException).code;
      if (depth > 0 || (code !== "ENOENT" && code !== "ENOTDIR")) stopped.push(dir);
      continue;
    }
    if (entries.some((e) => e.name.includes("\uFFFD"))) {
      // A name that is not valid UTF-8 decodes to U+FFFD: searched below by its bytes.
      const split = splitUndecodable(dir);
      if (split === undefined) {
        stopped.push(dir);
        continue;
      }
      entries = entries.filter((e) => !e.name.includes("\uFFFD") || split.decodable.has(e.name));
      const budget = { dirs: limits.dirs - dirs };
      for (const raw of split.raw) {
        if (limits.stopAtUndecodable === true) stopped.push(showRaw(raw));
        const r = scanRaw(raw, limits.depth - depth - 1, budget, isRunsLaterName, isGitDirectory);
        foundRaw.push(...r.found);
        stopped.push(...r.stopped.map(showRaw));
      }
      dirs = limits.dirs - budget.dirs;
    }
    // Searched inside too: once its HEAD is moved aside it is an ordinary folder, and
    // whatever else it holds (a nested .git) must have been seen.
    if (isGitDirectory(new Set(entries.map((e) => e.name)))) found.push(dir);
    for (const e of entries) {
      const p = join(dir, e.name);
      if (isRunsLaterName(e.name)) {
        found.push(p);
        continue;
      }
      if (e.isSymbolicLink()) links.push(p);
      if (!e.isDirectory()) continue;
      if (depth + 1 > limits.depth) {
        stopped.push(p); // this branch only: the rest of the tree is still searched
        continue;
      }
      const inDep = dep ?? (DEPENDENCY_DIRS.has(e.name) ? p : undefined);
      if (inDep !== undefined) {
        if (++dependencyDirs > limits.dependencyDirs) {
          if (!givenUp.has(inDep)) stopped.push(inDep);
          givenUp.add(inDep);
          continue;
        }
      } else if (++dirs > limits.dirs) {
        stopped.push(p);
        return { found, stopped, complete: false, foundRaw, links };
      }
      stack.push([p, depth + 1, inDep]);
    }
  }
  return { found, stopped, complete: dirs <= limits.dirs, foundRaw, links };
}

/** A writable tree and the RUNS_LATER entries it held before the run. */
export interface RunsLaterWatch {
  root: string;
  before: readonly string[];
  /** The byte-path ones (RunsLaterScan.foundRaw), as rawKey. */
  beforeRaw?: readonly string[];
  /** The symlinks it held before the run (RunsLaterScan.links, as linkKey): only a new or retargeted one is checked. */
  linksBefore?: readonly string[];
}

export interface QuarantineReport {
  /** Each new entry: where it was, where it is now (undefined: it could not be moved). */
  moved: { from: string; to: string | undefined; gitDirectory?: string; undo?: string; link?: string }[];
  /** Trees the search could not fully check (a new entry may remain unseen there): where it stopped, and whether the folder cap ended it. */
  unchecked: { root: string; stopped: string[]; complete: boolean }[];
  /** Some of the plugin's processes were still ending when the check ran: they may have changed the project after it. */
  processesLeft?: boolean;
}

/** `p` renamed aside to a name git, direnv and editors do not read; undefined when it cannot be. */
function moveAside<P extends string | Buffer>(p: P, stamp: string): P | undefined {
  for (let i = 0; i < 100; i++) {
    const suffix = `.fledge-quarantine-${stamp}${i === 0 ? "" : `-${i}`}`;
    const to = (typeof p === "string" ? `${p}${suffix}` : Buffer.concat([p, Buffer.from(suffix)])) as P;
    try {
      lstatSync(to);
      continue; // taken
    } catch {
      // free
    }
    try {
      renameSync(p, to);
      return to;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * THE after-run check of writable grants: every RUNS_LATER entry that was not there
 * before the run is renamed aside (`<name>.fledge-quarantine-<time>`), never deleted,
 * so a `.git`, `.envrc` or `.vscode` planted in a subfolder does not run the next time
 * the user works there. Call only once nothing of the plugin runs any more.
 */
export function quarantineNewRunsLater(watch: readonly RunsLaterWatch[], now: Date = new Date()): QuarantineReport {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const report: QuarantineReport = { moved: [], unchecked: [] };
  for (const w of watch) {
    const scan = scanRunsLater(w.root, POST_RUN_LIMITS);
    if (!scan.complete || scan.stopped.length > 0) report.unchecked.push({ root: w.root, stopped: scan.stopped, complete: scan.complete });
    const before = new Set(w.before);
    for (const p of scan.found) {
      if (before.has(p)) continue;
      if (isRunsLaterName(basename(p))) {
        report.moved.push({ from: p, to: moveAside(p, stamp) });
        continue;
      }
      // A folder turned into a git directory: it may hold the user's own files, so only
      // what makes it one is moved (without HEAD git does not see a repository there),
      // and what names code (its configs, and the commondir leading to another). The
      // common folder itself, with no HEAD, is no git directory: git reads its config
      // only through this one.
      for (const name of GIT_DIRECTORY_MAKERS) {
        const entry = join(p, name);
        if (name !== "HEAD" && !exists(entry)) continue;
        report.moved.push({ from: entry, to: moveAside(entry, stamp), gitDirectory: p });
      }
    }
    const linksBefore = new Set(w.linksBefore ?? []);
    for (const p of scan.links) {
      if (linksBefore.has(linkKey(p))) continue;
      const why = riskyLinkReason(p, w.root, scanRunsLater, isGitDirectory);
      if (why !== undefined) report.moved.push({ from: p, to: moveAside(p, stamp), link: why });
    }
    const beforeRaw = new Set(w.beforeRaw ?? []);
    for (const p of scan.foundRaw) {
      if (!beforeRaw.has(rawKey(p))) report.moved.push(...moveAsideRaw(p, stamp));
    }
  }
  return report;
}

/** quarantineNewRunsLater's moves for a byte path (its undo command quoted byte by byte). */
function moveAsideRaw(p: Buffer, stamp: string): QuarantineReport["moved"] {
  const one = (from: Buffer, gitDirectory?: Buffer): QuarantineReport["moved"][number] => {
    const to = moveAside(from, stamp);
    return { from: showRaw(from), to: to === undefined ? undefined : showRaw(to), gitDirectory: gitDirectory === undefined ? undefined : showRaw(gitDirectory), undo: to === undefined ? undefined : `mv ${shellQuoteRaw(to)} ${shellQuoteRaw(from)}` };
  };
  const name = p.subarray(p.lastIndexOf(0x2f) + 1).toString("utf8");
  if (isRunsLaterName(name)) return [one(p)];
  const out: QuarantineReport["moved"] = [];
  for (const maker of GIT_DIRECTORY_MAKERS) {
    const entry = Buffer.concat([p, Buffer.from(`/${maker}`)]);
    if (maker === "HEAD" || exists(entry)) out.push(one(entry, p));
  }
  return out;
}

function exists(p: string | Buffer): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Single-quoted for a POSIX shell. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What to tell the user (one line per entry), with the command that undoes each move. */
export function describeQuarantine(report: QuarantineReport, cwd: string): string[] {
  const show = (p: string): string => {
    const r = relative(cwd, p);
    return r === "" || r.startsWith("..") ? p : r;
  };
  const lines: string[] = [];
  for (const m of report.moved) {
    if (m.link !== undefined) {
      const made = `created the symlink ${show(m.from)} while it ran, and ${m.link}`;
      lines.push(m.to === undefined ? `${made}; fledge could NOT move it aside: check it before you work in that folder` : `${made}: moved aside to ${show(m.to)}; if you made it yourself, put it back: ${m.undo ?? `mv ${shellQuote(m.to)} ${shellQuote(m.from)}`}`);
    } else if (m.gitDirectory !== undefined) {
      const made = `made ${show(m.gitDirectory)} a git directory while it ran (git would run its hooks and core.fsmonitor there, outside the confinement)`;
      lines.push(m.to === undefined ? `${made}, and fledge could NOT move ${show(m.from)} aside: check it before you work in that folder` : `${made}: moved ${show(m.from)} aside to ${show(m.to)}; if you made it yourself, put it back: ${m.undo ?? `mv ${shellQuote(m.to)} ${shellQuote(m.from)}`}`);
    } else if (m.to === undefined) {
      lines.push(`created ${show(m.from)} while it ran, a place where code runs later outside the confinement, and fledge could NOT move it aside: check it before you work in that folder`);
    } else {
      lines.push(`created ${show(m.from)} while it ran, a place where code runs later outside the confinement (git hooks, core.fsmonitor, direnv, editor tasks): moved aside to ${show(m.to)}; if you made it yourself, put it back: ${m.undo ?? `mv ${shellQuote(m.to)} ${shellQuote(m.from)}`}`);
    }
  }
  if (report.processesLeft === true) {
    lines.push(`COULD NOT FULLY CHECK the folders it could write after the run for new .git folders, git directories and other places where code runs later: some of its processes were still ending when fledge stopped waiting for them, and may have changed them after the check; look before you work there`);
  }
  for (const u of report.unchecked) {
    const where = u.stopped.slice(0, 5).map(show).join(", ") + (u.stopped.length > 5 ? ` and ${u.stopped.length - 5} more` : "");
    const why = u.complete ? "too deep, unreadable, a name that is not valid UTF-8, or a dependency folder over its budget" : "too many folders: the search ended there";
    lines.push(`COULD NOT FULLY CHECK ${show(u.root)} after the run for new .git folders, git directories and other places where code runs later: not searched: ${where} (${why}); look there before you work in them`);
  }
  return lines;
}
