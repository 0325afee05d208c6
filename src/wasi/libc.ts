import { constants as osConstants } from "node:os";

/**
 * The few libc calls node:fs has no equivalent for, through bun:ffi, loaded once.
 *
 * - futimens / utimensat: file times to the nanosecond with UTIME_OMIT (times.ts)
 * - poll, ioctl(FIONREAD), lseek: whether a borrowed stdin has reached its end (readiness.ts)
 * - poll: waiting on pipes, FIFOs and terminals no longer than the run's deadline (wait.ts)
 *
 * Linux on x64 and arm64 only (glibc or musl): the struct layouts and constants used
 * by the callers are Linux's, identical on both. Elsewhere, or where no libc can be
 * loaded, `libc()` is null and each caller has a documented fallback.
 */
export interface Libc {
  futimens(fd: number, times: BigInt64Array): number;
  utimensat(dirfd: number, path: Uint8Array, times: BigInt64Array, flags: number): number;
  /** poll(2) on `fds` (struct pollfd[]: i32 fd, i16 events, i16 revents). */
  poll(fds: Int32Array, nfds: number, timeoutMs: number): number;
  /** ioctl(fd, request, &int) for requests that fill one int (FIONREAD). */
  ioctlInt(fd: number, request: number, out: Int32Array): number;
  /** lseek(2); SEEK_CUR with offset 0 reads a borrowed fd's position. */
  lseek(fd: number, offset: bigint, whence: number): bigint;
  /** errno of the calling thread, right after a failed call. */
  errno(): number;
}

let loaded: Libc | null | undefined;

function load(): Libc | null {
  if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) return null;
  try {
    // Required lazily so a runtime without bun:ffi still loads this module.
    const { dlopen, FFIType, read } = require("bun:ffi") as typeof import("bun:ffi");
    const symbols = {
      futimens: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      utimensat: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
      poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
      // ioctl is variadic; on Linux x64/arm64 a pointer third argument is passed like a fixed one.
      ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
      lseek: { args: [FFIType.i32, FFIType.i64, FFIType.i32], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    } as const;
    for (const name of ["libc.so.6", `libc.musl-${process.arch === "x64" ? "x86_64" : "aarch64"}.so.1`, "libc.so"]) {
      try {
        const s = dlopen(name, symbols).symbols;
        return {
          futimens: (fd, times) => s.futimens(fd, times),
          utimensat: (dirfd, path, times, flags) => s.utimensat(dirfd, path, times, flags),
          poll: (fds, nfds, timeoutMs) => s.poll(fds, nfds, timeoutMs),
          ioctlInt: (fd, request, out) => s.ioctl(fd, request, out),
          lseek: (fd, offset, whence) => BigInt(s.lseek(fd, offset, whence)),
          errno: () => {
            const p = s.__errno_location();
            return p === null ? 0 : read.i32(p, 0);
          },
        };
      } catch {
        // try the next name
      }
    }
  } catch {
    // no bun:ffi here
  }
  return null;
}

/** libc through bun:ffi, or null where it cannot be had (callers fall back). */
export function libc(): Libc | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** A libc failure as the same kind of error node:fs throws (`code` = "ENOENT", ...), for errnoOf. */
export function libcError(call: string, errno: number): Error {
  const code = errnoNames.get(errno) ?? "EIO";
  return Object.assign(new Error(`${call}: ${code}`), { code, errno });
}
