import { futimesSync, fstatSync, type BigIntStats } from "node:fs";
import { lutimesAt, type DirHandle } from "./hostfs.ts";
import { ERRNO, fail } from "./errno.ts";
import { libc, libcError, type Libc } from "./libc.ts";
import { FSTFLAGS } from "./types.ts";

/**
 * Setting file times to the exact nanosecond (fd_filestat_set_times,
 * path_filestat_set_times).
 *
 * Node's futimes/lutimes take float seconds: about 238 ns of resolution at today's
 * dates, and both times must be given, so "leave atime alone" meant rewriting it from
 * a rounded stat. On Linux we call libc's `futimens` and `utimensat` through bun:ffi
 * with a `struct timespec[2]` of whole seconds and nanoseconds, `UTIME_OMIT` for the
 * time the guest did not ask to change (the kernel leaves it untouched) and
 * `UTIME_NOW` for the `*_now` flags.
 *
 * The path variant calls `utimensat(parentfd, name, times, AT_SYMLINK_NOFOLLOW)` on the
 * directory handle and single component the sandbox resolver produced (never `..`,
 * never containing `/`), so the kernel looks one name up inside a held directory and
 * never follows a symlink there; a followed final symlink was already resolved to a
 * real entry by the resolver. Containment is the same as every other *at-style call.
 *
 * Fallback (no bun:ffi or no loadable libc, see libc.ts; or FLEDGE_NO_FFI_TIMES=1): Node's futimes/lutimes in float seconds, the untouched time
 * rewritten from its nanosecond stat, so both times can be off by up to a few hundred
 * nanoseconds. `exactTimes()` says which one is in use.
 */

/** A time to set: exact nanoseconds since the epoch, the current time, or leave it. */
export type TimeSpec = { ns: bigint } | "now" | "omit";

// Linux values (include/uapi/linux/stat.h, fcntl.h); the same on every Linux arch.
const UTIME_NOW = (1n << 30n) - 1n;
const UTIME_OMIT = (1n << 30n) - 2n;
const AT_SYMLINK_NOFOLLOW = 0x100;

/** libc for exact times, unless the fallback was asked for. */
function lib(): Libc | null {
  return process.env.FLEDGE_NO_FFI_TIMES === "1" ? null : libc();
}

/** True when times are set to the exact nanosecond (libc through bun:ffi); false on the fallback. */
export function exactTimes(): boolean {
  return lib() !== null;
}

/** The atime and mtime a guest asked for, from its fstflags; both set and *_now is EINVAL. */
export function timesFromFlags(flags: number, atim: bigint, mtim: bigint): [TimeSpec, TimeSpec] {
  const one = (setBit: number, nowBit: number, value: bigint): TimeSpec => {
    if ((flags & setBit) && (flags & nowBit)) throw fail(ERRNO.inval);
    if (flags & nowBit) return "now";
    // A u64 arrives from wasm as a signed i64: 2^64-1 must not become -1 ns (1969).
    if (flags & setBit) return { ns: BigInt.asUintN(64, value) };
    return "omit";
  };
  return [one(FSTFLAGS.atim, FSTFLAGS.atim_now, atim), one(FSTFLAGS.mtim, FSTFLAGS.mtim_now, mtim)];
}

function timespecs(a: TimeSpec, m: TimeSpec): BigInt64Array {
  const out = new BigInt64Array(4);
  [a, m].forEach((t, i) => {
    if (t === "now") out[i * 2 + 1] = UTIME_NOW;
    else if (t === "omit") out[i * 2 + 1] = UTIME_OMIT;
    else {
      // WASI timestamps are u64; a value past int64 seconds cannot be represented.
      const sec = t.ns / 1_000_000_000n;
      if (sec > (1n << 63n) - 1n) throw fail(ERRNO.inval);
      out[i * 2] = sec;
      out[i * 2 + 1] = t.ns % 1_000_000_000n;
    }
  });
  return out;
}

/** Fallback: float seconds; an omitted time is rewritten from the nanosecond stat. */
function seconds(t: TimeSpec, current: bigint): number {
  if (t === "now") return Date.now() / 1000;
  return Number(t === "omit" ? current : t.ns) / 1e9;
}

/** Set the times of an open host fd (file or directory). */
export function setTimesFd(fd: number, a: TimeSpec, m: TimeSpec): void {
  const c = lib();
  if (c) {
    if (c.futimens(fd, timespecs(a, m)) !== 0) throw libcError("futimens", c.errno());
    return;
  }
  if (a === "omit" && m === "omit") return;
  const st = fstatSync(fd, { bigint: true });
  futimesSync(fd, seconds(a, st.atimeNs), seconds(m, st.mtimeNs));
}

/**
 * Set the times of `name` inside the open directory `dir`, never following a symlink
 * at `name`. `st` is its lstat (for the fallback, which cannot omit a time).
 */
export function setTimesAt(dir: DirHandle, name: string, st: BigIntStats, a: TimeSpec, m: TimeSpec): void {
  // One component inside the held directory, as the resolver promises; anything else
  // would let the kernel walk on its own, so it is refused here as well.
  if (name === "" || name === ".." || name.includes("/")) throw fail(ERRNO.notcapable);
  const c = lib();
  if (c) {
    // The resolver never yields a NUL; C would stop there and name another entry.
    if (name.includes("\0")) throw fail(ERRNO.inval);
    const path = Buffer.from(`${name}\0`, "utf8");
    if (c.utimensat(dir.fd, path, timespecs(a, m), AT_SYMLINK_NOFOLLOW) !== 0) throw libcError("utimensat", c.errno());
    return;
  }
  if (a === "omit" && m === "omit") return;
  lutimesAt(dir, name, seconds(a, st.atimeNs), seconds(m, st.mtimeNs));
}
