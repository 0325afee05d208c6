/**
 * The seccomp filter: the few things Landlock does not cover, as a classic BPF
 * program. Kept small on purpose; each entry says why it is here.
 *
 * - socket(): without `network`, no socket at all (UDP, raw, netlink, and unix sockets
 *   that reach ssh-agent, docker or D-Bus by path; Landlock only governs TCP).
 * - socketpair(): only AF_UNIX SOCK_STREAM or SOCK_SEQPACKET (with or without
 *   SOCK_NONBLOCK/SOCK_CLOEXEC), with or without network. A connected pair reaches
 *   nobody but itself (the kernel refuses an address on a connected stream socket and
 *   ignores it on a seqpacket one, and neither can connect again); a DATAGRAM end can
 *   sendto() (or connect() to) any path-named datagram socket of the user's services
 *   (journald's /dev/log, NOTIFY_SOCKET, control sockets). Seqpacket pairs are how
 *   Rust's std (cargo, rustc) hands a child's pidfd back, so refusing them broke builds.
 * - SysV IPC (shared memory, message queues, semaphores): outside Landlock, they reach
 *   every unconfined process of the user (X11 MIT-SHM, databases). Refused with ENOSYS
 *   as on a kernel built without SysV IPC, so programs fall back; /proc/sysvipc is hidden.
 * - ptrace, process_vm_readv/writev: reading other processes' memory (Landlock already
 *   limits ptrace to its own domain; this is the second lock).
 * - ioctl TIOCSTI / TIOCLINUX: typing commands into the user's terminal.
 * - io_uring: a second syscall interface that filters and audits do not see.
 * - keyctl, add_key, request_key: the kernel keyring can hold the user's secrets.
 * - resource limits, priority, scheduling, I/O priority and page migration of ANOTHER
 *   process (prlimit64 on a victim set RLIMIT_FSIZE=0 and killed it): allowed only with
 *   pid 0 ("myself"; BPF cannot know the caller's own pid). pidfd_open is refused
 *   (ENOSYS, so programs fall back to waitpid); pidfd_getfd, process_madvise and kcmp
 *   are refused.
 * - POSIX message queues (mq_open, mq_unlink, mq_timedsend/receive, mq_notify,
 *   mq_getsetattr): mq_open(O_CREAT) creates the queue in the IPC namespace BEFORE
 *   Landlock refuses the open, and a queue outlives the run and is readable by other
 *   users: a channel out of a network-less plugin. Refused with ENOSYS, like SysV IPC.
 * - file metadata by PATH (chmod, chown, times): Landlock does not govern them, so a
 *   plugin could chmod 0644 ~/.ssh/id_ed25519 or give away ~/.bashrc. Refused; the
 *   descriptor forms of chown and times (fchown, futimens) stay (the file had to be
 *   opened, which Landlock checks; no capabilities are left: only the owner's own files,
 *   only to the owner's groups). `chmod +x` by path therefore fails inside a plugin:
 *   create files with the mode they need instead.
 * - file MODES, by any call (chmod, fchmodat, fchmodat2, and fchmod on a descriptor):
 *   never to a group/other-writable or set-uid/set-gid mode (CHMOD_REFUSED_BITS).
 *   Opening a file to READ is enough for fchmod, and a plugin started by root may read
 *   every root-owned system file: fchmod 0777 of /usr/bin/x would hand it to any local
 *   user. Safe modes stay allowed by descriptor (cp -p, tar); by path only for builds.
 *   When fledge runs as root, a plugin that is not a build may not change any mode at
 *   all: even a "safe" mode on a root file it may only read exposes it (a private 0600
 *   made 0644), strips a set-uid program (4755 to 0755) or locks the system (a system
 *   folder made 0700), and BPF cannot tell a descriptor opened to write from one opened
 *   to read. Builds keep the mode rule (their outputs need `chmod +x`).
 * - modes at CREATION (mkdir, mkdirat, mknod, mknodat, open, openat, creat): never
 *   set-uid or set-gid (EPERM). Group/other write at creation is the umask's work: the
 *   plugin starts with 022 in its umask, and umask() with a mask lacking any of 022 is
 *   not executed and returns 0 (so `old = umask(0); ...; umask(old)` keeps 022). Without
 *   this a world-writable folder left in the project (mkdir 0777 after umask 0) lets any
 *   local user plant a `.git` there after the run. openat2 carries its mode behind a
 *   pointer BPF cannot read: refused with ENOSYS (glibc and language runtimes use openat).
 * - extended attributes, set or removed, by path or descriptor (setxattr, fsetxattr,
 *   removexattr, ... and the `at` forms): refused with EOPNOTSUPP, which programs read
 *   as "this filesystem has none" and go on. BPF cannot read the attribute's name, and
 *   `system.posix_acl_access` on a descriptor grants another user write silently.
 * - any other architecture (32-bit syscalls on x86_64) is killed: the numbers differ.
 */

export interface SeccompOptions {
  network: boolean;
  /**
   * Builds only: chmod by path is allowed (within the one mode rule, CHMOD_REFUSED_BITS).
   * Build outputs need `chmod +x`; what stays possible is making a file
   * group/other-READABLE, which Landlock cannot stop for a file the build may not even read.
   */
  chmodByPath?: boolean | undefined;
  /**
   * fledge runs as uid 0: outside builds, no mode change at all (chmod, fchmod, fchmodat,
   * fchmodat2 all refused), since a root plugin may read, and so fchmod, every system file.
   */
  runsAsRoot?: boolean | undefined;
}

/** Mode bits no confined process may create a file or folder with: set-uid, set-gid. */
export const CREATE_REFUSED_BITS = 0o6000;
const GROUP_WRITE = 0o020;
const OTHER_WRITE = 0o002;
/** Bits every plugin keeps in its umask: nothing it creates is group/other-writable. */
export const UMASK_REQUIRED_BITS = GROUP_WRITE | OTHER_WRITE;

/** Mode bits no confined process may set, by any call: group/other write, set-uid, set-gid. */
export const CHMOD_REFUSED_BITS = 0o6022;

interface ArchTable {
  audit: number;
  socket: number;
  ptrace: number;
  processVmReadv: number;
  processVmWritev: number;
  ioctl: number;
  socketpair: number;
  /** shmget, shmat, shmctl, msgget, msgsnd, msgrcv, msgctl, semget, semop, semtimedop, semctl (and ipc(2) where it exists). */
  sysvIpc: readonly number[];
  ioUring: readonly number[];
  keyring: readonly number[];
  /** x32 syscalls have this bit set on x86_64. */
  x32Bit?: number;
  /** Calls allowed only when the listed arguments equal the given values (the caller itself). */
  selfOnly: readonly (readonly [nr: number, checks: readonly (readonly [arg: number, value: number])[]])[];
  /** Calls refused with EPERM (other processes; owners and times by path). */
  denied: readonly number[];
  /** Calls refused with ENOSYS (callers fall back to an older way). */
  missing: readonly number[];
  /** utimensat: allowed only with a NULL path (futimens on an open descriptor). */
  utimensat: number;
  /** Every mode-changing call, the index of its mode argument, and whether it names a path. */
  modeCalls: readonly (readonly [nr: number, modeArg: number, byPath: boolean])[];
  /** Every call that creates an entry with a mode, and the index of its mode argument. */
  createCalls: readonly (readonly [nr: number, modeArg: number])[];
  umask: number;
  /** setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, fremovexattr, setxattrat, removexattrat. */
  xattrWrites: readonly number[];
  /** mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr. */
  posixMq: readonly number[];
}
const PID0 = [[0, 0]] as const;

const ARCH: Record<string, ArchTable> = {
  x64: {
    audit: 0xc000003e, socket: 41, ptrace: 101, processVmReadv: 310, processVmWritev: 311, ioctl: 16, socketpair: 53, sysvIpc: [29, 30, 31, 68, 69, 70, 71, 64, 65, 220, 66], ioUring: [425, 426, 427], keyring: [248, 249, 250], x32Bit: 0x40000000,
    // prlimit64, sched_setaffinity, sched_setscheduler, sched_setparam, sched_setattr, migrate_pages, move_pages; setpriority(PRIO_PROCESS, 0); ioprio_set(IOPRIO_WHO_PROCESS, 0)
    selfOnly: [[302, PID0], [203, PID0], [144, PID0], [142, PID0], [314, PID0], [256, PID0], [279, PID0], [141, [[0, 0], [1, 0]]], [251, [[0, 1], [1, 0]]]],
    // pidfd_getfd, process_madvise, kcmp; chown, lchown, fchownat, utime, utimes, futimesat
    denied: [438, 440, 312, 92, 94, 260, 132, 235, 261],
    missing: [434, 437], // pidfd_open, openat2
    utimensat: 280,
    // chmod, fchmodat, fchmodat2, fchmod
    modeCalls: [[90, 1, true], [268, 2, true], [452, 2, true], [91, 1, false]],
    // open, creat, mkdir, mknod, openat, mkdirat, mknodat
    createCalls: [[2, 2], [85, 1], [83, 1], [133, 1], [257, 3], [258, 2], [259, 2]],
    umask: 95,
    xattrWrites: [188, 189, 190, 197, 198, 199, 463, 466],
    posixMq: [240, 241, 242, 243, 244, 245],
  },
  arm64: {
    audit: 0xc00000b7, socket: 198, ptrace: 117, processVmReadv: 270, processVmWritev: 271, ioctl: 29, socketpair: 199, sysvIpc: [194, 196, 195, 186, 189, 188, 187, 190, 193, 192, 191], ioUring: [425, 426, 427], keyring: [217, 218, 219],
    selfOnly: [[261, PID0], [122, PID0], [119, PID0], [118, PID0], [274, PID0], [238, PID0], [239, PID0], [140, [[0, 0], [1, 0]]], [30, [[0, 1], [1, 0]]]],
    // pidfd_getfd, process_madvise, kcmp; fchownat
    denied: [438, 440, 272, 54],
    missing: [434, 437], // pidfd_open, openat2
    utimensat: 88,
    // fchmodat, fchmodat2, fchmod
    modeCalls: [[53, 2, true], [452, 2, true], [52, 1, false]],
    // openat, mkdirat, mknodat
    createCalls: [[56, 3], [34, 2], [33, 2]],
    umask: 166,
    xattrWrites: [5, 6, 7, 14, 15, 16, 463, 466],
    posixMq: [180, 181, 182, 183, 184, 185],
  },
};

export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;
const EPERM = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
/** socketpair() type flags that do not change what the pair reaches. */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
const EACCES = 13;
const ENOSYS = 38;
const EOPNOTSUPP = 95;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const retErrno = (e: number): number => 0x00050000 | e;

/** Offsets in struct seccomp_data. */
const NR = 0;
const ARCH_OFF = 4;
const ARGS = 16; // args[i] at ARGS + 8*i, low half first (little-endian)
const ARG1_LOW = 24; // little-endian low half of args[1]

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export function seccompSupported(arch: string = process.arch): boolean {
  return arch in ARCH;
}

/** The filter program for this architecture. */
export function seccompProgram(opts: SeccompOptions, arch: string = process.arch): SockFilter[] {
  const t = ARCH[arch];
  if (!t) throw new Error(`seccomp filter not available for ${arch}`);
  const prog: SockFilter[] = [];
  const ins = (code: number, k: number, jt = 0, jf = 0): void => void prog.push({ code, jt, jf, k });
  ins(LD_W_ABS, ARCH_OFF);
  ins(JEQ_K, t.audit, 1, 0);
  ins(RET_K, RET_KILL_PROCESS);
  ins(LD_W_ABS, NR);
  if (t.x32Bit !== undefined) {
    ins(JGE_K, t.x32Bit, 0, 1);
    ins(RET_K, retErrno(ENOSYS));
  }
  const deny = (nr: number, errno: number): void => {
    ins(JEQ_K, nr, 0, 1);
    ins(RET_K, retErrno(errno));
  };
  if (!opts.network) deny(t.socket, EACCES);
  else {
    // With network: internet sockets (and netlink, which name resolution reads
    // interfaces through) only. Never AF_UNIX: Landlock does not govern connecting to
    // a socket by path, and ssh-agent, tmux, D-Bus or docker.sock would each run or
    // sign anything for the plugin, unconfined.
    ins(JEQ_K, t.socket, 0, 6);
    ins(LD_W_ABS, ARGS);
    ins(JEQ_K, AF_INET, 2, 0);
    ins(JEQ_K, AF_INET6, 1, 0);
    ins(JEQ_K, AF_NETLINK, 0, 1);
    ins(RET_K, RET_ALLOW);
    ins(RET_K, retErrno(EACCES));
    ins(LD_W_ABS, NR);
  }
  allowConnectedPairsOnly(ins, t.socketpair);
  deny(t.ptrace, EPERM);
  for (const nr of t.sysvIpc) deny(nr, ENOSYS);
  deny(t.processVmReadv, EPERM);
  deny(t.processVmWritev, EPERM);
  for (const nr of t.ioUring) deny(nr, ENOSYS);
  for (const nr of t.keyring) deny(nr, ENOSYS);
  for (const nr of t.posixMq) deny(nr, ENOSYS);
  refuseUnsafeModes(ins, t.modeCalls, opts.chmodByPath === true, opts.runsAsRoot === true && opts.chmodByPath !== true);
  refuseSetIdCreation(ins, t.createCalls);
  keepUmaskTight(ins, t.umask);
  for (const nr of t.xattrWrites) deny(nr, EOPNOTSUPP);
  for (const nr of t.denied) deny(nr, EPERM);
  for (const nr of t.missing) deny(nr, ENOSYS);
  // Allowed only when every listed argument (both 32-bit halves) has the given value.
  const onlyWhen = (nr: number, checks: readonly (readonly [number, number])[]): void => {
    const k = checks.length;
    ins(JEQ_K, nr, 0, 4 * k + 2);
    checks.forEach(([arg, value], i) => {
      ins(LD_W_ABS, ARGS + arg * 8);
      ins(JEQ_K, value, 0, 4 * k - 4 * i - 1);
      ins(LD_W_ABS, ARGS + arg * 8 + 4);
      ins(JEQ_K, 0, 0, 4 * k - 4 * i - 3);
    });
    ins(RET_K, RET_ALLOW);
    ins(RET_K, retErrno(EPERM));
  };
  for (const [nr, checks] of t.selfOnly) onlyWhen(nr, checks);
  onlyWhen(t.utimensat, [[1, 0]]);
  // ioctl: only the two terminal-injecting requests are refused.
  ins(JEQ_K, t.ioctl, 0, 5);
  ins(LD_W_ABS, ARG1_LOW);
  ins(JEQ_K, TIOCSTI, 2, 0);
  ins(JEQ_K, TIOCLINUX, 1, 0);
  ins(RET_K, RET_ALLOW);
  ins(RET_K, retErrno(EPERM));
  ins(RET_K, RET_ALLOW);
  return prog;
}

/**
 * socketpair(domain, type, ...): allowed only for AF_UNIX with type SOCK_STREAM (1) or
 * SOCK_SEQPACKET (5), any combination of SOCK_NONBLOCK and SOCK_CLOEXEC. The type's low
 * three bits are the socket type (STREAM 1, DGRAM 2, RAW 3, RDM 4, SEQPACKET 5, DCCP 6):
 * every bit above them but the two flags must be clear, bit 1 clear and bit 0 set, which
 * leaves exactly 1 and 5. Leaves the syscall number loaded for the checks after it.
 */
function allowConnectedPairsOnly(ins: (code: number, k: number, jt?: number, jf?: number) => void, nr: number): void {
  const notTypeBits = ~(0x7 | SOCK_NONBLOCK | SOCK_CLOEXEC) >>> 0;
  ins(JEQ_K, nr, 0, 8);
  ins(LD_W_ABS, ARGS);
  ins(JEQ_K, AF_UNIX, 0, 5);
  ins(LD_W_ABS, ARG1_LOW);
  ins(JSET_K, notTypeBits, 3, 0);
  ins(JSET_K, 0x2, 2, 0);
  ins(JSET_K, 0x1, 0, 1);
  ins(RET_K, RET_ALLOW);
  ins(RET_K, retErrno(EACCES));
  ins(LD_W_ABS, NR);
}

/**
 * THE mode decision, one rule for every call that changes a file's mode: never to a mode
 * with a CHMOD_REFUSED_BITS bit, whoever calls and however (by path or by descriptor);
 * by path (chmod, fchmodat, fchmodat2 with or without AT_EMPTY_PATH) only for builds;
 * not at all (`noneAllowed`) for a plugin fledge runs as root, outside builds.
 * The kernel keeps only the low 12 bits of the mode, so checking the low half suffices.
 * Leaves the syscall number loaded for the checks after it.
 */
function refuseUnsafeModes(ins: (code: number, k: number, jt?: number, jf?: number) => void, calls: ArchTable["modeCalls"], byPathAllowed: boolean, noneAllowed: boolean): void {
  for (const [nr, arg, byPath] of calls) {
    if (noneAllowed || (byPath && !byPathAllowed)) {
      ins(JEQ_K, nr, 0, 1);
      ins(RET_K, retErrno(EPERM));
      continue;
    }
    refuseArgBits(ins, nr, arg, CHMOD_REFUSED_BITS);
  }
}

/**
 * Syscall `nr` with any of `bits` set in argument `arg` gets EPERM; without them it is
 * allowed. Any other syscall falls through with its number reloaded for the checks after.
 */
function refuseArgBits(ins: (code: number, k: number, jt?: number, jf?: number) => void, nr: number, arg: number, bits: number): void {
  ins(JEQ_K, nr, 0, 4);
  ins(LD_W_ABS, ARGS + arg * 8);
  ins(JSET_K, bits, 1, 0);
  ins(RET_K, RET_ALLOW);
  ins(RET_K, retErrno(EPERM));
  ins(LD_W_ABS, NR);
}

/**
 * THE creation-mode decision: mkdir, mknod, open, creat and their `at` forms never create
 * a set-uid or set-gid entry (CREATE_REFUSED_BITS). open/openat without O_CREAT get a
 * mode of 0 from libc, so only real creations can trip it. Leaves the number loaded.
 */
function refuseSetIdCreation(ins: (code: number, k: number, jt?: number, jf?: number) => void, calls: ArchTable["createCalls"]): void {
  for (const [nr, arg] of calls) refuseArgBits(ins, nr, arg, CREATE_REFUSED_BITS);
}

/**
 * THE umask decision: a plugin may only tighten its umask. umask(mask) runs when the
 * mask holds every UMASK_REQUIRED_BITS bit; otherwise it is not executed and returns 0
 * (SECCOMP_RET_ERRNO with errno 0 skips the call and hands back 0), so the 022 the
 * plugin started with stays. Leaves the syscall number loaded for the checks after it.
 */
function keepUmaskTight(ins: (code: number, k: number, jt?: number, jf?: number) => void, nr: number): void {
  ins(JEQ_K, nr, 0, 5);
  ins(LD_W_ABS, ARGS);
  ins(JSET_K, GROUP_WRITE, 0, 2);
  ins(JSET_K, OTHER_WRITE, 0, 1);
  ins(RET_K, RET_ALLOW);
  ins(RET_K, retErrno(0));
  ins(LD_W_ABS, NR);
}

/** struct sock_filter[] as bytes (host endianness: little on both supported arches). */
export function encodeProgram(prog: readonly SockFilter[]): Uint8Array {
  const buf = new Uint8Array(prog.length * 8);
  const view = new DataView(buf.buffer);
  prog.forEach((f, i) => {
    view.setUint16(i * 8, f.code, true);
    view.setUint8(i * 8 + 2, f.jt);
    view.setUint8(i * 8 + 3, f.jf);
    view.setUint32(i * 8 + 4, f.k >>> 0, true);
  });
  return buf;
}
