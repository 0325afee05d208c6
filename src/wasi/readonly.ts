import { ERRNO, fail } from "./errno.ts";
import type { Sandbox } from "./fdtable.ts";
import { FDFLAGS, OFLAGS, RIGHTS, RIGHTS_DIR_MUTATE, RIGHTS_FILE_MUTATE } from "./types.ts";

/**
 * THE read-only gate. Every operation that could change anything under a preopen
 * calls `requireWritable` with every sandbox it touches (both ends of rename and
 * link). A read-only preopen answers EROFS, whatever rights the fd claims — rights
 * are a second, independent layer (files from read-only preopens never get write
 * rights, see `grantedRights`).
 */
export function requireWritable(...sandboxes: Sandbox[]): void {
  for (const s of sandboxes) if (s.readOnly) throw fail(ERRNO.rofs);
}

/** Rights that express intent to write when requested in path_open (wasi-libc requests these for O_WRONLY/O_RDWR). */
const WRITE_INTENT_RIGHTS = RIGHTS.fd_write | RIGHTS.fd_datasync | RIGHTS.fd_allocate | RIGHTS.fd_filestat_set_size;
const WRITE_INTENT_FDFLAGS = FDFLAGS.append | FDFLAGS.dsync | FDFLAGS.sync | FDFLAGS.rsync;

/**
 * Does this path_open mutate or prepare to mutate? O_TRUNC counts even with only
 * read rights (CVE-2026-47261), as do O_CREAT, write-type rights and write-sync/append flags.
 */
export function openWantsWrite(oflags: number, rightsBase: number, fdflags: number): boolean {
  return (oflags & (OFLAGS.creat | OFLAGS.trunc)) !== 0 || (rightsBase & WRITE_INTENT_RIGHTS) !== 0 || (fdflags & WRITE_INTENT_FDFLAGS) !== 0;
}

/** Strip every mutating right from fds that live in a read-only sandbox. */
export function grantedRights(sandbox: Sandbox, rights: number): number {
  return sandbox.readOnly ? rights & ~(RIGHTS_FILE_MUTATE | RIGHTS_DIR_MUTATE) : rights;
}
