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
 * - regular files with more than one link are refused (a hard link may share an inode
 *   with a file outside the tree; git and our extractors never create them);
 * - no devices, FIFOs or sockets.
 * A live link (the author's own working tree) is not walked: it is the user's folder.
 */
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { PLUGIN_DATA_DIR, resolveInside } from "../manifest/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { archiveError } from "./archive.ts";

/** Top-level names the host opens itself: never a link, whatever the target. */
const HOST_OWNED = new Set(["state.json", "state.json.lock", PLUGIN_DATA_DIR]);

/** Refuse `tree` (a staged plugin dir) if anything in it breaks the policy above; `what` says which step produced it. */
export function checkPluginTree(tree: string, what: string): void {
  const refuse = (msg: string): never => {
    throw archiveError(msg, what);
  };
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel ? join(tree, rel) : tree).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(tree, r));
      if (st.isSymbolicLink()) {
        const target = readlinkSync(join(tree, r));
        if (isAbsolute(target)) refuse(`symlink '${renderUntrusted(r)}' points at the absolute path '${renderUntrusted(target)}'`);
        if (!rel && HOST_OWNED.has(name.toLowerCase())) refuse(`'${renderUntrusted(r)}' is a symlink, and fledge itself opens that path for the plugin`);
        const res = resolveInside(tree, r);
        if ("loop" in res) refuse(`symlink '${renderUntrusted(r)}' is part of a loop`);
        if ("escapes" in res) refuse(`symlink '${renderUntrusted(r)}' resolves outside the plugin ('${renderUntrusted(target)}')`);
      } else if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        if (st.nlink > 1) refuse(`'${renderUntrusted(r)}' is a hard link (${st.nlink} names share its data; one may be outside the plugin)`);
      } else refuse(`'${renderUntrusted(r)}' is a device, FIFO or socket`);
    }
  };
  walk("");
}
