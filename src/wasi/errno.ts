/**
 * WASI preview1 errno values (witx `errno`, u16 returned as i32) and the ONE place
 * where host errors become WASI errnos. Every host function reports failure by
 * throwing `WasiErrno` (via `fail`) or letting a host `fs` error escape; the import
 * wrapper in `host.ts` turns either into an errno with `errnoOf`.
 */

export const ERRNO = {
  success: 0, "2big": 1, acces: 2, addrinuse: 3, addrnotavail: 4, afnosupport: 5, again: 6,
  already: 7, badf: 8, badmsg: 9, busy: 10, canceled: 11, child: 12, connaborted: 13,
  connrefused: 14, connreset: 15, deadlk: 16, destaddrreq: 17, dom: 18, dquot: 19, exist: 20,
  fault: 21, fbig: 22, hostunreach: 23, idrm: 24, ilseq: 25, inprogress: 26, intr: 27, inval: 28,
  io: 29, isconn: 30, isdir: 31, loop: 32, mfile: 33, mlink: 34, msgsize: 35, multihop: 36,
  nametoolong: 37, netdown: 38, netreset: 39, netunreach: 40, nfile: 41, nobufs: 42, nodev: 43,
  noent: 44, noexec: 45, nolck: 46, nolink: 47, nomem: 48, nomsg: 49, noprotoopt: 50, nospc: 51,
  nosys: 52, notconn: 53, notdir: 54, notempty: 55, notrecoverable: 56, notsock: 57, notsup: 58,
  notty: 59, nxio: 60, overflow: 61, ownerdead: 62, perm: 63, pipe: 64, proto: 65,
  protonosupport: 66, prototype: 67, range: 68, rofs: 69, spipe: 70, srch: 71, stale: 72,
  timedout: 73, txtbsy: 74, xdev: 75, notcapable: 76,
} as const;
export type Errno = (typeof ERRNO)[keyof typeof ERRNO];

/** A WASI error raised inside a host function; never escapes to the guest (the wrapper returns `errno`). */
export class WasiErrno extends Error {
  constructor(readonly errno: number) {
    super(`wasi errno ${errno}`);
    this.name = "WasiErrno";
  }
}

// Pre-built instances: the hot error paths (EBADF on fd guessing, EFAULT) allocate nothing.
const cached = new Map<number, WasiErrno>();
/** The exception for `errno`; throw it: `throw fail(ERRNO.badf)`. */
export function fail(errno: number): WasiErrno {
  let e = cached.get(errno);
  if (!e) {
    e = new WasiErrno(errno);
    cached.set(errno, e);
  }
  return e;
}

/** POSIX error names (Node/Bun `err.code`) → WASI errno. Names WASI shares keep their meaning. */
const HOST_CODES: Record<string, number> = {
  E2BIG: ERRNO["2big"], EACCES: ERRNO.acces, EADDRINUSE: ERRNO.addrinuse, EADDRNOTAVAIL: ERRNO.addrnotavail,
  EAFNOSUPPORT: ERRNO.afnosupport, EAGAIN: ERRNO.again, EWOULDBLOCK: ERRNO.again, EALREADY: ERRNO.already,
  EBADF: ERRNO.badf, EBADMSG: ERRNO.badmsg, EBUSY: ERRNO.busy, ECANCELED: ERRNO.canceled, ECHILD: ERRNO.child,
  ECONNABORTED: ERRNO.connaborted, ECONNREFUSED: ERRNO.connrefused, ECONNRESET: ERRNO.connreset,
  EDEADLK: ERRNO.deadlk, EDESTADDRREQ: ERRNO.destaddrreq, EDOM: ERRNO.dom, EDQUOT: ERRNO.dquot,
  EEXIST: ERRNO.exist, EFAULT: ERRNO.fault, EFBIG: ERRNO.fbig, EHOSTUNREACH: ERRNO.hostunreach,
  EIDRM: ERRNO.idrm, EILSEQ: ERRNO.ilseq, EINPROGRESS: ERRNO.inprogress, EINTR: ERRNO.intr,
  EINVAL: ERRNO.inval, EIO: ERRNO.io, EISCONN: ERRNO.isconn, EISDIR: ERRNO.isdir, ELOOP: ERRNO.loop,
  EMFILE: ERRNO.mfile, EMLINK: ERRNO.mlink, EMSGSIZE: ERRNO.msgsize, EMULTIHOP: ERRNO.multihop,
  ENAMETOOLONG: ERRNO.nametoolong, ENETDOWN: ERRNO.netdown, ENETRESET: ERRNO.netreset,
  ENETUNREACH: ERRNO.netunreach, ENFILE: ERRNO.nfile, ENOBUFS: ERRNO.nobufs, ENODEV: ERRNO.nodev,
  ENOENT: ERRNO.noent, ENOEXEC: ERRNO.noexec, ENOLCK: ERRNO.nolck, ENOLINK: ERRNO.nolink,
  ENOMEM: ERRNO.nomem, ENOMSG: ERRNO.nomsg, ENOPROTOOPT: ERRNO.noprotoopt, ENOSPC: ERRNO.nospc,
  ENOSYS: ERRNO.nosys, ENOTCONN: ERRNO.notconn, ENOTDIR: ERRNO.notdir, ENOTEMPTY: ERRNO.notempty,
  ENOTRECOVERABLE: ERRNO.notrecoverable, ENOTSOCK: ERRNO.notsock, ENOTSUP: ERRNO.notsup,
  EOPNOTSUPP: ERRNO.notsup, ENOTTY: ERRNO.notty, ENXIO: ERRNO.nxio, EOVERFLOW: ERRNO.overflow,
  EOWNERDEAD: ERRNO.ownerdead, EPERM: ERRNO.perm, EPIPE: ERRNO.pipe, EPROTO: ERRNO.proto,
  EPROTONOSUPPORT: ERRNO.protonosupport, EPROTOTYPE: ERRNO.prototype, ERANGE: ERRNO.range,
  EROFS: ERRNO.rofs, ESPIPE: ERRNO.spipe, ESRCH: ERRNO.srch, ESTALE: ERRNO.stale,
  ETIMEDOUT: ERRNO.timedout, ETXTBSY: ERRNO.txtbsy, EXDEV: ERRNO.xdev,
  // Node/Bun argument validation: a NUL byte in a path, an out-of-range number.
  ERR_INVALID_ARG_VALUE: ERRNO.inval, ERR_INVALID_ARG_TYPE: ERRNO.inval, ERR_OUT_OF_RANGE: ERRNO.inval,
};

/**
 * The errno for anything a host function threw. `WasiErrno` keeps its value; host
 * `fs` errors map by `code`; a DataView `RangeError` (a pointer we failed to check)
 * is EFAULT; anything else unexpected is EIO so the guest sees an error, never a crash.
 */
export function errnoOf(e: unknown): number {
  if (e instanceof WasiErrno) return e.errno;
  if (e !== null && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      const mapped = HOST_CODES[code];
      if (mapped !== undefined) return mapped;
    }
    if (e instanceof RangeError) return ERRNO.fault;
  }
  return ERRNO.io;
}
