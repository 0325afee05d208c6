import { closeSync, constants, existsSync, fstatSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, type BigIntStats } from "node:fs";
import { ERRNO, fail } from "./errno.ts";

/**
 * Directory handles and "at"-style host paths.
 *
 * Node/Bun have no openat/mkdirat/unlinkat/... . On Linux we get the same semantics
 * from procfs: `/proc/self/fd/<dirfd>/<name>` makes the kernel start at the open
 * directory `dirfd` (a magic link, so it keeps working if the directory is renamed
 * or moved) and resolve exactly one more component, `name`. The resolver guarantees
 * `name` is a single component that is never `..` and never contains `/`, so the
 * kernel can only ever look inside the held directory. Every call that acts on a
 * final name is a non-following one (lstat, readlink, unlink, rmdir, mkdir, symlink,
 * link (linkat without AT_SYMLINK_FOLLOW), rename, open with O_NOFOLLOW).
 *
 * We chose procfs over bun:ffi to libc *at() calls because it needs no native ABI
 * knowledge (struct stat layouts, errno location, libc soname differ by arch/libc)
 * and uses the ordinary, well-tested fs error paths; it also works unchanged in a
 * `bun build --compile` binary and in Workers.
 *
 * Non-Linux fallback (macOS, BSD; no /proc): the same component-by-component
 * resolver runs, but `at()` builds an absolute path from the preopen's realpath'd
 * root plus the already-resolved components. Each component is still lstat'ed and
 * opened with O_NOFOLLOW (directories also with O_DIRECTORY) and compared by dev/ino,
 * so planted symlinks are never followed by the kernel, but a concurrent process that
 * swaps a directory for a symlink between our check and use can win a race. Do not
 * grant preopens that other untrusted processes can write to on those platforms.
 *
 * The guest's file-system calls (fns-path.ts) use only the `*At` operations below, each
 * taking a held directory and ONE component, and none following a symlink at that
 * component: the pairing cap-std makes between `open_parent` and its `*_unchecked`
 * calls. tests/architecture.test.ts refuses a mutating node:fs call anywhere else in
 * src/wasi, so containment is visible in the names.
 */

export const USE_PROCFS: boolean = process.platform === "linux" && existsSync("/proc/self/fd");

/** Every directory open; O_NONBLOCK so nothing swapped in can make open(2) wait. */
export const O_DIR_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** An open host directory. `path` is the host path at open time (fallback + diagnostics only). */
export interface DirHandle {
  readonly fd: number;
  readonly path: string;
}

/** The host path that names `name` inside `dir` without the kernel seeing anything but one component. */
export function at(dir: DirHandle, name: string): string {
  return USE_PROCFS ? `/proc/self/fd/${dir.fd}/${name}` : `${dir.path}/${name}`;
}

/** The host path of the directory itself. */
export function self(dir: DirHandle): string {
  return USE_PROCFS ? `/proc/self/fd/${dir.fd}` : dir.path;
}

/** `name` must be one component the kernel resolves inside the held directory (the resolver's promise, checked again). */
function component(name: string): string {
  if (name === "" || name === ".." || name.includes("/") || name.includes("\0")) throw fail(ERRNO.notcapable);
  return name;
}

/** The host root of a preopen (a real path resolved once at startup, never guest input), as a held directory. */
export function openPreopenRoot(realPath: string): DirHandle {
  return { fd: openSync(realPath, O_DIR_NOFOLLOW), path: realPath };
}

/** open(2) of a non-directory at `name` in `dir`: always O_NOFOLLOW and O_NONBLOCK (a FIFO swapped in cannot block). */
export function openFileAt(dir: DirHandle, name: string, flags: number, mode = 0o666): number {
  return openSync(at(dir, component(name)), flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
}

/** mkdirat(2): a new directory `name` in `dir` (mkdir never follows a final symlink). */
export function mkdirAt(dir: DirHandle, name: string): void {
  mkdirSync(at(dir, component(name)));
}

/** unlinkat(2): removes the entry itself, a symlink included, never its target. */
export function unlinkAt(dir: DirHandle, name: string): void {
  unlinkSync(at(dir, component(name)));
}

/** unlinkat(2, AT_REMOVEDIR): a symlink at `name` is refused by the kernel (ENOTDIR), never followed. */
export function rmdirAt(dir: DirHandle, name: string): void {
  rmdirSync(at(dir, component(name)));
}

/** renameat(2): moves the entries themselves (a symlink is moved as a link). */
export function renameAt(fromDir: DirHandle, fromName: string, toDir: DirHandle, toName: string): void {
  renameSync(at(fromDir, component(fromName)), at(toDir, component(toName)));
}

/** symlinkat(2): a new link `name` in `dir` holding `target` (checked by the resolver whenever it is followed). */
export function symlinkAt(target: string, dir: DirHandle, name: string): void {
  symlinkSync(target, at(dir, component(name)));
}

/** linkat(2) without AT_SYMLINK_FOLLOW: a symlink at `fromName` is linked as the link, never its target. */
export function linkAt(fromDir: DirHandle, fromName: string, toDir: DirHandle, toName: string): void {
  linkSync(at(fromDir, component(fromName)), at(toDir, component(toName)));
}

/** readlinkat(2): the raw target bytes of the link `name`. */
export function readlinkAt(dir: DirHandle, name: string): Buffer {
  return readlinkSync(at(dir, component(name)), { encoding: "buffer" });
}

/** lutimes on `name` in `dir` (the fallback where utimensat through libc is not available): never follows. */
export function lutimesAt(dir: DirHandle, name: string, atime: number, mtime: number): void {
  lutimesSync(at(dir, component(name)), atime, mtime);
}

export function lstatAt(dir: DirHandle, name: string): BigIntStats | undefined {
  try {
    return lstatSync(at(dir, name), { bigint: true });
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Open `name` in `dir` as a directory without following a symlink. With `expect`
 * (dev/ino from an lstat) the descriptor must be that same object, else EAGAIN.
 * Intermediate directories need no more: they were opened relative to a held
 * directory, one component, O_NOFOLLOW|O_DIRECTORY, so they are real directories
 * inside it. Returns the new handle (caller owns it).
 */
export function openDirAt(dir: DirHandle, name: string, expect?: BigIntStats): DirHandle {
  const fd = openSync(at(dir, name), O_DIR_NOFOLLOW);
  if (expect) {
    const st = fstatSync(fd, { bigint: true });
    if (st.dev !== expect.dev || st.ino !== expect.ino) {
      closeSync(fd);
      throw fail(ERRNO.again);
    }
  }
  return { fd, path: `${dir.path}/${name}` };
}

// The kernel's path of each sandbox root, cached; re-read once when a check fails (the root may have been renamed).
const rootPaths = new WeakMap<DirHandle, string>();
function rootPath(root: DirHandle, fresh: boolean): string {
  let p = fresh ? undefined : rootPaths.get(root);
  if (p === undefined) {
    p = readlinkSync(`/proc/self/fd/${root.fd}`);
    rootPaths.set(root, p);
  }
  return p;
}

function under(path: string, base: string): boolean {
  return path === base || path.startsWith(base.endsWith("/") ? base : `${base}/`);
}

/**
 * Defence in depth for a descriptor we hand to the guest: it is the object we
 * inspected (`expect` dev/ino, if given) and, on Linux, the kernel's current path
 * for it (/proc/self/fd) lies under the sandbox root's current path. These are
 * kernel-canonical paths read now, not a normalization of guest input; containment
 * itself comes from the resolver. A failure is ENOTCAPABLE.
 */
export function verifyDescriptor(fd: number, expect: BigIntStats | undefined, root: DirHandle): void {
  if (expect) {
    const st = fstatSync(fd, { bigint: true });
    if (st.dev !== expect.dev || st.ino !== expect.ino) throw fail(ERRNO.again);
  }
  if (USE_PROCFS && fd !== root.fd) {
    const mine = readlinkSync(`/proc/self/fd/${fd}`);
    if (!under(mine, rootPath(root, false)) && !under(mine, rootPath(root, true))) throw fail(ERRNO.notcapable);
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed or invalid: nothing to release
  }
}
