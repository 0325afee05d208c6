/**
 * A file-system error (Node's ErrnoException: code, syscall, path) is about the
 * user's disk, not a bug in fledge: `plugins/` turned into a file, a read-only config
 * folder, a full disk. The CLI turns every such error that reaches it into a message
 * naming the path and what to do, instead of "internal error".
 */
import { FledgeError } from "../core/errors.ts";

const WHY: Record<string, [string, string]> = {
  ENOTDIR: ["a part of this path is a file, not a folder", "move that file aside (or point FLEDGE_CONFIG_DIR / --output elsewhere)"],
  EEXIST: ["something (a file?) is already there", "move it aside, or choose another location"],
  EISDIR: ["it is a folder, where a file was expected", "move the folder aside"],
  ENOENT: ["it does not exist", "check the path"],
  EACCES: ["permission denied", "check the permissions of the path (or point FLEDGE_CONFIG_DIR elsewhere)"],
  EPERM: ["operation not permitted", "check the permissions of the path (or point FLEDGE_CONFIG_DIR elsewhere)"],
  EROFS: ["the file system is read-only", "point FLEDGE_CONFIG_DIR (or --output) at a writable folder"],
  ENOSPC: ["no space left on the device", "free some disk space and try again"],
  EDQUOT: ["the disk quota is exceeded", "free some disk space and try again"],
  ELOOP: ["too many symbolic links (a symlink loop?)", "check the symbolic links on the path"],
  ENAMETOOLONG: ["the path is too long", "use a shorter path"],
  EMFILE: ["too many open files", "raise the open-file limit (ulimit -n) and try again"],
  ENFILE: ["too many open files on the system", "try again later"],
  EBUSY: ["the path is busy (in use or a mount point)", "try again, or move it aside"],
  EXDEV: ["the paths are on different file systems", "keep the fledge config folder on one file system"],
  ENOTEMPTY: ["the folder is not empty", "move it aside"],
};

/** A FledgeError for a file-system error, or undefined when `e` is not one. */
export function fsErrorToFledge(e: unknown): FledgeError | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException & { dest?: unknown };
  if (typeof err.code !== "string" || !(err.code in WHY)) return undefined;
  if (typeof err.path !== "string" && typeof err.syscall !== "string") return undefined;
  const [why, fix] = WHY[err.code]!;
  const where = typeof err.path === "string" ? ` '${err.path}'${typeof err.dest === "string" ? ` to '${err.dest}'` : ""}` : "";
  const op = typeof err.syscall === "string" ? err.syscall : "access";
  return new FledgeError(`cannot ${op}${where}: ${why} (${err.code})`, { code: "filesystem", hint: fix, details: { errno: err.code, syscall: op, path: err.path ?? null }, cause: e });
}
