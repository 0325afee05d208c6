/**
 * The kernel calls behind confinement, through bun:ffi and libc (no external tool):
 * Landlock (create_ruleset / add_rule / restrict_self), seccomp via prctl, and execve.
 * Only the launcher process (never fledge itself) calls applyAndExec; fledge only asks
 * for the Landlock ABI version, which changes nothing.
 */
import { dlopen, ptr, read, type Pointer } from "bun:ffi";
import { constants, readlinkSync, statSync } from "node:fs";
import type { Access, FsRule } from "./policy.ts";
import { encodeProgram, seccompProgram, seccompSupported, UMASK_REQUIRED_BITS } from "./seccomp.ts";

const SYS_LANDLOCK_CREATE_RULESET = 444n;
const SYS_LANDLOCK_ADD_RULE = 445n;
const SYS_LANDLOCK_RESTRICT_SELF = 446n;
const SYS_CLOSE_RANGE = 436n;
const LANDLOCK_CREATE_RULESET_VERSION = 1n;
const LANDLOCK_RULE_PATH_BENEATH = 1n;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;
// O_PATH and O_CLOEXEC have the same values on x86_64 and arm64; O_NOFOLLOW does not
// (0x20000 on x86_64, 0x8000 on arm64), so it comes from the platform's own table.
const O_PATH = 0x200000;
const O_CLOEXEC = 0x80000;
const O_NOFOLLOW = constants.O_NOFOLLOW;
const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

// Filesystem access rights, by the ABI that introduced them.
const FS = {
  EXECUTE: 1n << 0n, WRITE_FILE: 1n << 1n, READ_FILE: 1n << 2n, READ_DIR: 1n << 3n, REMOVE_DIR: 1n << 4n, REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n, MAKE_DIR: 1n << 7n, MAKE_REG: 1n << 8n, MAKE_SOCK: 1n << 9n, MAKE_FIFO: 1n << 10n, MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n, REFER: 1n << 13n, TRUNCATE: 1n << 14n, IOCTL_DEV: 1n << 15n,
} as const;
const NET_BIND_TCP = 1n;
const NET_CONNECT_TCP = 2n;
const SCOPE_ABSTRACT_UNIX_SOCKET = 1n;
const SCOPE_SIGNAL = 2n;
/** Rights that mean something on a file (the rest only on folders). */
const FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV;

/** Every filesystem right the kernel's ABI knows: all are handled, so all are denied unless granted. */
export function handledFs(abi: number): bigint {
  let m = (1n << 13n) - 1n;
  if (abi >= 2) m |= FS.REFER;
  if (abi >= 3) m |= FS.TRUNCATE;
  if (abi >= 5) m |= FS.IOCTL_DEV;
  return m;
}

/** Rights for one rule, limited to what the ABI handles and what the path's kind allows. */
export function rightsFor(access: Access, abi: number, isDir: boolean): bigint {
  const all = handledFs(abi);
  const want = access === "write" ? all : access === "read" ? FS.EXECUTE | FS.READ_FILE | FS.READ_DIR : FS.READ_FILE | FS.WRITE_FILE | FS.READ_DIR | FS.TRUNCATE | FS.IOCTL_DEV;
  return want & all & (isDir ? all : FILE_RIGHTS);
}

function openLibc() {
  if (process.platform !== "linux") return undefined;
  try {
    return dlopen("libc.so.6", {
      syscall: { args: ["i64", "i64", "i64", "i64", "i64"], returns: "i64" },
      prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
      open: { args: ["ptr", "i32", "i32"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
      chdir: { args: ["ptr"], returns: "i32" },
      capset: { args: ["ptr", "ptr"], returns: "i32" },
      getpid: { args: [], returns: "i32" },
      umask: { args: ["u32"], returns: "u32" },
      execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" },
      __errno_location: { args: [], returns: "ptr" },
    }).symbols;
  } catch {
    return undefined;
  }
}
let loaded: ReturnType<typeof openLibc> | null = null;
/** libc, opened on first use (fledge runs that never start a native plugin never load it). */
function lib(): ReturnType<typeof openLibc> {
  if (loaded === null) loaded = openLibc();
  return loaded;
}

function errno(): number {
  const p = lib()?.__errno_location();
  return p ? read.i32(p as Pointer) : 0;
}

export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

/** The Landlock ABI version this kernel offers; 0 when there is none (or not Linux, or no libc). */
export function landlockAbi(): number {
  const libc = lib();
  if (!libc) return 0;
  const v = Number(libc.syscall(SYS_LANDLOCK_CREATE_RULESET, 0n, 0n, LANDLOCK_CREATE_RULESET_VERSION, 0n));
  return v > 0 ? v : 0;
}

export interface LaunchSpec {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  fs: FsRule[];
  network: boolean;
  chmodByPath?: boolean | undefined;
  /** fledge runs as uid 0: outside builds the plugin may change no file mode (see seccomp.ts). */
  runsAsRoot?: boolean | undefined;
  /** fledge's pid: the launcher ends itself when its parent is no longer fledge (see dieWithParent). */
  parentPid?: number | undefined;
  /** Credentials covered in the plugin's mount namespace (hide.ts); only where a PID namespace is made. */
  hide?: { path: string; dir: boolean }[] | undefined;
  /** The empty file bound over each hidden credential file. */
  cover?: string | undefined;
}

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

/**
 * The launcher (and with it the plugin's namespace) is killed by the kernel when
 * fledge dies, even by SIGKILL: nothing of a run outlives the fledge that started it.
 * Returns false when fledge is already gone (the check after the prctl closes the race
 * of a death before it).
 */
export function dieWithParent(parentPid: number | undefined): boolean {
  const c = lib();
  if (!c || parentPid === undefined) return true;
  c.prctl(PR_SET_PDEATHSIG, BigInt(SIGKILL), 0n, 0n, 0n);
  return process.ppid === parentPid;
}

export class ConfineError extends Error {}

function check(what: string, r: number | bigint): number {
  const n = Number(r);
  if (n < 0) throw new ConfineError(`${what} failed (errno ${errno()})`);
  return n;
}

/**
 * No capabilities for the plugin, even when fledge runs as root: a root plugin could
 * otherwise chown, bypass file permissions outside Landlock's reach (metadata), or
 * load kernel modules. The bounding set is emptied first (so execve cannot give any
 * back), then ambient, then the thread's own sets.
 */
function dropCapabilities(c: NonNullable<ReturnType<typeof openLibc>>): void {
  for (let cap = 0n; cap < 64n; cap++) {
    if (c.prctl(PR_CAPBSET_DROP, cap, 0n, 0n, 0n) < 0) {
      const e = errno();
      if (e === 22) break; // EINVAL: past the last capability this kernel knows
      if (e === 1) break; // EPERM: not privileged, nothing to drop
      throw new ConfineError(`dropping capability ${cap} failed (errno ${e})`);
    }
  }
  c.prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_CLEAR_ALL), 0n, 0n, 0n);
  const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // two struct __user_cap_data_struct: effective, permitted, inheritable = 0
  check("capset", c.capset(ptr(header), ptr(data)));
}

/** The Landlock ruleset of a spec, and the rights its "/proc/self" rule grants (left out when `procSelf` is undefined: the caller adds it). */
export function buildRuleset(spec: LaunchSpec, abi: number, procSelf: string | undefined): { fd: number; procRights: bigint } {
  const c = lib();
  if (!c) throw new ConfineError("no libc to confine with");
  // The ruleset: every right this kernel knows is handled, so everything not granted is denied.
  const attr = new BigUint64Array(3);
  attr[0] = handledFs(abi);
  attr[1] = abi >= 4 && !spec.network ? NET_BIND_TCP | NET_CONNECT_TCP : 0n;
  attr[2] = abi >= 6 ? SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL : 0n;
  const attrSize = abi >= 6 ? 24n : abi >= 4 ? 16n : 8n;
  const rulesetFd = check("landlock_create_ruleset", c.syscall(SYS_LANDLOCK_CREATE_RULESET, BigInt(ptr(attr)), attrSize, 0n, 0n));
  const ruleAttr = new Uint8Array(12); // struct landlock_path_beneath_attr is packed: u64 + s32
  const ruleView = new DataView(ruleAttr.buffer);
  let procRights = 0n;
  for (const rule of spec.fs) {
    if (rule.path === "/proc/self" && procSelf === undefined) {
      procRights = rightsFor(rule.access, abi, true);
      continue;
    }
    const want = rule.path === "/proc/self" ? (procSelf as string) : rule.path;
    let dir: boolean;
    try {
      dir = statSync(want).isDirectory();
    } catch {
      continue; // a path that does not exist grants nothing
    }
    const path = cstr(want);
    // Not following a final symlink, and then checking where the descriptor really is:
    // a path swapped for a symlink since fledge judged it grants nothing.
    const fd = c.open(ptr(path), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) continue;
    let at: string;
    try {
      at = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      at = "";
    }
    if (at !== want) {
      c.close(fd);
      continue;
    }
    ruleView.setBigUint64(0, rightsFor(rule.access, abi, dir), true);
    ruleView.setInt32(8, fd, true);
    const r = Number(c.syscall(SYS_LANDLOCK_ADD_RULE, BigInt(rulesetFd), LANDLOCK_RULE_PATH_BENEATH, BigInt(ptr(ruleAttr)), 0n));
    c.close(fd);
    if (r < 0) throw new ConfineError(`landlock_add_rule for ${rule.path} failed (errno ${errno()})`);
  }
  return { fd: rulesetFd, procRights };
}

/** The seccomp program as a struct sock_fprog (and the buffer it points into: keep both alive), or undefined on a kernel without it. */
export function seccompFprog(spec: LaunchSpec): { fprog: BigUint64Array; filter: Uint8Array } | undefined {
  if (!seccompSupported()) return undefined;
  const filter = encodeProgram(seccompProgram({ network: spec.network, chmodByPath: spec.chmodByPath === true, runsAsRoot: spec.runsAsRoot === true }));
  const fprog = new BigUint64Array(2); // struct sock_fprog: unsigned short len (padded to 8), pointer
  fprog[0] = BigInt(filter.length / 8);
  fprog[1] = BigInt(ptr(filter));
  return { fprog, filter };
}

/** argv and envp as NULL-terminated arrays of C strings (and the strings: keep them alive). */
export function execArrays(spec: LaunchSpec): { argv: BigUint64Array; envp: BigUint64Array; keep: Buffer[] } {
  const argvBufs = spec.argv.map(cstr);
  const envBufs = Object.entries(spec.env).map(([k, v]) => cstr(`${k}=${v}`));
  const argv = new BigUint64Array(argvBufs.length + 1);
  argvBufs.forEach((b, i) => (argv[i] = BigInt(ptr(b))));
  const envp = new BigUint64Array(envBufs.length + 1);
  envBufs.forEach((b, i) => (envp[i] = BigInt(ptr(b))));
  return { argv, envp, keep: [...argvBufs, ...envBufs] };
}

/**
 * Confine this thread and replace the process with the plugin. Returns only on
 * failure (the message says which step failed); the caller must then exit non-zero.
 */
export function applyAndExec(spec: LaunchSpec): string {
  const libc = lib();
  if (!libc) return "no libc to confine with";
  try {
    const abi = landlockAbi();
    if (abi < 1) return "Landlock is not available";
    const c = libc;
    // This process is the plugin-to-be, so "/proc/self" is its own folder, named by number so nothing is followed.
    const { fd: rulesetFd } = buildRuleset(spec, abi, `/proc/${c.getpid()}`);
    const cwd = cstr(spec.cwd);
    check("chdir", c.chdir(ptr(cwd)));
    // The plugin starts with 022 in its umask; seccomp then lets it only tighten it.
    c.umask(c.umask(UMASK_REQUIRED_BITS) | UMASK_REQUIRED_BITS);
    check("prctl(PR_SET_NO_NEW_PRIVS)", c.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n));
    check("landlock_restrict_self", c.syscall(SYS_LANDLOCK_RESTRICT_SELF, BigInt(rulesetFd), 0n, 0n, 0n));
    c.close(rulesetFd);
    const sc = seccompFprog(spec);
    if (sc) check("seccomp", c.prctl(PR_SET_SECCOMP, BigInt(SECCOMP_MODE_FILTER), BigInt(ptr(sc.fprog)), 0n, 0n));
    // Nothing fledge (or this launcher) had open reaches the plugin but stdin, stdout, stderr.
    c.syscall(SYS_CLOSE_RANGE, 3n, 0xffffffffn, 0n, 0n);
    dropCapabilities(c);
    const { argv, envp, keep } = execArrays(spec);
    c.execve(ptr(keep[0]!), ptr(argv), ptr(envp));
    return `cannot run ${spec.argv[0]} (errno ${errno()})`;
  } catch (e) {
    return (e as Error).message;
  }
}
