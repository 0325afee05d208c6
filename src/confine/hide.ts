/**
 * Credentials the plugin cannot even name. Landlock already keeps a plugin from
 * reading them, but a build keeps chmod by path (`chmod +x` on its outputs; Landlock
 * has no right for modes and seccomp cannot see paths), so without this it could
 * `chmod 644 ~/.ssh/id_ed25519` and hand the key to every other local user. In the
 * plugin's own mount namespace (pidns.c) each credential folder is covered by an empty
 * read-only tmpfs and each credential file by an empty read-only file: a chmod there
 * reaches the cover, never the credential.
 */
import { lstatSync, realpathSync } from "node:fs";
import { inside } from "./trees.ts";

/** One path to cover: a folder gets an empty tmpfs, a file an empty file. */
export interface HiddenPath {
  path: string;
  dir: boolean;
}

/**
 * The secrets to cover for a run: each that exists as a folder or regular file, by
 * its resolved path (a mount follows links; the resolved one is what a chmod reaches).
 * A secret holding something the run needs (the plugin's own folder lives in fledge's
 * config folder, a granted path, the working folder, the program) stays uncovered:
 * Landlock alone guards it, as before. One inside another covered folder is dropped:
 * the outer cover already hides it, and it could not be mounted on (it is gone there).
 */
export function credentialsToHide(secrets: readonly string[], needed: readonly string[]): HiddenPath[] {
  const found = new Map<string, boolean>();
  for (const s of secrets) {
    let r: string;
    try {
      r = realpathSync(s);
      const st = lstatSync(r);
      if (!st.isDirectory() && !st.isFile()) continue;
      found.set(r, st.isDirectory());
    } catch {
      continue; // missing: nothing to cover
    }
  }
  const keep = needed.flatMap((n) => {
    try {
      return [n, realpathSync(n)];
    } catch {
      return [n];
    }
  });
  const paths = [...found.keys()].filter((p) => p !== "/" && !keep.some((k) => inside(k, p)));
  return paths
    .filter((p) => !paths.some((o) => o !== p && found.get(o) === true && inside(p, o)))
    .sort()
    .map((path) => ({ path, dir: found.get(path) === true }));
}
