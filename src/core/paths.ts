import { isAbsolute, relative, sep } from "node:path";

/**
 * THE lexical containment rule: `p` is `root` or below it. Both must already be resolved
 * the way the caller needs (absolute; real paths when symlinks matter): this compares
 * names, it does not touch the disk. A name that only starts with two dots (`..data`)
 * is inside; `..` and anything under it is not.
 */
export function isWithin(p: string, root: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** `p` is below `root`, not `root` itself (see {@link isWithin}). */
export function isStrictlyWithin(p: string, root: string): boolean {
  return relative(root, p) !== "" && isWithin(p, root);
}
