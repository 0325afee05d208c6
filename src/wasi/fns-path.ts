import { constants, fstatSync } from "node:fs";
import { ERRNO, fail } from "./errno.ts";
import { writeFilestat, type WasiContext } from "./context.ts";
import { filetypeOfStats, type DirEntry } from "./fdtable.ts";
import { closeQuietly, linkAt, mkdirAt, openDirAt, openFileAt, readlinkAt, renameAt, rmdirAt, symlinkAt, unlinkAt, verifyDescriptor } from "./hostfs.ts";
import { grantedRights, openWantsWrite, requireWritable } from "./readonly.ts";
import { decodeGuestPath, resolveInPreopen, type Resolution } from "./resolve.ts";
import { validateFstFlags } from "./fns-fd.ts";
import { setTimesAt, timesFromFlags } from "./times.ts";
import { FDFLAGS, FILETYPE, LIMITS, LOOKUP_SYMLINK_FOLLOW, OFLAGS, RIGHTS, RIGHTS_DIR_BASE, RIGHTS_FILE_BASE, SIZE } from "./types.ts";

const R = RIGHTS;
/** Rights that need the host file opened for writing. */
const HOST_WRITE_RIGHTS = R.fd_write | R.fd_allocate | R.fd_filestat_set_size | R.fd_datasync;
const HOST_READ_RIGHTS = R.fd_read | R.fd_readdir;

export function pathFunctions(ctx: WasiContext) {
  const m = ctx.mem;
  const fds = ctx.fds;
  const walkCharge = (units: number): void => ctx.gate.work(units);

  /** Directory fd for a path operation: read-only gate first (EROFS) for mutations, then rights. */
  function dirFor(fd: number, rights: number, mutates: boolean): DirEntry {
    const d = fds.dir(fd, 0);
    if (mutates) requireWritable(d.sandbox);
    return fds.dir(fd, rights);
  }

  /** A path from guest memory (EFAULT outside it); one longer than LIMITS.maxPathBytes is refused before the host copies it. */
  function guestPath(ptr: number, len: number): Uint8Array {
    m.check(ptr, len);
    if (len >>> 0 > LIMITS.maxPathBytes) throw fail(ERRNO.nametoolong);
    return m.copy(ptr, len);
  }

  function resolve(d: DirEntry, ptr: number, len: number, follow: boolean): Resolution {
    // Copy: the resolver must not see bytes the guest could change (single-threaded, but memory may grow).
    // Charged per component through the gate, so fuel and the deadline bound the walk itself.
    return resolveInPreopen(d.handle, guestPath(ptr, len), { followFinal: follow, charge: walkCharge });
  }

  function withPath<T>(d: DirEntry, ptr: number, len: number, follow: boolean, fn: (r: Resolution) => T): T {
    const r = resolve(d, ptr, len, follow);
    try {
      return fn(r);
    } finally {
      r.release();
    }
  }

  return {
    path_create_directory(fd: number, ptr: number, len: number): number {
      const d = dirFor(fd, R.path_create_directory, true);
      return withPath(d, ptr, len, false, (r) => {
        // `link/` where link dangles: the link itself exists (POSIX EEXIST); never create its target.
        if (r.stat || r.viaSymlink) throw fail(ERRNO.exist);
        mkdirAt(r.parent, r.name);
        return ERRNO.success;
      });
    },

    path_filestat_get(fd: number, flags: number, ptr: number, len: number, ret: number): number {
      m.check(ret, SIZE.filestat);
      const d = dirFor(fd, R.path_filestat_get, false);
      return withPath(d, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0, (r) => {
        if (!r.stat) throw fail(ERRNO.noent);
        if (r.mustBeDir && !r.stat.isDirectory()) throw fail(ERRNO.notdir);
        writeFilestat(ctx, ret, r.stat, filetypeOfStats(r.stat));
        return ERRNO.success;
      });
    },

    path_filestat_set_times(fd: number, flags: number, ptr: number, len: number, atim: bigint, mtim: bigint, fst: number): number {
      validateFstFlags(fst);
      const d = dirFor(fd, R.path_filestat_set_times, true);
      return withPath(d, ptr, len, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0, (r) => {
        if (!r.stat) throw fail(ERRNO.noent);
        if (r.mustBeDir && !r.stat.isDirectory()) throw fail(ERRNO.notdir);
        const [a, mt] = timesFromFlags(fst, atim, mtim);
        // utimensat(parent, name, AT_SYMLINK_NOFOLLOW): one component in a held directory,
        // never followed; a followed final symlink was already resolved to a real entry.
        setTimesAt(r.parent, r.name, r.stat, a, mt);
        return ERRNO.success;
      });
    },

    path_link(oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const src = fds.dir(oldFd, 0);
      const dst = fds.dir(newFd, 0);
      // Linking out of a read-only preopen would let the new name be written (CVE-2026-58494).
      requireWritable(src.sandbox, dst.sandbox);
      fds.dir(oldFd, R.path_link_source);
      fds.dir(newFd, R.path_link_target);
      return withPath(src, oldPtr, oldLen, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0, (from) => {
        if (!from.stat) throw fail(ERRNO.noent);
        if (from.stat.isDirectory() || from.name === ".") throw fail(ERRNO.perm);
        if (from.mustBeDir) throw fail(ERRNO.notdir);
        return withPath(dst, newPtr, newLen, false, (to) => {
          if (to.stat) throw fail(ERRNO.exist);
          if (to.mustBeDir) throw fail(ERRNO.noent);
          linkAt(from.parent, from.name, to.parent, to.name);
          return ERRNO.success;
        });
      });
    },

    path_open(fd: number, dirflags: number, ptr: number, len: number, oflags: number, base: bigint, inheriting: bigint, fdflags: number, ret: number): number {
      m.check(ret, 4);
      const d = fds.dir(fd, 0);
      if (oflags & ~0xf || fdflags & ~0x1f) throw fail(ERRNO.inval);
      const want = Number(base & 0x3fffffffn);
      const wantInh = Number(inheriting & 0x3fffffffn);
      if (openWantsWrite(oflags, want, fdflags)) requireWritable(d.sandbox);
      let need: number = R.path_open;
      if (oflags & OFLAGS.creat) need |= R.path_create_file;
      if (oflags & OFLAGS.trunc) need |= R.path_filestat_set_size;
      fds.dir(fd, need);
      const creat = (oflags & OFLAGS.creat) !== 0;
      const excl = (oflags & OFLAGS.excl) !== 0;
      // O_CREAT|O_EXCL never follows the final component (a dangling link is an existing entry).
      const follow = (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0 && !(creat && excl);
      return withPath(d, ptr, len, follow, (r) => {
        const st = r.stat;
        if (st) {
          if (creat && excl) throw fail(ERRNO.exist);
          if (st.isSymbolicLink()) throw fail(ERRNO.loop);
        } else {
          if (!creat) throw fail(ERRNO.noent);
          if (r.mustBeDir || oflags & OFLAGS.directory) throw fail(ERRNO.isdir);
        }
        const isDir = st?.isDirectory() ?? false;
        if ((oflags & OFLAGS.directory || r.mustBeDir) && !isDir) throw fail(ERRNO.notdir);
        if (isDir) {
          if (want & HOST_WRITE_RIGHTS || oflags & (OFLAGS.trunc | OFLAGS.creat)) throw fail(ERRNO.isdir);
          const handle = openDirAt(r.parent, r.name);
          const hostFd = handle.fd;
          try {
            verifyDescriptor(hostFd, st, d.sandbox.root);
            const newFd = fds.insert({
              kind: "dir", handle, sandbox: d.sandbox, preopenName: undefined, listing: undefined,
              filetype: FILETYPE.directory, fdflags: fdflags & ~FDFLAGS.append,
              rightsBase: grantedRights(d.sandbox, want & RIGHTS_DIR_BASE & d.rightsInheriting),
              // Inheriting stays as the parent's (a read-only tree's already lacks directory
              // mutations); file write rights there only route libc opens to the EROFS gate.
              rightsInheriting: wantInh & d.rightsInheriting,
            });
            m.setU32(ret, newFd);
            return ERRNO.success;
          } catch (e) {
            closeQuietly(hostFd);
            throw e;
          }
        }
        const hostWrite = (want & HOST_WRITE_RIGHTS) !== 0 || (oflags & OFLAGS.trunc) !== 0;
        const hostRead = (want & HOST_READ_RIGHTS) !== 0 || !hostWrite;
        let flags = (hostWrite ? (hostRead ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY);
        if (creat) flags |= constants.O_CREAT;
        if (excl) flags |= constants.O_EXCL;
        if (oflags & OFLAGS.trunc) flags |= constants.O_TRUNC;
        // openFileAt adds O_NOFOLLOW and O_NONBLOCK: a FIFO swapped in after the lstat above
        // must not block open(2) (regular files ignore it; reads on anything else wait with the deadline).
        const hostFd = openFileAt(r.parent, r.name, flags, 0o666);
        try {
          const real = fstatSync(hostFd, { bigint: true });
          if (real.isDirectory()) throw fail(ERRNO.isdir);
          verifyDescriptor(hostFd, st, d.sandbox.root);
          const newFd = fds.insert({
            kind: "file", hostFd, pos: 0, sandbox: d.sandbox,
            filetype: filetypeOfStats(real), fdflags,
            rightsBase: grantedRights(d.sandbox, want & RIGHTS_FILE_BASE & d.rightsInheriting),
            rightsInheriting: grantedRights(d.sandbox, wantInh & d.rightsInheriting & RIGHTS_FILE_BASE),
          });
          m.setU32(ret, newFd);
          return ERRNO.success;
        } catch (e) {
          closeQuietly(hostFd);
          throw e;
        }
      });
    },

    path_readlink(fd: number, ptr: number, len: number, buf: number, bufLen: number, ret: number): number {
      m.check(ret, 4);
      m.check(buf, bufLen);
      const d = dirFor(fd, R.path_readlink, false);
      return withPath(d, ptr, len, false, (r) => {
        if (!r.stat) throw fail(ERRNO.noent);
        if (!r.stat.isSymbolicLink()) throw fail(ERRNO.inval);
        const target = readlinkAt(r.parent, r.name);
        // An absolute target would tell the guest about the host's layout.
        if (target[0] === 0x2f) throw fail(ERRNO.notcapable);
        const n = Math.min(target.length, bufLen >>> 0);
        m.write(buf, target.subarray(0, n));
        m.setU32(ret, n);
        return ERRNO.success;
      });
    },

    path_remove_directory(fd: number, ptr: number, len: number): number {
      const d = dirFor(fd, R.path_remove_directory, true);
      return withPath(d, ptr, len, false, (r) => {
        if (r.name === ".") throw fail(ERRNO.inval);
        if (!r.stat) throw fail(ERRNO.noent);
        // `link/` names the link, which is not a directory (POSIX); never act on its target.
        if (!r.stat.isDirectory() || r.viaSymlink) throw fail(ERRNO.notdir);
        rmdirAt(r.parent, r.name);
        return ERRNO.success;
      });
    },

    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const src = fds.dir(fd, 0);
      const dst = fds.dir(newFd, 0);
      requireWritable(src.sandbox, dst.sandbox);
      fds.dir(fd, R.path_rename_source);
      fds.dir(newFd, R.path_rename_target);
      return withPath(src, oldPtr, oldLen, false, (from) => {
        if (from.name === ".") throw fail(ERRNO.busy);
        if (!from.stat) throw fail(ERRNO.noent);
        if (from.viaSymlink) throw fail(ERRNO.notdir);
        const srcIsDir = from.stat.isDirectory();
        if (from.mustBeDir && !srcIsDir) throw fail(ERRNO.notdir);
        return withPath(dst, newPtr, newLen, false, (to) => {
          if (to.name === ".") throw fail(ERRNO.busy);
          if (to.viaSymlink) throw fail(ERRNO.notdir);
          if (to.mustBeDir && !srcIsDir) throw fail(ERRNO.notdir);
          renameAt(from.parent, from.name, to.parent, to.name);
          return ERRNO.success;
        });
      });
    },

    path_symlink(oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
      const target = decodeGuestPath(guestPath(oldPtr, oldLen));
      const d = dirFor(fd, R.path_symlink, true);
      // The spec forbids creating links with absolute targets; relative ones are checked when followed.
      if (target.startsWith("/")) throw fail(ERRNO.perm);
      return withPath(d, newPtr, newLen, false, (r) => {
        if (r.stat) throw fail(ERRNO.exist);
        if (r.mustBeDir) throw fail(ERRNO.noent);
        symlinkAt(target, r.parent, r.name);
        return ERRNO.success;
      });
    },

    path_unlink_file(fd: number, ptr: number, len: number): number {
      const d = dirFor(fd, R.path_unlink_file, true);
      return withPath(d, ptr, len, false, (r) => {
        if (!r.stat) throw fail(ERRNO.noent);
        if (r.stat.isDirectory() && !r.viaSymlink) throw fail(ERRNO.isdir);
        if (r.viaSymlink || r.mustBeDir) throw fail(ERRNO.notdir);
        unlinkAt(r.parent, r.name);
        return ERRNO.success;
      });
    },
  };
}
