/**
 * THE tree policy: what a staged plugin tree may contain, whatever put it there (a
 * tarball, a git clone, a `--copy`, a build hook, post_install). Extraction and copy
 * already refuse most of this as they go; this walk is the one check that runs on
 * the finished tree, so a source or a hook that bypasses them (git checks symlinks
 * out verbatim; a hook can `ln -s` anything) is refused the same way.
 *
 * An attacker's aim: leave a link in the plugin dir that the host later follows on
 * the plugin's behalf (`state.json -> ~/.docker/config.json` read by the store,
 * `data -> /` preopened writable, a binary hard-linked to a file outside). So:
 * - symlinks: relative, resolving inside the tree; none at the names the host owns
 *   (state.json, its lock, data/), even pointing inside;
 * - a regular file with more links than it has names inside the tree is refused (it
 *   shares its data with a file outside, e.g. a hook's `ln ~/.ssh/id_rsa state.json`);
 *   links among the tree's own files are fine (cargo hard-links its build outputs);
 * - no devices, FIFOs or sockets.
 * A live link (the author's own working tree) is not walked: it is the user's folder.
 *
 * After a NATIVE plugin's build or post_install (`builtNative`), links pointing outside
 * are allowed except at the host-owned names: that code already ran with the user's
 * full rights, so a link it leaves gives it nothing it did not have, and toolchains
 * make such links (a Python venv's `bin/python3 -> /usr/bin/python3`). A wasm plugin's
 * tree is always held to the full policy: its module must never reach outside.
 */
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { PLUGIN_DATA_DIR, resolveInside } from "../manifest/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { FledgeError } from "../core/index.ts";

/** Top-level names the host opens itself: never a link, whatever the target. */
const HOST_OWNED = new Set(["state.json", "state.json.lock", PLUGIN_DATA_DIR]);

/** Refuse `tree` (a staged plugin dir) if anything in it breaks the policy above; `what` says which step produced it. */
export function checkPluginTree(tree: string, what: string, opts: { builtNative?: boolean } = {}): void {
  const refuse = (msg: string): never => {
    throw new FledgeError(`refusing ${what}: ${msg}`, {
      code: "unsafe_archive",
      hint: "nothing was installed; a plugin's files may only link to other files inside it, and never at state.json or data/ (report this to the plugin's author)",
    });
  };
  const inodes = new Map<string, { seen: number; nlink: number; first: string }>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel ? join(tree, rel) : tree).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(tree, r), { throwIfNoEntry: false });
      // A listed name that is not there is one that is not valid UTF-8 (it decoded to
      // another name): what it is cannot be checked, so the tree is refused, never passed.
      if (st === undefined) return refuse(`'${renderUntrusted(r)}' has a name that is not valid UTF-8, which fledge cannot check`);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(join(tree, r));
        if (opts.builtNative) {
          if (!rel && HOST_OWNED.has(name.toLowerCase())) refuse(`'${renderUntrusted(r)}' is a symlink, and fledge itself opens that path for the plugin`);
          continue;
        }
        if (isAbsolute(target)) refuse(`symlink '${renderUntrusted(r)}' points at the absolute path '${renderUntrusted(target)}'`);
        if (!rel && HOST_OWNED.has(name.toLowerCase())) refuse(`'${renderUntrusted(r)}' is a symlink, and fledge itself opens that path for the plugin`);
        const res = resolveInside(tree, r);
        if ("loop" in res) refuse(`symlink '${renderUntrusted(r)}' is part of a loop`);
        if ("escapes" in res) refuse(`symlink '${renderUntrusted(r)}' resolves outside the plugin ('${renderUntrusted(target)}')`);
      } else if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          const known = inodes.get(key) ?? { seen: 0, nlink: st.nlink, first: r };
          known.seen++;
          inodes.set(key, known);
        }
      } else refuse(`'${renderUntrusted(r)}' is a device, FIFO or socket`);
    }
  };
  walk("");
  for (const { seen, nlink, first } of inodes.values()) {
    if (seen < nlink) refuse(`'${renderUntrusted(first)}' is a hard link to a file outside the plugin (${nlink} names share its data, ${seen} of them inside)`);
  }
}
