import { fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, readSync, writeSync, readdirSync, lstatSync } from "node:fs";
import { ERRNO, fail } from "./errno.ts";
import { fileFor, writeFilestat, ZERO_STAT, type WasiContext } from "./context.ts";
import { mayBlock, pollFd, waitReady } from "./wait.ts";
import { filetypeOfStats, SINK_SLICE, type DirEntry, type Entry, type OutputSink } from "./fdtable.ts";
import { self } from "./hostfs.ts";
import { requireWritable } from "./readonly.ts";
import { setTimesFd, timesFromFlags } from "./times.ts";
import { FDFLAGS, FILETYPE, FSTFLAGS, LIMITS, PREOPENTYPE_DIR, RIGHTS, SIZE, WHENCE } from "./types.ts";

const R = RIGHTS;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Bytes a pipe with poll's POLLOUT is guaranteed to take without blocking (POSIX minimum PIPE_BUF). */
const DOT = new Uint8Array([0x2e]);
const DOTDOT = new Uint8Array([0x2e, 0x2e]);
const PIPE_BUF = process.platform === "linux" ? 4096 : 512;

/** Convert a u64/i64 BigInt to a safe JS number or fail with `errno`. */
export function toSafe(v: bigint, errno: number = ERRNO.inval): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(errno);
  return Number(v);
}

export function validateFstFlags(flags: number): void {
  if (flags & ~0xf) throw fail(ERRNO.inval);
  if ((flags & FSTFLAGS.atim) && (flags & FSTFLAGS.atim_now)) throw fail(ERRNO.inval);
  if ((flags & FSTFLAGS.mtim) && (flags & FSTFLAGS.mtim_now)) throw fail(ERRNO.inval);
}

export function fdFunctions(ctx: WasiContext) {
  const m = ctx.mem;
  const fds = ctx.fds;

  /** Iterate iovecs: calls `each(ptr, len)` (bounds-checked) until it returns fewer bytes than asked. */
  function forIovecs(iovs: number, n: number, each: (ptr: number, len: number) => number): number {
    n = n >>> 0;
    if (n > LIMITS.maxIovecs) throw fail(ERRNO.inval);
    m.check(iovs, n * SIZE.iovec);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const ptr = m.u32(iovs + i * 8);
      let len = m.u32(iovs + i * 8 + 4);
      if (len === 0) continue;
      m.check(ptr, len);
      if (total + len > LIMITS.maxIoBytes) len = LIMITS.maxIoBytes - total;
      if (len <= 0) break;
      const done = each(ptr, len);
      total += done;
      if (done < len) break;
    }
    return total;
  }

  /**
   * mayBlock, remembered for the borrowed stdio fds (0-2 stay the same object for the
   * whole run; an isatty per write would cost about what the poll it saves costs).
   * Files the guest opened are checked each time: their host fd numbers are reused.
   */
  const stdioWaits = new Map<number, boolean>();
  function mayWait(hostFd: number, filetype: number): boolean {
    if (hostFd > 2) return mayBlock(filetype, hostFd);
    let w = stdioWaits.get(hostFd);
    if (w === undefined) stdioWaits.set(hostFd, (w = mayBlock(filetype, hostFd)));
    return w;
  }

  /**
   * Read from a host fd without blocking past the deadline: an fd that can wait
   * (pipe, FIFO, terminal) is polled first, in slices bounded by the time left, and
   * EAGAIN (O_NONBLOCK opens) waits the same way. The deadline stops the run through
   * the gate (uncatchable by the guest).
   */
  function readHost(hostFd: number, filetype: number, ptr: number, len: number, position: number | null): number {
    const waits = mayWait(hostFd, filetype);
    for (;;) {
      if (waits) waitReady(hostFd, false, ctx.gate.timeLeft, ctx.gate.deadline);
      try {
        const n = readSync(hostFd, m.u8, ptr, len, position);
        ctx.gate.bytes(n);
        return n;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") {
          if (ctx.gate.timeLeft() <= 0) ctx.gate.deadline();
          if (!waits || pollFd(hostFd, false, 0) === undefined) Atomics.wait(sleepCell, 0, 0, Math.min(5, ctx.gate.timeLeft()));
          continue;
        }
        if (code === "EOF") return 0;
        throw e;
      }
    }
  }

  /** Write to a host fd; a pipe or terminal is written in pieces it has room for, so a full pipe waits with the deadline. */
  function writeHost(hostFd: number, filetype: number, ptr: number, len: number, position: number | null): number {
    const waits = mayWait(hostFd, filetype);
    let done = 0;
    while (done < len) {
      const polled = waits && waitReady(hostFd, true, ctx.gate.timeLeft, ctx.gate.deadline);
      // poll promises room for PIPE_BUF bytes; a larger blocking write could wait for the reader.
      const piece = polled ? Math.min(len - done, PIPE_BUF) : len - done;
      try {
        const n = writeSync(hostFd, m.u8, ptr + done, piece, position === null ? null : position + done);
        done += n;
        ctx.gate.bytes(n);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") {
          if (ctx.gate.timeLeft() <= 0) ctx.gate.deadline();
          if (!polled) Atomics.wait(sleepCell, 0, 0, Math.min(1, ctx.gate.timeLeft()));
          continue;
        }
        if (done > 0) return done;
        throw e;
      }
    }
    return done;
  }

  /**
   * Guest output the host processes (sanitizes, prefixes) goes to its sink in slices
   * of at most SINK_SLICE bytes. Each slice is charged (its bytes, then the output the
   * host made of them) and the deadline checked before the next: one huge write of
   * control bytes or newlines, expanded several times over, is built and written a
   * slice at a time, and stops at the deadline or on fuel like any other work.
   */
  function toSink(sink: OutputSink, ptr: number, len: number): number {
    for (let done = 0; done < len; ) {
      if (ctx.gate.timeLeft() <= 0) ctx.gate.deadline();
      const k = Math.min(SINK_SLICE, len - done);
      ctx.gate.bytes(k, true);
      const produced = sink(m.copy(ptr + done, k), ctx.gate.timeLeft);
      if (typeof produced === "number") ctx.gate.bytes(produced, true);
      done += k;
    }
    return len;
  }

  function read(fd: number, iovs: number, n: number, offset: number | undefined, ret: number): number {
    m.check(ret, 4);
    const e = fds.get(fd, 0);
    let total: number;
    if (e.kind === "stdio") {
      fds.get(fd, R.fd_read);
      if (offset !== undefined) throw fail(ERRNO.spipe);
      const h = e.hostFd;
      total = h === undefined ? 0 : forIovecs(iovs, n, (p, l) => readHost(h, e.filetype, p, l, null));
    } else {
      const f = fileFor(ctx, fd, offset === undefined ? R.fd_read : R.fd_read | R.fd_seek, false);
      let pos = offset ?? f.pos;
      total = forIovecs(iovs, n, (p, l) => {
        const got = readHost(f.hostFd, f.filetype, p, l, pos);
        pos += got;
        return got;
      });
      if (offset === undefined) f.pos = pos;
    }
    m.setU32(ret, total);
    return ERRNO.success;
  }

  function write(fd: number, iovs: number, n: number, offset: number | undefined, ret: number): number {
    m.check(ret, 4);
    const e = fds.get(fd, 0);
    let total: number;
    if (e.kind === "stdio") {
      fds.get(fd, R.fd_write);
      if (offset !== undefined) throw fail(ERRNO.spipe);
      const h = e.hostFd;
      const sink = e.sink;
      if (sink) total = forIovecs(iovs, n, (p, l) => toSink(sink, p, l));
      else if (h !== undefined) total = forIovecs(iovs, n, (p, l) => writeHost(h, e.filetype, p, l, null));
      else total = forIovecs(iovs, n, (_p, l) => l); // discarded output
    } else {
      const f = fileFor(ctx, fd, offset === undefined ? R.fd_write : R.fd_write | R.fd_seek, true);
      const append = (f.fdflags & FDFLAGS.append) !== 0;
      // Append is emulated (host files are never opened O_APPEND) so positions stay ours.
      let pos = append ? Number(fstatSync(f.hostFd, { bigint: true }).size) : (offset ?? f.pos);
      total = forIovecs(iovs, n, (p, l) => {
        const put = writeHost(f.hostFd, f.filetype, p, l, pos);
        pos += put;
        return put;
      });
      if (offset === undefined) f.pos = pos;
      if (f.fdflags & (FDFLAGS.dsync | FDFLAGS.sync)) fsyncSync(f.hostFd);
    }
    m.setU32(ret, total);
    return ERRNO.success;
  }

  function statOf(e: Entry) {
    if (e.kind === "stdio") return e.hostFd === undefined ? ZERO_STAT : fstatSync(e.hostFd, { bigint: true });
    return fstatSync(e.kind === "file" ? e.hostFd : e.handle.fd, { bigint: true });
  }

  /**
   * Directory listings held for fd_readdir, across all of this instance's dir fds.
   * Together they stay under LIMITS.maxListingBytes: taking a new one first drops
   * the others (a dropped listing is taken again when its fd reads on), so 80 fds
   * over 20,000 long names cost one listing, not 80.
   */
  const holders = new Set<DirEntry>();
  function makeRoomFor(d: DirEntry, size: number): void {
    let held = 0;
    for (const h of holders) {
      if (h.listing === undefined || h === d) holders.delete(h);
      else held += h.listing.data.length;
    }
    if (held + size <= LIMITS.maxListingBytes) return;
    for (const h of holders) h.listing = undefined;
    holders.clear();
  }

  /**
   * A listing of the directory for fd_readdir: one getdents pass (names), laid out as
   * WASI dirents. Inode numbers and types are filled in lazily by {@link resolveRange}, only for the entries a call
   * actually hands out: a listing costs one lstat per entry the guest reads, not per
   * entry in the directory.
   */
  function snapshot(d: DirEntry): NonNullable<DirEntry["listing"]> {
    d.listing = undefined;
    // Names only (Bun's readdir ignores withFileTypes with buffer names); types come with the lazy lstat.
    const dirents = readdirSync(self(d.handle), { encoding: "buffer" });
    if (dirents.length > LIMITS.maxReaddirEntries) throw fail(ERRNO.nobufs);
    // Charged per entry, and its host garbage counted, so listing loops meet the
    // deadline and the fuel, and the gate collects what they drop.
    ctx.gate.work(dirents.length * 20);
    const dirSt = fstatSync(d.handle.fd, { bigint: true });
    let size = 2 * SIZE.dirent + 3;
    for (const x of dirents) size += SIZE.dirent + x.length;
    // The names as JS buffers (~0.5 KiB of heap each) plus the listing itself.
    ctx.gate.bytes(dirents.length * 512 + size, true);
    if (size > LIMITS.maxListingBytes) throw fail(ERRNO.nobufs);
    makeRoomFor(d, size);
    const data = new Uint8Array(size);
    const dv = new DataView(data.buffer);
    const offsets: number[] = [];
    const unresolved = new Uint8Array(dirents.length + 2);
    let o = 0;
    const put = (i: number, name: Uint8Array, ino: bigint, type: number): void => {
      offsets.push(o);
      dv.setBigUint64(o, BigInt(i + 1), true);
      dv.setBigUint64(o + 8, ino, true);
      dv.setUint32(o + 16, name.length, true);
      dv.setUint8(o + 20, type);
      data.set(name, o + SIZE.dirent);
      o += SIZE.dirent + name.length;
    };
    put(0, DOT, dirSt.ino, FILETYPE.directory);
    put(1, DOTDOT, dirSt.ino, FILETYPE.directory);
    dirents.forEach((x, i) => {
      put(i + 2, x, 0n, FILETYPE.unknown);
      unresolved[i + 2] = 1;
    });
    offsets.push(o);
    return { data, offsets, unresolved };
  }

  /** Fill in inode and type (from lstat) for the listing's entries that overlap bytes [start, end). */
  function resolveRange(d: DirEntry, first: number, end: number): void {
    const l = d.listing;
    if (!l?.unresolved) return;
    const dv = new DataView(l.data.buffer);
    const count = l.offsets.length - 1;
    for (let i = first; i < count && l.offsets[i]! < end; i++) {
      if (!l.unresolved[i]) continue;
      l.unresolved[i] = 0;
      ctx.gate.work(200);
      const o = l.offsets[i]!;
      const name = l.data.subarray(o + SIZE.dirent, o + SIZE.dirent + dv.getUint32(o + 16, true));
      try {
        const st = lstatSync(Buffer.concat([Buffer.from(`${self(d.handle)}/`), name]), { bigint: true });
        dv.setBigUint64(o + 8, st.ino, true);
        dv.setUint8(o + 20, filetypeOfStats(st));
      } catch {
        // vanished since the listing: unknown type and inode 0, like a racing readdir
      }
    }
  }

  return {
    fd_advise(fd: number, _offset: bigint, _len: bigint, advice: number): number {
      // Advice is for regular files only: a directory or stdio is EBADF before any
      // rights check (wasmtime, wasi-libc's fadvise test), not ENOTCAPABLE.
      if (fds.get(fd, 0).kind !== "file") throw fail(ERRNO.badf);
      fds.get(fd, R.fd_advise);
      if (advice < 0 || advice > 5) throw fail(ERRNO.inval);
      return ERRNO.success;
    },
    fd_allocate(fd: number, offset: bigint, len: bigint): number {
      const f = fileFor(ctx, fd, R.fd_allocate, true);
      const end = toSafe(offset) + toSafe(len);
      if (end > Number.MAX_SAFE_INTEGER) throw fail(ERRNO.fbig);
      const size = Number(fstatSync(f.hostFd, { bigint: true }).size);
      if (end > size) ftruncateSync(f.hostFd, end);
      return ERRNO.success;
    },
    fd_close(fd: number): number {
      fds.close(fd);
      return ERRNO.success;
    },
    fd_datasync(fd: number): number {
      const e = fds.get(fd, R.fd_datasync);
      if (e.kind === "file") fdatasyncSync(e.hostFd);
      return ERRNO.success;
    },
    fd_sync(fd: number): number {
      const e = fds.get(fd, R.fd_sync);
      if (e.kind === "file") fsyncSync(e.hostFd);
      else if (e.kind === "dir") fsyncSync(e.handle.fd);
      return ERRNO.success;
    },
    fd_fdstat_get(fd: number, ret: number): number {
      m.check(ret, SIZE.fdstat);
      const e = fds.get(fd, 0);
      m.zero(ret, SIZE.fdstat);
      m.setU8(ret, e.filetype);
      m.setU16(ret + 2, e.fdflags);
      m.setU64(ret + 8, e.rightsBase);
      m.setU64(ret + 16, e.rightsInheriting);
      return ERRNO.success;
    },
    fd_fdstat_set_flags(fd: number, flags: number): number {
      const e = fds.get(fd, 0);
      // Only files opened here have flags to change: stdio is borrowed from fledge's own
      // process (O_NONBLOCK or O_APPEND there would change fledge's terminal or pipe) and
      // a directory has none. EBADF, as wasmtime and wasi-libc's tests expect.
      if (e.kind !== "file") throw fail(ERRNO.badf);
      if (flags & ~0x1f) throw fail(ERRNO.inval);
      // Only append and nonblock can change after open (as in wasmtime); sync flags are fixed at open.
      if ((flags & (FDFLAGS.dsync | FDFLAGS.rsync | FDFLAGS.sync)) !== (e.fdflags & (FDFLAGS.dsync | FDFLAGS.rsync | FDFLAGS.sync))) throw fail(ERRNO.notsup);
      if (e.kind === "file" && (flags & FDFLAGS.append) && !(e.fdflags & FDFLAGS.append)) requireWritable(e.sandbox);
      fds.get(fd, R.fd_fdstat_set_flags);
      e.fdflags = flags;
      return ERRNO.success;
    },
    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      // Any bit beyond the defined rights is a right nobody holds: asking for it widens.
      const limit = 0x3fffffffn;
      if (base & ~limit || inheriting & ~limit) throw fail(ERRNO.notcapable);
      fds.setRights(fd, Number(base), Number(inheriting));
      return ERRNO.success;
    },
    fd_filestat_get(fd: number, ret: number): number {
      m.check(ret, SIZE.filestat);
      const e = fds.get(fd, R.fd_filestat_get);
      writeFilestat(ctx, ret, statOf(e), e.filetype);
      return ERRNO.success;
    },
    fd_filestat_set_size(fd: number, size: bigint): number {
      const f = fileFor(ctx, fd, R.fd_filestat_set_size, true);
      ftruncateSync(f.hostFd, toSafe(size, ERRNO.fbig));
      return ERRNO.success;
    },
    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, flags: number): number {
      validateFstFlags(flags);
      const e = fds.get(fd, 0);
      if (e.kind === "stdio") throw fail(ERRNO.badf);
      requireWritable(e.sandbox);
      fds.get(fd, R.fd_filestat_set_times);
      const [a, mt] = timesFromFlags(flags, atim, mtim);
      // Exact nanoseconds; the time not asked for stays untouched (src/wasi/times.ts).
      setTimesFd(e.kind === "file" ? e.hostFd : e.handle.fd, a, mt);
      return ERRNO.success;
    },
    fd_pread(fd: number, iovs: number, n: number, offset: bigint, ret: number): number {
      return read(fd, iovs, n, toSafe(offset), ret);
    },
    fd_pwrite(fd: number, iovs: number, n: number, offset: bigint, ret: number): number {
      return write(fd, iovs, n, toSafe(offset), ret);
    },
    fd_read(fd: number, iovs: number, n: number, ret: number): number {
      return read(fd, iovs, n, undefined, ret);
    },
    fd_write(fd: number, iovs: number, n: number, ret: number): number {
      return write(fd, iovs, n, undefined, ret);
    },
    fd_prestat_get(fd: number, ret: number): number {
      const e = fds.peek(fd);
      if (e === undefined || e.kind !== "dir" || e.preopenName === undefined) throw fail(ERRNO.badf);
      m.check(ret, SIZE.prestat);
      m.zero(ret, SIZE.prestat);
      m.setU8(ret, PREOPENTYPE_DIR);
      m.setU32(ret + 4, e.preopenName.length);
      return ERRNO.success;
    },
    fd_prestat_dir_name(fd: number, path: number, len: number): number {
      const e = fds.peek(fd);
      if (e === undefined || e.kind !== "dir" || e.preopenName === undefined) throw fail(ERRNO.badf);
      if (len >>> 0 < e.preopenName.length) throw fail(ERRNO.nametoolong);
      m.write(path, e.preopenName);
      return ERRNO.success;
    },
    fd_readdir(fd: number, buf: number, len: number, cookie: bigint, ret: number): number {
      m.check(ret, 4);
      const out = m.bytes(buf, len);
      const d = fds.dir(fd, R.fd_readdir);
      if (cookie === 0n || d.listing === undefined) {
        d.listing = snapshot(d);
        holders.add(d);
      }
      const { data, offsets } = d.listing;
      const count = offsets.length - 1;
      // The cookie is the index of the next entry (each d_next is index + 1).
      const start = cookie >= BigInt(count) ? data.length : offsets[Number(cookie)]!;
      const n = Math.min(out.length, data.length - start);
      if (start < data.length) resolveRange(d, Number(cookie), start + n);
      out.set(data.subarray(start, start + n));
      m.setU32(ret, n);
      return ERRNO.success;
    },
    fd_renumber(from: number, to: number): number {
      fds.renumber(from, to);
      return ERRNO.success;
    },
    fd_seek(fd: number, offset: bigint, whence: number, ret: number): number {
      m.check(ret, 8);
      const e = fds.get(fd, 0);
      if (e.kind === "stdio") throw fail(ERRNO.spipe);
      if (e.kind === "dir") throw fail(ERRNO.badf);
      const tellOnly = whence === WHENCE.cur && offset === 0n;
      fds.get(fd, tellOnly ? R.fd_tell : R.fd_seek);
      let base: bigint;
      if (whence === WHENCE.set) base = 0n;
      else if (whence === WHENCE.cur) base = BigInt(e.pos);
      else if (whence === WHENCE.end) base = fstatSync(e.hostFd, { bigint: true }).size;
      else throw fail(ERRNO.inval);
      const next = base + BigInt.asIntN(64, offset);
      if (next < 0n) throw fail(ERRNO.inval);
      e.pos = toSafe(next, ERRNO.overflow);
      m.setU64(ret, next);
      return ERRNO.success;
    },
    fd_tell(fd: number, ret: number): number {
      m.check(ret, 8);
      const e = fds.get(fd, 0);
      if (e.kind === "stdio") throw fail(ERRNO.spipe);
      if (e.kind === "dir") throw fail(ERRNO.badf);
      fds.get(fd, R.fd_tell);
      m.setU64(ret, e.pos);
      return ERRNO.success;
    },
  };
}

