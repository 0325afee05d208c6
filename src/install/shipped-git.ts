/**
 * A plugin tree never carries a git repository. A `.git` (folder, or a file naming a
 * gitdir elsewhere) or a bare repository under any name runs its config's
 * `core.fsmonitor` and hooks when git is run inside it: a plugin could ship one and
 * later point the user's project at it (a symlink `src/tools -> <plugin dir>/w`), and
 * the user's next `git status` there would run the plugin's command outside the
 * confinement. The top-level `.git` of a clone or a copied checkout is dropped where the
 * source is materialized; this removes the nested ones from the finished tree, whatever
 * produced it (an archive, a clone, a copy, a build hook).
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isGitDirectory } from "../confine/runs-later.ts";

/** Deeper than any plugin tree needs; a folder past it is left for checkPluginTree and the run-time checks. */
const MAX_DEPTH = 64;

/** Removes every `.git` entry and git directory (isGitDirectory) inside `tree`; returns their paths relative to it. */
export function dropShippedGitDirs(tree: string): string[] {
  const dropped: string[] = [];
  const walk = (rel: string, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    const abs = rel ? join(tree, rel) : tree;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    // A whole git directory below the top is removed: its files are git's, not the plugin's.
    if (rel && isGitDirectory(new Set(entries.map((e) => e.name)))) {
      rmSync(abs, { recursive: true, force: true });
      dropped.push(rel);
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === ".git") {
        rmSync(join(tree, r), { recursive: true, force: true });
        dropped.push(r);
      } else if (e.isDirectory()) walk(r, depth + 1);
    }
  };
  walk("", 0);
  return dropped;
}
