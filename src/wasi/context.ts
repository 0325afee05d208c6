import { fstatSync } from "node:fs";
import type { Entry, FdTable, FileEntry, Sandbox } from "./fdtable.ts";
import type { GuestMemory } from "./memory.ts";
import type { Gate } from "./gate.ts";
import { ERRNO, fail } from "./errno.ts";
import { FILETYPE, SIZE } from "./types.ts";
import { requireWritable } from "./readonly.ts";

/** Per-instance state shared by the host function groups. */
export interface WasiContext {
  readonly mem: GuestMemory;
  readonly fds: FdTable;
  /** NUL-terminated argv strings, concatenated, and each string's offset. */
  readonly args: EncodedStrings;
  readonly env: EncodedStrings;
  /** performance.now() value after which sleeps and blocking reads stop; Infinity if none. */
  readonly deadline: number;
  /** The run's host-call gate: charge work with it, and stop through it when a wait reaches the deadline. */
  readonly gate: Gate;
}

export interface EncodedStrings {
  readonly buf: Uint8Array;
  readonly offsets: number[];
}

export function encodeStrings(list: string[]): EncodedStrings {
  const enc = new TextEncoder();
  const parts = list.map((s) => enc.encode(s));
  const total = parts.reduce((n, p) => n + p.length + 1, 0);
  const buf = new Uint8Array(total);
  const offsets: number[] = [];
  let o = 0;
  for (const p of parts) {
    offsets.push(o);
    buf.set(p, o);
    o += p.length + 1; // trailing NUL already zero
  }
  return { buf, offsets };
}

/** Thrown when a blocking host call reaches the run's deadline; the runner maps it to the time-limit exit. */
export class WasiDeadlineExceeded extends Error {
  constructor() {
    super("wall-clock deadline reached while blocked in a WASI call");
    this.name = "WasiDeadlineExceeded";
  }
}

/**
 * A regular-file entry for an operation. `mutates` routes through the read-only gate
 * first (EROFS), then the rights gate (ENOTCAPABLE). Non-files are EBADF, except
 * directories which are EISDIR for data operations.
 */
export function fileFor(ctx: WasiContext, fd: number, rights: number, mutates: boolean): FileEntry {
  const e = ctx.fds.get(fd, 0);
  if (e.kind === "dir") throw fail(ERRNO.isdir);
  if (e.kind !== "file") throw fail(ERRNO.badf);
  if (mutates) requireWritable(e.sandbox);
  return ctx.fds.get(fd, rights) as FileEntry;
}

/** The sandbox an entry belongs to, if any (stdio has none). */
export function sandboxOf(e: Entry): Sandbox | undefined {
  return e.kind === "stdio" ? undefined : e.sandbox;
}

/** Write a filestat (64 bytes) from bigint stats. */
export function writeFilestat(ctx: WasiContext, ptr: number, st: StatLike, filetype: number): void {
  const m = ctx.mem;
  m.check(ptr, SIZE.filestat);
  m.zero(ptr, SIZE.filestat);
  m.setU64(ptr, st.dev);
  m.setU64(ptr + 8, st.ino);
  m.setU8(ptr + 16, filetype);
  m.setU64(ptr + 24, st.nlink);
  m.setU64(ptr + 32, st.size);
  m.setU64(ptr + 40, st.atimeNs);
  m.setU64(ptr + 48, st.mtimeNs);
  m.setU64(ptr + 56, st.ctimeNs);
}

export interface StatLike {
  dev: bigint;
  ino: bigint;
  nlink: bigint;
  size: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export const ZERO_STAT: StatLike = { dev: 0n, ino: 0n, nlink: 0n, size: 0n, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n };

/** Filetype of a borrowed stdio host fd (character device for TTYs, regular file for redirects, unknown for pipes). */
export function stdioFiletype(hostFd: number | undefined): number {
  if (hostFd === undefined) return FILETYPE.character_device;
  try {
    const st = fstatSync(hostFd);
    if (st.isFile()) return FILETYPE.regular_file;
    if (st.isCharacterDevice()) return FILETYPE.character_device;
    if (st.isSocket()) return FILETYPE.socket_stream;
    return FILETYPE.unknown;
  } catch {
    return FILETYPE.character_device;
  }
}
