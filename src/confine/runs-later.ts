/**
 * Places where code runs later, outside the confinement, when the user works in a
 * folder: a `.git` (its hooks and `core.fsmonitor` run on `git status`; a `.git` FILE
 * saying `gitdir: /elsewhere` does the same with another folder's config), direnv's
 * `.envrc`, editors' task and settings folders, git hook managers' folders, Mercurial's
 * and Sapling's hooks (`.hg/hgrc`, `.sl/config`), Jujutsu's repository config (its pager
 * and editor run on every command), and vim/neovim's per-folder start-up files.
 *
 * Landlock grants a folder as a whole and cannot refuse one NAME inside it, so a
 * writable grant is made of what is around the existing ones (policy.ts), and a new
 * one created during the run is found afterwards and moved aside (never deleted) by
 * quarantineNewRunsLater, once the plugin and everything it started are gone.
 */
import { readdirSync, renameSync, lstatSync } from "node:fs";
import { join, relative } from "node:path";

/** Entry names (at any depth) never writable in a granted tree, and moved aside when a run creates one. */
export const RUNS_LATER = [
  ".git", ".hg", ".sl", ".jj", ".envrc", ".vscode", ".idea", ".zed", ".devcontainer", ".husky", ".githooks", ".pre-commit-config.yaml",
  ".exrc", ".nvimrc", ".nvim.lua",
] as const;
const RUNS_LATER_SET: ReadonlySet<string> = new Set(RUNS_LATER);
/** Folders not searched (dependencies and build outputs: nobody works in them, and they can be huge). */
export const SCAN_SKIP: ReadonlySet<string> = new Set(["node_modules", "target", ".build", "dist", "build", "vendor"]);

export interface ScanLimits {
  depth: number;
  dirs: number;
}
/** Before a run: beyond this a writable tree is granted read-only (a bounded cost at every start). */
export const PRE_RUN_LIMITS: ScanLimits = { depth: 32, dirs: 20_000 };
/** After a run: far deeper and wider (a plugin could nest a `.git` below the pre-run depth). */
const POST_RUN_LIMITS: ScanLimits = { depth: 64, dirs: 500_000 };

export interface RunsLaterScan {
  /** Absolute paths of RUNS_LATER entries found (files, folders or symlinks; not followed). */
  found: string[];
  /** False when the limits stopped the search before it saw everything. */
  complete: boolean;
}

/** Every RUNS_LATER entry under `root` (symlinked folders are not entered). */
export function scanRunsLater(root: string, limits: ScanLimits = PRE_RUN_LIMITS): RunsLaterScan {
  const found: string[] = [];
  let dirs = 0;
  const stack: [string, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [dir, depth] = stack.pop()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (RUNS_LATER_SET.has(e.name)) {
        found.push(p);
        continue;
      }
      if (!e.isDirectory() || SCAN_SKIP.has(e.name)) continue;
      if (++dirs > limits.dirs || depth + 1 > limits.depth) return { found, complete: false };
      stack.push([p, depth + 1]);
    }
  }
  return { found, complete: true };
}

/** A writable tree and the RUNS_LATER entries it held before the run. */
export interface RunsLaterWatch {
  root: string;
  before: readonly string[];
}

export interface QuarantineReport {
  /** Each new entry: where it was, where it is now (undefined: it could not be moved). */
  moved: { from: string; to: string | undefined }[];
  /** Roots whose search stopped at the limits (a new entry may remain unseen). */
  incomplete: string[];
}

/** `p` renamed aside to a name git, direnv and editors do not read; undefined when it cannot be. */
function moveAside(p: string, stamp: string): string | undefined {
  for (let i = 0; i < 100; i++) {
    const to = `${p}.fledge-quarantine-${stamp}${i === 0 ? "" : `-${i}`}`;
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
  const report: QuarantineReport = { moved: [], incomplete: [] };
  for (const w of watch) {
    const scan = scanRunsLater(w.root, POST_RUN_LIMITS);
    if (!scan.complete) report.incomplete.push(w.root);
    const before = new Set(w.before);
    for (const p of scan.found) {
      if (before.has(p)) continue;
      report.moved.push({ from: p, to: moveAside(p, stamp) });
    }
  }
  return report;
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
    if (m.to === undefined) {
      lines.push(`created ${show(m.from)} while it ran, a place where code runs later outside the confinement, and fledge could NOT move it aside: check it before you work in that folder`);
    } else {
      lines.push(`created ${show(m.from)} while it ran, a place where code runs later outside the confinement (git hooks, core.fsmonitor, direnv, editor tasks): moved aside to ${show(m.to)}; if you made it yourself, put it back: mv ${shellQuote(m.to)} ${shellQuote(m.from)}`);
    }
  }
  for (const root of report.incomplete) lines.push(`could not check all of ${show(root)} for new .git folders and the like after the run (too many folders): look before you work there`);
  return lines;
}
