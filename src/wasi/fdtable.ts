import { ERRNO, fail } from "./errno.ts";
import { closeQuietly, type DirHandle } from "./hostfs.ts";
import { FILETYPE, LIMITS } from "./types.ts";

/**
 * The guest's file descriptor table. Entries hold host resources and their WASI
 * rights; the table owns them (closing an entry closes its host fd, except host
 * stdio which is borrowed). Rights are checked at ONE gate (`get(fd, rights)`).
 */

/** One preopened directory tree. Shared by every fd opened beneath it. */
export interface Sandbox {
  /** The sandbox's own handle on the preopen root, used to verify descriptors; lives until closeAll. */
  readonly root: DirHandle;
  readonly readOnly: boolean;
  readonly guestPath: string;
}

interface EntryBase {
  rightsBase: number;
  rightsInheriting: number;
  fdflags: number;
  filetype: number;
}

/**
 * A host function receiving a guest's stdout/stderr bytes to process (sanitize,
 * prefix, collect). fd_write hands it at most {@link SINK_SLICE} bytes at a time and
 * `timeLeft` (ms before the run's deadline), which bounds any wait for the output's
 * destination. It returns how many bytes of output the host made of the slice (an
 * escaped control byte is 4), which fd_write charges like the input: the host's
 * expansion of guest output is work the guest caused.
 */
export type OutputSink = (bytes: Uint8Array, timeLeft?: () => number) => number | void;

/**
 * Largest piece of guest output a sink processes at once. Host processing may expand
 * bytes several times (escapes, line prefixes); slicing keeps what is built per step
 * small, written out before the next, with the deadline and fuel checked between.
 */
export const SINK_SLICE = 64 * 1024;

export interface StdioEntry extends EntryBase {
  kind: "stdio";
  /** Borrowed host fd (never closed by us), a sink, or nothing (empty stdin / discarded output). */
  hostFd: number | undefined;
  sink: OutputSink | undefined;
}

export interface FileEntry extends EntryBase {
  kind: "file";
  hostFd: number;
  /** Our own file position: Node/Bun have no lseek, so reads/writes pass explicit positions. */
  pos: number;
  sandbox: Sandbox;
}

export interface DirEntry extends EntryBase {
  kind: "dir";
  handle: DirHandle;
  sandbox: Sandbox;
  /** Set for preopens: the name fd_prestat_dir_name reports (virtual, never a host path). */
  preopenName: Uint8Array | undefined;
  /** fd_readdir snapshot, taken at cookie 0; `unresolved[i]` = entry i's inode is not looked up yet (fns-fd.ts). */
  listing: { data: Uint8Array; offsets: number[]; unresolved?: Uint8Array } | undefined;
}

export type Entry = StdioEntry | FileEntry | DirEntry;

export class FdTable {
  private readonly entries: (Entry | undefined)[] = [];
  private open = 0;

  constructor(readonly maxFds: number = LIMITS.defaultMaxFds) {}

  /** Place an entry at a specific fd (stdio and preopens at startup). */
  set(fd: number, entry: Entry): void {
    if (this.entries[fd] === undefined) this.open++;
    this.entries[fd] = entry;
  }

  /** Lowest free fd; EMFILE once the per-instance limit is reached (host fds are never exhausted by a guest). */
  insert(entry: Entry): number {
    if (this.open >= this.maxFds) throw fail(ERRNO.mfile);
    let fd = 0;
    while (this.entries[fd] !== undefined) fd++;
    this.set(fd, entry);
    return fd;
  }

  /** The entry for `fd` or undefined (no errors; for poll and prestat). */
  peek(fd: number): Entry | undefined {
    return fd >= 0 ? this.entries[fd] : undefined;
  }

  /**
   * THE rights gate: the entry for `fd`, which must hold every right in `rights`.
   * EBADF for unknown fds, ENOTCAPABLE for missing rights.
   */
  get(fd: number, rights: number): Entry {
    const e = fd >= 0 ? this.entries[fd] : undefined;
    if (e === undefined) throw fail(ERRNO.badf);
    if ((e.rightsBase & rights) !== rights) throw fail(ERRNO.notcapable);
    return e;
  }

  /** Like get, but the fd must be a directory (ENOTDIR otherwise). */
  dir(fd: number, rights: number): DirEntry {
    const e = fd >= 0 ? this.entries[fd] : undefined;
    if (e === undefined) throw fail(ERRNO.badf);
    if (e.kind !== "dir") throw fail(ERRNO.notdir);
    if ((e.rightsBase & rights) !== rights) throw fail(ERRNO.notcapable);
    return e;
  }

  close(fd: number): void {
    const e = fd >= 0 ? this.entries[fd] : undefined;
    if (e === undefined) throw fail(ERRNO.badf);
    this.entries[fd] = undefined;
    this.open--;
    release(e);
  }

  /**
   * fd_renumber: both fds must be open; `to` is closed and `from` moves onto it.
   * from === to is a successful no-op (CVE-2025-53901 was a panic here). Renumbering
   * over a preopen leaves a non-preopen (unless `from` itself was one).
   */
  renumber(from: number, to: number): void {
    const src = from >= 0 ? this.entries[from] : undefined;
    const dst = to >= 0 ? this.entries[to] : undefined;
    if (src === undefined || dst === undefined) throw fail(ERRNO.badf);
    if (from === to) return;
    this.entries[to] = src;
    this.entries[from] = undefined;
    this.open--;
    release(dst);
  }

  /** Narrow rights only: asking for any right the fd does not hold is ENOTCAPABLE. */
  setRights(fd: number, base: number, inheriting: number): void {
    const e = this.get(fd, 0);
    if ((base & ~e.rightsBase) !== 0 || (inheriting & ~e.rightsInheriting) !== 0) throw fail(ERRNO.notcapable);
    e.rightsBase = base;
    e.rightsInheriting = inheriting;
  }

  get size(): number {
    return this.open;
  }

  /** fds currently open (ascending). */
  fds(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i] !== undefined) out.push(i);
    return out;
  }

  closeAll(): void {
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e !== undefined) release(e);
    }
    this.entries.length = 0;
    this.open = 0;
  }
}

function release(e: Entry): void {
  if (e.kind === "file") closeQuietly(e.hostFd);
  else if (e.kind === "dir") {
    closeQuietly(e.handle.fd);
    e.listing = undefined;
  }
}

export function filetypeOfStats(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): number {
  if (st.isFile()) return FILETYPE.regular_file;
  if (st.isDirectory()) return FILETYPE.directory;
  if (st.isSymbolicLink()) return FILETYPE.symbolic_link;
  if (st.isCharacterDevice()) return FILETYPE.character_device;
  if (st.isBlockDevice()) return FILETYPE.block_device;
  if (st.isSocket()) return FILETYPE.socket_stream;
  return FILETYPE.unknown;
}
