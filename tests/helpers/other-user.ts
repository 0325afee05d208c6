/**
 * Tests that run fledge as another user (setpriv, as root) need that user to reach this
 * checkout and the bun running the tests. A checkout inside a private folder (a
 * `mktemp -d` clone is 0700) cannot be reached: those tests then skip with one line
 * saying why, instead of failing on EACCES.
 */
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/** Whether `uid` can run fledge from this checkout: root, setpriv, and the files readable to it. */
export function canRunAsUser(uid: number, what: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const setpriv = Bun.which("setpriv", { PATH: "/usr/bin:/bin" });
  if (setpriv === null) return false;
  const files = [join(ROOT, "src", "main.ts"), join(ROOT, "src", "confine", "policy.ts"), process.execPath];
  const probe = Bun.spawnSync([setpriv, `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "/bin/sh", "-c", 'for f; do test -r "$f" || exit 1; done', "sh", ...files], { stdout: "ignore", stderr: "ignore" });
  if (probe.exitCode === 0) return true;
  console.log(`skipping ${what}: uid ${uid} cannot read this checkout or bun (${ROOT} is in a private folder); run from a folder other users can read`);
  return false;
}
