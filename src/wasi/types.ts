/**
 * WASI preview1 enums, flags and memory layouts (witx `typenames.witx`). Rights are
 * u64 in the ABI but every defined right sits in bits 0..29, so the host keeps them
 * as plain numbers (fast bit tests on the hot path) and converts at the boundary.
 */

export const RIGHTS = {
  fd_datasync: 1 << 0, fd_read: 1 << 1, fd_seek: 1 << 2, fd_fdstat_set_flags: 1 << 3, fd_sync: 1 << 4,
  fd_tell: 1 << 5, fd_write: 1 << 6, fd_advise: 1 << 7, fd_allocate: 1 << 8,
  path_create_directory: 1 << 9, path_create_file: 1 << 10, path_link_source: 1 << 11,
  path_link_target: 1 << 12, path_open: 1 << 13, fd_readdir: 1 << 14, path_readlink: 1 << 15,
  path_rename_source: 1 << 16, path_rename_target: 1 << 17, path_filestat_get: 1 << 18,
  path_filestat_set_size: 1 << 19, path_filestat_set_times: 1 << 20, fd_filestat_get: 1 << 21,
  fd_filestat_set_size: 1 << 22, fd_filestat_set_times: 1 << 23, path_symlink: 1 << 24,
  path_remove_directory: 1 << 25, path_unlink_file: 1 << 26, poll_fd_readwrite: 1 << 27,
  sock_shutdown: 1 << 28, sock_accept: 1 << 29,
} as const;
export const RIGHTS_ALL = (1 << 30) - 1;

const R = RIGHTS;
/** Rights that let an fd change a regular file's contents or metadata. */
export const RIGHTS_FILE_MUTATE = R.fd_write | R.fd_datasync | R.fd_sync | R.fd_allocate | R.fd_filestat_set_size | R.fd_filestat_set_times;
/** Rights that let a directory fd change the tree under it. */
export const RIGHTS_DIR_MUTATE =
  R.path_create_directory | R.path_create_file | R.path_link_target | R.path_rename_source | R.path_rename_target |
  R.path_filestat_set_size | R.path_filestat_set_times | R.path_symlink | R.path_remove_directory | R.path_unlink_file |
  R.fd_filestat_set_times;

/** Everything a regular file fd can use. */
export const RIGHTS_FILE_BASE =
  R.fd_datasync | R.fd_read | R.fd_seek | R.fd_fdstat_set_flags | R.fd_sync | R.fd_tell | R.fd_write | R.fd_advise |
  R.fd_allocate | R.fd_filestat_get | R.fd_filestat_set_size | R.fd_filestat_set_times | R.poll_fd_readwrite;
/** Everything a directory fd can use. */
export const RIGHTS_DIR_BASE =
  R.fd_fdstat_set_flags | R.fd_sync | R.fd_advise | R.path_create_directory | R.path_create_file | R.path_link_source |
  R.path_link_target | R.path_open | R.fd_readdir | R.path_readlink | R.path_rename_source | R.path_rename_target |
  R.path_filestat_get | R.path_filestat_set_size | R.path_filestat_set_times | R.fd_filestat_get |
  R.fd_filestat_set_times | R.path_symlink | R.path_remove_directory | R.path_unlink_file;
export const RIGHTS_DIR_INHERITING = RIGHTS_DIR_BASE | RIGHTS_FILE_BASE;
/** stdio: a character device or a pipe; no seeking. */
export const RIGHTS_STDIO = R.fd_read | R.fd_write | R.fd_fdstat_set_flags | R.fd_filestat_get | R.poll_fd_readwrite | R.fd_sync | R.fd_datasync;

export const FILETYPE = {
  unknown: 0, block_device: 1, character_device: 2, directory: 3, regular_file: 4,
  socket_dgram: 5, socket_stream: 6, symbolic_link: 7,
} as const;

export const FDFLAGS = { append: 1, dsync: 2, nonblock: 4, rsync: 8, sync: 16 } as const;
export const OFLAGS = { creat: 1, directory: 2, excl: 4, trunc: 8 } as const;
export const LOOKUP_SYMLINK_FOLLOW = 1;
export const FSTFLAGS = { atim: 1, atim_now: 2, mtim: 4, mtim_now: 8 } as const;
export const WHENCE = { set: 0, cur: 1, end: 2 } as const;
export const CLOCK = { realtime: 0, monotonic: 1, process_cputime_id: 2, thread_cputime_id: 3 } as const;
export const EVENTTYPE = { clock: 0, fd_read: 1, fd_write: 2 } as const;
export const SUBCLOCKFLAGS_ABSTIME = 1;
export const PREOPENTYPE_DIR = 0;

/** Byte sizes of the ABI structs (all little-endian). */
export const SIZE = { iovec: 8, fdstat: 24, filestat: 64, dirent: 24, prestat: 8, subscription: 48, event: 32 } as const;

/** Limits on host-side work per call; beyond these the guest gets an errno, not an allocation. */
export const LIMITS = {
  maxPathBytes: 4096,
  maxNameBytes: 255,
  maxSymlinkHops: 40,
  maxIovecs: 1024,
  /** Bytes one fd_read/fd_write moves at most; guests loop on short counts. */
  maxIoBytes: 16 * 1024 * 1024,
  defaultMaxFds: 1024,
  maxReaddirEntries: 100_000,
  /** fd_readdir listings held at once, all dir fds of an instance together (see fns-fd.ts). */
  maxListingBytes: 32 * 1024 * 1024,
  maxPollSubscriptions: 4096,
} as const;
