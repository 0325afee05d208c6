import { readlinkSync, fstatSync, type BigIntStats } from "node:fs";
import { ERRNO, fail } from "./errno.ts";
import { at, closeQuietly, lstatAt, openDirAt, type DirHandle } from "./hostfs.ts";
import { LIMITS } from "./types.ts";

/**
 * THE containment decision: turn a guest path, relative to a directory capability,
 * into (held parent directory, single final name) without ever letting the kernel
 * resolve `..`, an absolute path, or a symlink.
 *
 * Algorithm (WASI path-resolution.md, cap-std's manual resolver):
 * - validate the bytes (UTF-8, no NUL, <= 4096 bytes, not absolute, not empty);
 * - split into components; `.` is skipped, a trailing `/` or `/.` becomes a final
 *   `.` marker that forces the previous component to be (and resolve as) a directory;
 * - keep our own stack of opened directory handles, starting at the base; `..` pops
 *   it and popping the base is ENOTCAPABLE (also when the path would come back in);
 * - every intermediate component is lstat'ed through its held parent; symlinks are
 *   read by us (`readlink`), absolute targets are ENOTCAPABLE, more than 40 hops
 *   ELOOP, and the target's components are spliced in front of the remaining ones;
 * - real directories are opened with O_DIRECTORY|O_NOFOLLOW relative to the held
 *   parent (one component, so they are real directories inside it; dev/ino is
 *   compared when we had to lstat first); descriptors handed to the guest are
 *   verified again by the callers (`verifyDescriptor`: /proc/self/fd on Linux);
 * - the final component is returned unresolved-by-the-kernel: callers act on it
 *   only with non-following calls (see hostfs.ts for why this is race-free on Linux).
 * No string normalization or realpath is used anywhere.
 */

export interface ResolveOptions {
  /** Follow a symlink in the final position (lookupflags.symlink_follow). A trailing slash always follows. */
  followFinal: boolean;
  /**
   * Charge resolution work to the run (the host-call gate's `work`): called for every
   * component taken off the stack and every symlink read. It may throw the run's stop
   * (fuel or deadline); the resolver then closes what it opened and lets it through.
   */
  charge?: (units: number) => void;
}

/**
 * Fuel the resolver charges, in units (about one per nanosecond of host work, like
 * the gate's price list). One path call can walk up to 40 symlinks of 4 KiB targets,
 * about 32,000 components of an lstat or an open each (~150 ms): charged only the
 * call's base cost, a fuel budget did not bound it and the deadline was seen only
 * between host calls. Charged per component, the fuel grows with the walk, and since
 * every charge passes the meter's host-call check, a long walk also meets the
 * deadline inside the call.
 */
export const RESOLVE_COST = Object.freeze({
  /** Each component taken off the stack (a name, `..`, a final marker): one open or lstat, and a close. */
  component: 1_000,
  /** Each symlink followed: its readlink and splicing its target in, on top of the component. */
  symlink: 2_000,
});


export interface Resolution {
  /** Held directory that contains the final entry. */
  parent: DirHandle;
  /** One component, never `..` and never containing `/`; `.` means the directory `parent` itself. */
  name: string;
  /** lstat of the final entry; undefined when it does not exist. */
  stat: BigIntStats | undefined;
  /** The path had a trailing slash (or `/.`) after the final name: it must be a directory. */
  mustBeDir: boolean;
  /** The final entry was reached by expanding a symlink in final position (follow flag or `link/`). */
  viaSymlink: boolean;
  /** Close the directory handles the resolution opened. Always call it (try/finally). */
  release(): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Validate and decode guest path bytes. Exported for tests. */
export function decodeGuestPath(bytes: Uint8Array): string {
  if (bytes.length === 0) throw fail(ERRNO.noent);
  if (bytes.length > LIMITS.maxPathBytes) throw fail(ERRNO.nametoolong);
  if (bytes.indexOf(0) !== -1) throw fail(ERRNO.inval);
  let s: string;
  try {
    s = utf8.decode(bytes);
  } catch {
    throw fail(ERRNO.ilseq);
  }
  return s;
}

/**
 * Split a path (or symlink target) into work items, in REVERSE order (a stack: the
 * next component is at the end). A trailing `/` or `.` leaves a final `.` marker.
 */
function pushComponents(work: string[], path: string): void {
  const parts = path.split("/");
  const last = parts[parts.length - 1];
  if (parts.length > 1 && (last === "" || last === ".")) work.push(".");
  else if (parts.length === 1 && last === ".") work.push(".");
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    if (p === "" || p === ".") continue;
    work.push(p);
  }
}

/** Open an intermediate directory; undefined when it is a symlink or not a directory (ELOOP/ENOTDIR). */
function tryOpenDir(top: DirHandle, name: string): DirHandle | undefined {
  try {
    return openDirAt(top, name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT") return undefined;
    throw e;
  }
}

function onlyMarkersLeft(work: string[]): boolean {
  for (const w of work) if (w !== ".") return false;
  return true;
}

/**
 * Resolve `path` under the directory capability `base` (a preopen or a directory
 * opened beneath one). Throws a WasiErrno.
 */
export function resolveInPreopen(base: DirHandle, path: string | Uint8Array, opts: ResolveOptions): Resolution {
  const text = typeof path === "string" ? decodeGuestPath(new TextEncoder().encode(path)) : decodeGuestPath(path);
  if (text.startsWith("/")) throw fail(ERRNO.notcapable);

  const stack: DirHandle[] = [base];
  const release = (keep?: DirHandle): void => {
    for (let i = 1; i < stack.length; i++) if (stack[i] !== keep) closeQuietly(stack[i]!.fd);
  };
  const work: string[] = [];
  pushComponents(work, text);
  if (work.length === 0) work.push(".");
  let hops = 0;
  let mustBeDir = false;
  let viaSymlink = false;
  const charge = opts.charge ?? ((): void => {});

  try {
    while (work.length > 0) {
      const c = work.pop()!;
      charge(RESOLVE_COST.component);
      const last = work.length === 0;
      const top = stack[stack.length - 1]!;
      if (c === ".") {
        if (!last) continue;
        const st = fstatSync(top.fd, { bigint: true });
        return done(top, ".", st, mustBeDir);
      }
      if (c === "..") {
        if (stack.length === 1) throw fail(ERRNO.notcapable);
        closeQuietly(stack.pop()!.fd);
        if (last) {
          const now = stack[stack.length - 1]!;
          return done(now, ".", fstatSync(now.fd, { bigint: true }), mustBeDir);
        }
        continue;
      }
      if (Buffer.byteLength(c) > LIMITS.maxNameBytes) throw fail(ERRNO.nametoolong);
      const finalish = last || onlyMarkersLeft(work);
      if (!finalish) {
        // Fast path for intermediates: a plain directory opens at once (procfs lookups are
        // the expensive part); a symlink or non-directory fails and is examined below.
        const opened = tryOpenDir(top, c);
        if (opened) {
          stack.push(opened);
          continue;
        }
      }
      const st = lstatAt(top, c);
      if (!st) {
        // A missing final name (possibly followed by slashes) is for the caller to create or report.
        if (finalish) return done(top, c, undefined, mustBeDir || !last);
        throw fail(ERRNO.noent);
      }
      if (st.isSymbolicLink() && (!last || opts.followFinal)) {
        if (++hops > LIMITS.maxSymlinkHops) throw fail(ERRNO.loop);
        charge(RESOLVE_COST.symlink);
        const target = readlinkSync(at(top, c));
        if (target.length === 0) throw fail(ERRNO.noent);
        if (target.startsWith("/")) throw fail(ERRNO.notcapable);
        if (target.indexOf("\0") !== -1) throw fail(ERRNO.inval);
        if (finalish) viaSymlink = true;
        pushComponents(work, target);
        continue;
      }
      if (last) return done(top, c, st, mustBeDir);
      if (!st.isDirectory()) throw fail(ERRNO.notdir);
      // `name/` (only slash markers left): the entry itself is the final one, and must be a directory.
      if (finalish) return done(top, c, st, true);
      stack.push(openDirAt(top, c, st));
    }
    // unreachable: the loop always returns on the last item
    throw fail(ERRNO.noent);
  } catch (e) {
    release();
    throw e;
  }

  function done(parent: DirHandle, name: string, stat: BigIntStats | undefined, dir: boolean): Resolution {
    release(parent);
    const owned = parent !== base;
    return {
      parent,
      name,
      stat,
      mustBeDir: dir,
      viaSymlink,
      release: () => {
        if (owned) closeQuietly(parent.fd);
      },
    };
  }
}
