/**
 * A symlink a plugin creates in a writable grant can lead the user into code without
 * planting anything there: `src/tools -> <plugin dir>/w`, where `w/.git` (shipped, or
 * made earlier) names a `core.fsmonitor`. Git resolves the folder it runs in to its real
 * path and looks for a repository there and in every folder above, so `cd src/tools &&
 * git status` runs the plugin's command outside the confinement, and the after-run search
 * (which never follows links) sees only an ordinary name. So a NEW symlink whose real
 * target is outside its grant is checked like a folder of the grant: a target that holds
 * a git directory or a runs-later entry, or lies inside a git repository, or that cannot
 * be checked at all (gone, a loop, unreadable, too large) makes the link one to move aside.
 * A target inside the same grant is searched with it already.
 */
import { readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, sep } from "node:path";
import type { RunsLaterScan, ScanLimits } from "./runs-later.ts";

/** The search of a link's target: small, as a new link costs one search each. */
export const LINK_TARGET_LIMITS: ScanLimits = { depth: 16, dirs: 2_000, dependencyDirs: 2_000 };

function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Whether `dir` is inside a git repository by git's own upward discovery: a `.git` entry, or a git directory, in it or a folder above. */
function insideRepository(dir: string, isGitDirectory: (names: ReadonlySet<string>) => boolean): boolean | undefined {
  for (let d = dir; ; d = dirname(d)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return undefined; // a folder on the way that cannot be listed: git might find one there
    }
    if (names.includes(".git") || isGitDirectory(new Set(names))) return true;
    if (dirname(d) === d) return false;
  }
}

/**
 * THE after-run decision for one new symlink in the writable grant `root`: why it must
 * be moved aside (a phrase for the user), or undefined when it leads nowhere code runs.
 */
export function riskyLinkReason(link: string, root: string, scan: (dir: string, limits: ScanLimits) => RunsLaterScan, isGitDirectory: (names: ReadonlySet<string>) => boolean): string | undefined {
  let target: string;
  try {
    target = realpathSync(link);
  } catch {
    // Gone, a loop, or unreadable on the way: what it will lead to later cannot be
    // checked (a dangling link into a shared temp folder can be filled by anyone).
    return "its target cannot be checked (missing, a loop, or unreadable)";
  }
  if (isInside(target, root)) return undefined;
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    return "its target cannot be checked (missing, a loop, or unreadable)";
  }
  if (!isDir) return undefined; // a file: git and the tools run nothing by entering it
  const inRepo = insideRepository(target, isGitDirectory);
  if (inRepo === undefined) return "its target cannot be checked (a folder above it is unreadable)";
  if (inRepo) return `it leads into a git repository (${target}), whose hooks and core.fsmonitor git would run there`;
  const s = scan(target, LINK_TARGET_LIMITS);
  if (s.found.length > 0 || s.foundRaw.length > 0) return `it leads to ${s.found[0] ?? target}, a place where code runs later`;
  if (!s.complete || s.stopped.length > 0) return `its target (${target}) is too large or deep to check`;
  return undefined;
}


/** A symlink as recorded before the run: its path and what it says, so one replaced by another under the same name counts as new. */
export function linkKey(link: string): string {
  let target = "";
  try {
    target = readlinkSync(link);
  } catch {
    // Gone since the listing: recorded by its path alone.
  }
  return `${link}\0${target}`;
}
