/**
 * Granting trees with exceptions carved out, for policy.ts. Landlock grants a folder
 * with everything beneath it, so a folder holding something that must stay out (a
 * credential, a `.git`) is granted entry by entry instead, down to where the exception
 * is. Paths are resolved once per computation of the rules (withRealMemo), and the
 * exception lists are looked up as sets: the walks ask about every entry of /etc and
 * home against a few hundred secrets.
 */
import { readdirSync, realpathSync, statSync, lstatSync } from "node:fs";
import { basename, dirname, isAbsolute, join, sep } from "node:path";
import { NEVER_GRANTABLE, isInside, resolvePath } from "../manifest/confinement.ts";
import type { Access, FsRule } from "./policy.ts";
import { linkKey } from "./new-links.ts";
import { commonDirOf, isRunsLaterName, PRE_RUN_LIMITS, scanRunsLater, type RunsLaterWatch } from "./runs-later.ts";
import { rawKey } from "./raw-names.ts";
import { repoConfigPaths } from "./repo-config.ts";


/** `child` is `root` or beneath it (both absolute and normalized). */
export const inside = isInside;

/** A list of paths as sets: each path, and each path with all its ancestors. */
interface PathIndex {
  paths: Set<string>;
  withAncestors: Set<string>;
}
const indexes = new WeakMap<readonly string[], PathIndex>();

/**
 * The index of `list` (built once per list: the tree walks ask about every entry of
 * /etc and home against a few hundred secrets, which pairwise comparing made the
 * policy's largest cost).
 */
function indexOf(list: readonly string[]): PathIndex {
  let idx = indexes.get(list);
  if (idx) return idx;
  idx = { paths: new Set(list), withAncestors: new Set() };
  for (const p of list) {
    for (let q = p; !idx.withAncestors.has(q); q = dirname(q)) {
      idx.withAncestors.add(q);
      if (q === sep || !isAbsolute(q)) break;
    }
  }
  indexes.set(list, idx);
  return idx;
}

/** `p` is one of `list` or beneath one (same as `list.some((s) => inside(p, s))`). */
export function underAny(p: string, list: readonly string[]): boolean {
  const { paths } = indexOf(list);
  for (let q = p; ; q = dirname(q)) {
    if (paths.has(q)) return true;
    if (q === sep || !isAbsolute(q)) return false;
  }
}

/** `p` is one of `list` or holds one (same as `list.some((s) => inside(s, p))`). */
export function aboveAny(p: string, list: readonly string[]): boolean {
  return indexOf(list).withAncestors.has(p);
}

/** Never granted through a tree walk: the whole filesystem and the kernel trees (rules for /proc, /dev are made by name). */
export function neverGrantable(resolved: string): boolean {
  return resolved === sep || NEVER_GRANTABLE.some((k) => inside(resolved, k));
}

let realMemo: Map<string, string | null> | undefined;

/** Run `fn` (one computation of the rules) with real() remembering its answers; nothing is kept after. */
export function withRealMemo<T>(fn: () => T): T {
  if (realMemo) return fn();
  realMemo = new Map();
  try {
    return fn();
  } finally {
    realMemo = undefined;
  }
}

/** Where `path` leads, undefined when it does not exist (remembered for one computation of the rules). */
export function real(path: string): string | undefined {
  const known = realMemo?.get(path);
  if (known !== undefined) return known ?? undefined;
  let out: string | null;
  try {
    out = realpathSync.native(path);
  } catch {
    out = null;
  }
  realMemo?.set(path, out);
  if (out !== null) realMemo?.set(out, out);
  return out ?? undefined;
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Grant `dir` with `access`, except the secrets: a folder containing a secret is
 * split into its entries (recursively, only for the folders listed in `split`), and a
 * secret itself is skipped. Entries that lead elsewhere through a symlink are judged
 * by their target.
 */
export function grantTree(dir: string, access: Access, secrets: readonly string[], out: FsRule[], depth = 0, known?: string): void {
  const r = known ?? real(dir);
  if (!r || neverGrantable(r)) return;
  const containsSecret = aboveAny(dir, secrets) || aboveAny(r, secrets);
  const isSecret = underAny(dir, secrets) || underAny(r, secrets);
  if (isSecret) return;
  if (!containsSecret || !isDir(r)) {
    // The rule names where the entry resolves: the launcher opens it without following links.
    out.push({ path: r, access });
    return;
  }
  if (depth > 4) return; // a secret deep down: leave the whole folder out rather than grant it
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    let link: boolean;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      continue;
    }
    // Only a symlink can lead somewhere else; a plain entry's real path is its real parent's plus its name.
    grantTree(p, access, secrets, out, depth + 1, link ? undefined : join(r, name));
  }
}

/**
 * THE writable grant: `root` readable as a whole and writable except where code runs
 * later (RUNS_LATER entries at any depth, see runs-later.ts, and home's start-up files
 * and credentials should they be inside it). Every writable grant goes through here:
 * the project, the plugin's own folder (a live link or copy of a git checkout keeps its
 * `.git` read-only), `[confinement] write`. The entries found are recorded in `watch`,
 * so the after-run check moves aside any new one (Landlock cannot refuse a name inside
 * a granted folder). A tree too large to search stays read-only, with a note.
 * `entryByEntry`: the root itself is never writable, only what it holds (no new
 * top-level entries in a project).
 */
export function grantWritableTree(root: string, what: string, notWritable: readonly string[], secrets: readonly string[], ctx: WritableContext, entryByEntry: boolean): void {
  const r = real(root);
  if (!r) {
    // Not there (yet): a rule for a missing path grants nothing, and nothing is in it to protect.
    if (!entryByEntry) ctx.out.push({ path: resolvePath(root), access: "write" });
    return;
  }
  if (isRunsLaterName(basename(r)) || notWritable.some((c) => inside(r, c))) {
    ctx.notes.push(`${what} stays read-only: it is a place where code runs later, outside the confinement`);
    grantTree(r, "read", secrets, ctx.out);
    return;
  }
  grantTree(r, "read", secrets, ctx.out);
  if (!isDir(r)) {
    ctx.out.push({ path: r, access: "write" });
    return;
  }
  const scan = scanRunsLater(r);
  if (!scan.complete) {
    ctx.notes.push(`${what} stays read-only: it is too large to check for .git folders and other places where code runs later (over ${PRE_RUN_LIMITS.dirs} folders)`);
    return;
  }
  if (scan.found.includes(r)) {
    ctx.notes.push(`${what} stays read-only: it is a git directory, a place where code runs later, outside the confinement`);
    return;
  }
  ctx.watch.push(scan.foundRaw.length === 0 ? { root: r, before: scan.found, linksBefore: scan.links.map(linkKey) } : { root: r, before: scan.found, beforeRaw: scan.foundRaw.map(rawKey), linksBefore: scan.links.map(linkKey) });
  // A folder the search could not look into (too deep, a dependency folder too large) stays read-only: nothing new can appear there unseen.
  if (scan.stopped.length > 0) {
    const more = scan.stopped.length > 5 ? ` and ${scan.stopped.length - 5} more` : "";
    ctx.notes.push(`${scan.stopped.slice(0, 5).join(", ")}${more} in ${what} stays read-only: too deep or too large to check for .git folders and other places where code runs later (or a name that is not valid UTF-8, which a rule cannot name)`);
  }
  // What the repositories' own configs make git run (a hooksPath folder, an included file, a filter script) stays read-only with them.
  const gitEntries = scan.found.filter((f) => basename(f) === ".git" || !isRunsLaterName(basename(f)));
  const named = gitEntries.flatMap((f) => repoConfigPaths(f, (p) => real(p) ?? p));
  const carve = [...notWritable, ...scan.found, ...commonDirsOf(scan.found), ...scan.stopped, ...named];
  if (!entryByEntry) {
    grantWritable(r, r, r, carve, ctx.out, 0);
    return;
  }
  let names: string[];
  try {
    names = readdirSync(r);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(r, name);
    // A symlink leading out of the tree is not part of it: the kernel would grant its target.
    const target = real(p);
    if (target) grantWritable(p, target, r, carve, ctx.out, 0);
  }
}

/**
 * The folders the git directories found name in their `commondir` (and where those
 * lead): git reads their config, hooks and refs for the git directory, so they stay
 * read-only with it.
 */
function commonDirsOf(found: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of found) {
    const common = commonDirOf(p);
    if (common === undefined) continue;
    out.push(common);
    const target = real(common);
    if (target !== undefined && target !== common) out.push(target);
  }
  return out;
}

export interface WritableContext {
  out: FsRule[];
  notes: string[];
  watch: RunsLaterWatch[];
}

/** Like grantTree for writing, but a folder is split down to any depth the scan reached (nested `.git` folders). */
function grantWritable(p: string, r: string, root: string, carve: readonly string[], out: FsRule[], depth: number): void {
  if (!inside(r, root)) return; // a symlink leading out of the tree
  if (underAny(p, carve) || underAny(r, carve) || neverGrantable(r)) return;
  if (!(aboveAny(p, carve) || aboveAny(r, carve)) || !isDir(r)) {
    out.push({ path: r, access: "write" });
    return;
  }
  if (depth > PRE_RUN_LIMITS.depth + 1) return;
  let names: string[];
  try {
    names = readdirSync(p);
  } catch {
    return;
  }
  for (const name of names) {
    const c = join(p, name);
    const t = real(c);
    if (!t) continue;
    grantWritable(c, t, root, carve, out, depth + 1);
  }
}
