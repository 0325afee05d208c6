/**
 * The confinement decision on its own: grant in, rules out (no kernel involved), the
 * seccomp program run through a small BPF interpreter, and the [confinement] manifest
 * rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { confinementRules, type ConfinementGrant, type FsRule } from "../../src/confine/policy.ts";
import { seccompProgram, TIOCLINUX, TIOCSTI, type SockFilter } from "../../src/confine/seccomp.ts";
import { confinementPathProblem, credentialNeeds } from "../../src/manifest/confinement.ts";
import { parseManifest } from "../../src/manifest/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { canRunAsUser } from "../helpers/other-user.ts";


let dir: { path: string; cleanup: () => void };
let home: string;
let project: string;
let grant: ConfinementGrant;

beforeAll(() => {
  dir = tempDir("fledge-policy-");
  const base = realpathSync(dir.path);
  home = join(base, "home");
  project = join(base, "project");
  for (const d of [".ssh", ".aws", ".config/gh", ".config/nvim", ".cargo/bin", "code", ".local/share/keyrings", ".local/share/fonts"]) mkdirSync(join(home, d), { recursive: true });
  writeFileSync(join(home, ".cargo", "credentials.toml"), "token");
  writeFileSync(join(home, ".bashrc"), "");
  writeFileSync(join(home, ".bash_history"), "");
  symlinkSync(join(home, ".ssh"), join(home, "keys-link"));
  for (const d of [".git/hooks", ".git/objects", "src"]) mkdirSync(join(project, d), { recursive: true });
  writeFileSync(join(project, ".git", "config"), "");
  writeFileSync(join(project, "README.md"), "");
  symlinkSync(join(home, ".ssh"), join(project, "ssh-link"));
  grant = {
    pluginDir: join(base, "plugin"),
    projectRoot: project,
    projectWritable: false,
    network: false,
    tempDir: join(base, "tmp"),
    fledgeConfigDir: join(home, ".config", "fledge"),
  };
});
afterAll(() => dir.cleanup());

const env = () => ({ HOME: home, PATH: "/usr/bin:/bin", LANG: "C.UTF-8", LC_ALL: "C", TERM: "xterm", GITHUB_TOKEN: "t", GH_TOKEN: "t", SSH_AUTH_SOCK: "/s", AWS_SECRET_ACCESS_KEY: "k", NPM_TOKEN: "n", LD_PRELOAD: "/evil.so", FLEDGE_GITHUB_TOKEN: "f" });
const paths = (rules: FsRule[], access?: FsRule["access"]) => rules.filter((r) => access === undefined || r.access === access).map((r) => r.path);
/** Every path a rule grants `p` through (the rule's path is `p` or a folder above it). */
const covering = (rules: FsRule[], p: string) => rules.filter((r) => p === r.path || p.startsWith(`${r.path}/`));

describe("confinementRules", () => {
  test("environment: an allowlist; tokens, keys, agent sockets and preload never pass", () => {
    const r = confinementRules(grant, env());
    expect(Object.keys(r.env).sort()).toEqual(["HOME", "LANG", "LC_ALL", "PATH", "TERM", "TMPDIR"]);
    expect(r.env.TMPDIR).toBe(grant.tempDir);
  });

  test("a variable named in a granted [confinement] env passes; fledge's own variables always do", () => {
    const r = confinementRules({ ...grant, extraEnv: ["GH_TOKEN"], fledgeEnv: { FLEDGE_PLUGIN_DIR: grant.pluginDir } }, env());
    expect(r.env.GH_TOKEN).toBe("t");
    expect(r.env.FLEDGE_PLUGIN_DIR).toBe(grant.pluginDir);
    expect(r.env.GITHUB_TOKEN).toBeUndefined();
  });

  test("home: each other entry on its own, never a credential folder, a history, or a link into one", () => {
    const r = confinementRules(grant, env());
    for (const secret of [".ssh/id", ".aws/credentials", ".config/gh/hosts.yml", ".bash_history", ".local/share/keyrings/x", ".cargo/credentials.toml", ".config/fledge/plugins.toml", "keys-link/id"]) {
      expect(covering(r.fs, join(home, secret))).toEqual([]);
    }
    expect(paths(r.fs)).not.toContain(home);
    for (const ok of ["code", ".config/nvim", ".cargo/bin", ".local/share/fonts", ".bashrc"]) expect(covering(r.fs, join(home, ok)).map((x) => x.access)).toContain("read");
    // Nothing in home is writable by default.
    expect(paths(r.fs, "write").filter((p) => p.startsWith(home))).toEqual([]);
  });

  test("/etc entry by entry without the shadow files; /proc without other processes", () => {
    const r = confinementRules(grant, env());
    expect(covering(r.fs, "/etc/shadow")).toEqual([]);
    expect(covering(r.fs, "/etc/gshadow")).toEqual([]);
    expect(covering(r.fs, "/etc/passwd").length).toBe(1);
    expect(covering(r.fs, "/proc/1/environ")).toEqual([]);
    expect(paths(r.fs)).toContain("/proc/self");
  });

  // A user who cannot read /etc/shadow anyway gets /etc in one rule (fewer rules: a faster
  // start); root, who can, gets it entry by entry. Run as `nobody` through setpriv.
  test.skipIf(!canRunAsUser(65534, "the /etc-as-one-rule test"))("as a user who cannot read the /etc secrets, /etc is one rule", () => {
    const script = `import { confinementRules } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "confine", "policy.ts"))};
      const r = confinementRules({ pluginDir: "/nonexistent/p", projectWritable: false, network: false, tempDir: "/nonexistent/t", fledgeConfigDir: "/nonexistent/f" }, { HOME: "/nonexistent", PATH: "/usr/bin:/bin" });
      console.log(JSON.stringify(r.fs.filter((x) => x.path === "/etc" || x.path.startsWith("/etc/"))));`;
    const p = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], { cwd: "/", env: { PATH: "/usr/bin:/bin" } });
    expect(p.stderr.toString()).toBe("");
    expect(JSON.parse(p.stdout.toString())).toEqual([{ path: "/etc", access: "read" }]);
  });

  test("project: read-only by default; writable when granted, except the whole .git and links out", () => {
    const ro = confinementRules(grant, env());
    expect(covering(ro.fs, join(project, "src", "a.c")).map((x) => x.access)).toEqual(["read"]);
    const rw = confinementRules({ ...grant, projectWritable: true }, env());
    expect(covering(rw.fs, join(project, "src", "a.c")).map((x) => x.access).sort()).toEqual(["read", "write"]);
    for (const never of [".git/objects/x", ".git/hooks/pre-commit", ".git/config", "ssh-link"]) expect(covering(rw.fs, join(project, never)).map((x) => x.access)).not.toContain("write");
  });

  test("plugin folder and private temp are writable; granted extras are added, credentials only when named", () => {
    mkdirSync(join(home, "code", "cache"), { recursive: true });
    const r = confinementRules({ ...grant, extraRead: ["~/.config/gh"], extraWrite: ["~/code/cache", "/srv/not-there"] }, env());
    expect(paths(r.fs, "write")).toEqual(expect.arrayContaining([grant.pluginDir, grant.tempDir, join(home, "code", "cache")]));
    expect(covering(r.fs, join(home, ".config", "gh", "hosts.yml")).map((x) => x.access)).toContain("read");
    expect(covering(r.fs, join(home, ".ssh", "id"))).toEqual([]);
  });

  test("every writable grant leaves out the .git (and .envrc, .vscode, ...) it holds, and is watched after the run", () => {
    const checkout = join(home, "code", "checkout");
    for (const d of [".git/hooks", "src/.vscode", "data"]) mkdirSync(join(checkout, d), { recursive: true });
    writeFileSync(join(checkout, ".git", "config"), "");
    for (const f of ["main.c", "src/a.c"]) writeFileSync(join(checkout, f), "");
    for (const g of [{ ...grant, pluginDir: checkout }, { ...grant, extraWrite: [checkout] }]) {
      const r = confinementRules(g, env());
      for (const never of [".git/config", ".git/hooks/pre-commit", "src/.vscode/tasks.json"]) expect(covering(r.fs, join(checkout, never)).map((x) => x.access)).not.toContain("write");
      for (const ok of ["main.c", "data/out.bin", "src/a.c"]) expect(covering(r.fs, join(checkout, ok)).map((x) => x.access), ok).toContain("write");
      expect(covering(r.fs, join(checkout, ".git", "config")).map((x) => x.access)).toContain("read");
      expect(r.watch).toContainEqual({ root: checkout, before: expect.arrayContaining([join(checkout, ".git"), join(checkout, "src", ".vscode")]), linksBefore: [] });
    }
    // A build there is told why creating target/ at the top of the checkout may fail.
    expect(confinementRules({ ...grant, pluginDir: checkout, build: true }, env()).notes.join("\n")).toContain(`directly in ${checkout}, ${join(checkout, "src")} (each holds a .git`);
    expect(confinementRules({ ...grant, pluginDir: checkout }, env()).notes).toEqual([]);
    const rw = confinementRules({ ...grant, projectWritable: true }, env());
    expect(rw.watch.map((w) => w.root)).toContain(project);
    expect(confinementRules(grant, env()).watch.map((w) => w.root)).not.toContain(project);
  });

  test("devices: the usual ones and the plugin's own terminal by its exact name, never /dev/pts as a whole", () => {
    const devices = (terminals?: string[]) => confinementRules({ ...grant, terminals }, env()).fs.filter((r) => r.access === "device").map((r) => r.path);
    expect(devices()).not.toContain("/dev/pts");
    expect(devices().some((p) => p.startsWith("/dev/pts"))).toBe(false);
    for (const d of ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty"]) expect(devices()).toContain(d);
    const own = devices(["/dev/pts/7", "/dev/pts", "/dev/pts/../sda", "/etc/passwd"]);
    expect(own.filter((p) => p.startsWith("/dev/pts") || p === "/etc/passwd" || p.includes("sda"))).toEqual(["/dev/pts/7"]);
  });
  test("network only when granted (or for a build)", () => {
    expect(confinementRules(grant, env()).network).toBe(false);
    expect(confinementRules({ ...grant, network: true }, env()).network).toBe(true);
    expect(confinementRules({ ...grant, build: true }, env()).network).toBe(true);
  });
});

/** A classic-BPF interpreter for the instructions the filter uses. */
function runBpf(prog: SockFilter[], data: { nr: number; arch: number; args?: number[] }): number {
  const buf = new DataView(new ArrayBuffer(64));
  buf.setInt32(0, data.nr, true);
  buf.setUint32(4, data.arch, true);
  (data.args ?? []).forEach((a, i) => buf.setUint32(16 + i * 8, a, true));
  let acc = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const f = prog[pc]!;
    if (f.code === 0x20) acc = buf.getUint32(f.k, true);
    else if (f.code === 0x15) pc += acc === f.k >>> 0 ? f.jt : f.jf;
    else if (f.code === 0x35) pc += acc >>> 0 >= f.k >>> 0 ? f.jt : f.jf;
    else if (f.code === 0x45) pc += (acc & f.k) !== 0 ? f.jt : f.jf;
    else if (f.code === 0x06) return f.k >>> 0;
    else throw new Error(`unknown instruction ${f.code}`);
  }
  throw new Error("fell off the end");
}

describe("seccomp program (x86_64)", () => {
  const X64 = 0xc000003e;
  const ALLOW = 0x7fff0000;
  const errno = (e: number) => 0x00050000 | e;
  const none = seccompProgram({ network: false }, "x64");
  const net = seccompProgram({ network: true }, "x64");

  test("socket() refused without network; with it, internet and netlink sockets only (never AF_UNIX)", () => {
    for (const domain of [1, 2, 10, 16, 17]) expect(runBpf(none, { nr: 41, arch: X64, args: [domain] })).toBe(errno(13));
    for (const domain of [2, 10, 16]) expect(runBpf(net, { nr: 41, arch: X64, args: [domain] })).toBe(ALLOW);
    // AF_UNIX (ssh-agent, tmux, D-Bus, docker.sock), AF_PACKET, AF_VSOCK, anything else.
    for (const domain of [1, 17, 40, 0]) expect(runBpf(net, { nr: 41, arch: X64, args: [domain] })).toBe(errno(13));
    // Other calls after the socket check are unaffected.
    for (const nr of [0, 1, 42, 54]) expect(runBpf(net, { nr, arch: X64 })).toBe(ALLOW);
  });
  test("ptrace, process_vm_readv/writev, io_uring and the keyring are refused", () => {
    for (const nr of [101, 310, 311]) expect(runBpf(net, { nr, arch: X64 })).toBe(errno(1));
    for (const nr of [425, 426, 427, 248, 249, 250]) expect(runBpf(net, { nr, arch: X64 })).toBe(errno(38));
  });
  test("socketpair: AF_UNIX SOCK_STREAM or SOCK_SEQPACKET only (flags NONBLOCK/CLOEXEC allowed), with or without network", () => {
    for (const prog of [none, net]) {
      for (const base of [1, 5]) {
        for (const type of [base, base | 0o4000, base | 0o2000000, base | 0o4000 | 0o2000000]) expect(runBpf(prog, { nr: 53, arch: X64, args: [1, type] })).toBe(ALLOW);
      }
      // DGRAM, RAW, RDM, DCCP, type 7 (with flags too), an unknown flag, another domain.
      for (const [domain, type] of [[1, 2], [1, 3], [1, 4], [1, 6], [1, 7], [1, 0], [1, 2 | 0o2000000], [1, 3 | 0o4000], [1, 1 | 0x100], [1, 5 | 0x8], [2, 1], [30, 1], [2, 5]] as const) {
        expect(runBpf(prog, { nr: 53, arch: X64, args: [domain, type] })).toBe(errno(13));
      }
    }
  });
  test("SysV IPC (shm, msg, sem) is refused as if the kernel had none", () => {
    for (const nr of [29, 30, 31, 68, 69, 70, 71, 64, 65, 220, 66]) expect(runBpf(net, { nr, arch: X64 })).toBe(errno(38));
    expect(runBpf(net, { nr: 67, arch: X64 })).toBe(ALLOW); // shmdt only detaches the caller's own mapping
  });
  test("ioctl: TIOCSTI and TIOCLINUX refused, other requests allowed", () => {
    expect(runBpf(none, { nr: 16, arch: X64, args: [0, TIOCSTI] })).toBe(errno(1));
    expect(runBpf(none, { nr: 16, arch: X64, args: [0, TIOCLINUX] })).toBe(errno(1));
    expect(runBpf(none, { nr: 16, arch: X64, args: [0, 0x5401] })).toBe(ALLOW);
  });
  test("chmod by path: refused to plugins; a build may, but never to group/other-writable or set-id modes", () => {
    const build = seccompProgram({ network: true, chmodByPath: true }, "x64");
    // chmod(path, mode): mode is arg 1; fchmodat / fchmodat2 (dirfd, path, mode): arg 2.
    for (const [nr, arg] of [[90, 1], [268, 2], [452, 2]] as const) {
      const call = (mode: number) => ({ nr, arch: X64, args: arg === 1 ? [0, mode] : [0, 0, mode] });
      for (const mode of [0o755, 0o644, 0o600, 0o700]) {
        expect(runBpf(none, call(mode))).toBe(errno(1));
        expect(runBpf(build, call(mode))).toBe(ALLOW);
      }
      for (const mode of [0o666, 0o777, 0o620, 0o602, 0o4755, 0o2755]) expect(runBpf(build, call(mode))).toBe(errno(1));
    }
    // chown by path stays refused to builds too.
    for (const nr of [92, 94, 260]) expect(runBpf(build, { nr, arch: X64 })).toBe(errno(1));
    // Other calls are unaffected by the chmod checks.
    for (const nr of [0, 1, 2, 59, 257]) expect(runBpf(build, { nr, arch: X64 })).toBe(ALLOW);
  });
  test("one mode rule for every caller: fchmod by descriptor never to a group/other-writable or set-id mode (round 5, finding 3)", () => {
    const build = seccompProgram({ network: true, chmodByPath: true }, "x64");
    for (const prog of [none, net, build]) {
      for (const mode of [0o755, 0o644, 0o600, 0o700, 0o1755]) expect(runBpf(prog, { nr: 91, arch: X64, args: [3, mode] })).toBe(ALLOW);
      for (const mode of [0o777, 0o1777, 0o666, 0o620, 0o602, 0o4755, 0o2755, 0o6755]) expect(runBpf(prog, { nr: 91, arch: X64, args: [3, mode] })).toBe(errno(1));
    }
    // fchmodat2(fd, "", mode, AT_EMPTY_PATH) is fchmod by another name: same rule for a build, refused outside builds.
    expect(runBpf(build, { nr: 452, arch: X64, args: [3, 0, 0o777, 0x1000] })).toBe(errno(1));
    expect(runBpf(build, { nr: 452, arch: X64, args: [3, 0, 0o755, 0x1000] })).toBe(ALLOW);
    expect(runBpf(none, { nr: 452, arch: X64, args: [3, 0, 0o755, 0x1000] })).toBe(errno(1));
  });
  test("root: a plugin that is not a build changes no mode at all; a build keeps the mode rule (round 6, finding 3)", () => {
    const rootPlugin = seccompProgram({ network: true, runsAsRoot: true }, "x64");
    const rootBuild = seccompProgram({ network: true, chmodByPath: true, runsAsRoot: true }, "x64");
    // fchmod, then chmod, fchmodat, fchmodat2: 0600->0644, 4755->0755, 0755->0700 all refused.
    for (const mode of [0o644, 0o755, 0o700, 0o600]) {
      expect(runBpf(rootPlugin, { nr: 91, arch: X64, args: [3, mode] })).toBe(errno(1));
      expect(runBpf(rootPlugin, { nr: 90, arch: X64, args: [0, mode] })).toBe(errno(1));
      for (const nr of [268, 452]) expect(runBpf(rootPlugin, { nr, arch: X64, args: [3, 0, mode, 0x1000] })).toBe(errno(1));
      expect(runBpf(rootBuild, { nr: 91, arch: X64, args: [3, mode] })).toBe(ALLOW);
      expect(runBpf(rootBuild, { nr: 90, arch: X64, args: [0, mode] })).toBe(ALLOW);
    }
    expect(runBpf(rootBuild, { nr: 91, arch: X64, args: [3, 0o4755] })).toBe(errno(1));
    // Not root: descriptor modes stay as before.
    expect(runBpf(net, { nr: 91, arch: X64, args: [3, 0o644] })).toBe(ALLOW);
    const armRoot = seccompProgram({ network: false, runsAsRoot: true }, "arm64");
    expect(runBpf(armRoot, { nr: 52, arch: 0xc00000b7, args: [3, 0o644] })).toBe(errno(1));
  });
  test("creation never with set-uid/set-gid; openat2 missing; umask only tightens (round 6, finding 2)", () => {
    const build = seccompProgram({ network: true, chmodByPath: true }, "x64");
    // open(path, flags, mode), creat(path, mode), mkdir(path, mode), mknod(path, mode, dev), openat/mkdirat/mknodat.
    const calls = [[2, 2], [85, 1], [83, 1], [133, 1], [257, 3], [258, 2], [259, 2]] as const;
    for (const prog of [none, net, build]) {
      for (const [nr, arg] of calls) {
        const call = (mode: number) => ({ nr, arch: X64, args: Object.assign([0, 0, 0, 0], { [arg]: mode }) });
        for (const mode of [0, 0o644, 0o755, 0o777, 0o666, 0o1777, 0o100644]) expect(runBpf(prog, call(mode))).toBe(ALLOW);
        for (const mode of [0o4755, 0o2755, 0o6755, 0o104777, 0o4000]) expect(runBpf(prog, call(mode))).toBe(errno(1));
      }
      expect(runBpf(prog, { nr: 437, arch: X64 })).toBe(errno(38));
      // umask: 022, 077, 027, 0777 run; a mask without 020 or 002 is skipped and returns 0.
      for (const mask of [0o022, 0o077, 0o027, 0o777, 0o032]) expect(runBpf(prog, { nr: 95, arch: X64, args: [mask] })).toBe(ALLOW);
      for (const mask of [0, 0o002, 0o020, 0o007, 0o070, 0o700]) expect(runBpf(prog, { nr: 95, arch: X64, args: [mask] })).toBe(errno(0));
    }
    const arm = seccompProgram({ network: false }, "arm64");
    const A64 = 0xc00000b7;
    for (const [nr, arg] of [[56, 3], [34, 2], [33, 2]] as const) {
      expect(runBpf(arm, { nr, arch: A64, args: Object.assign([0, 0, 0, 0], { [arg]: 0o777 }) })).toBe(ALLOW);
      expect(runBpf(arm, { nr, arch: A64, args: Object.assign([0, 0, 0, 0], { [arg]: 0o4755 }) })).toBe(errno(1));
    }
    expect(runBpf(arm, { nr: 437, arch: A64 })).toBe(errno(38));
    expect(runBpf(arm, { nr: 166, arch: A64, args: [0] })).toBe(errno(0));
    expect(runBpf(arm, { nr: 166, arch: A64, args: [0o022] })).toBe(ALLOW);
  });
  test("extended attributes set or removed, by path or descriptor, are 'not supported' to every caller", () => {
    const build = seccompProgram({ network: true, chmodByPath: true }, "x64");
    // setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, fremovexattr, setxattrat, removexattrat
    for (const prog of [none, net, build]) for (const nr of [188, 189, 190, 197, 198, 199, 463, 466]) expect(runBpf(prog, { nr, arch: X64 })).toBe(errno(95));
    // Reading them stays: getxattr, lgetxattr, fgetxattr, listxattr, llistxattr, flistxattr.
    for (const nr of [191, 192, 193, 194, 195, 196]) expect(runBpf(none, { nr, arch: X64 })).toBe(ALLOW);
  });
  test("POSIX message queues are refused as if the kernel had none (round 5, finding 4)", () => {
    for (const prog of [none, net]) for (const nr of [240, 241, 242, 243, 244, 245]) expect(runBpf(prog, { nr, arch: X64 })).toBe(errno(38));
  });
  test("arm64: the same mode, xattr and message-queue rules under its own numbers", () => {
    const A64 = 0xc00000b7;
    const arm = seccompProgram({ network: false }, "arm64");
    const armBuild = seccompProgram({ network: true, chmodByPath: true }, "arm64");
    for (const prog of [arm, armBuild]) {
      expect(runBpf(prog, { nr: 52, arch: A64, args: [3, 0o644] })).toBe(ALLOW); // fchmod
      expect(runBpf(prog, { nr: 52, arch: A64, args: [3, 0o777] })).toBe(errno(1));
      for (const nr of [5, 6, 7, 14, 15, 16, 463, 466]) expect(runBpf(prog, { nr, arch: A64 })).toBe(errno(95));
      for (const nr of [180, 181, 182, 183, 184, 185]) expect(runBpf(prog, { nr, arch: A64 })).toBe(errno(38));
    }
    expect(runBpf(arm, { nr: 53, arch: A64, args: [0, 0, 0o644] })).toBe(errno(1)); // fchmodat by path
    expect(runBpf(armBuild, { nr: 53, arch: A64, args: [0, 0, 0o644] })).toBe(ALLOW);
    expect(runBpf(armBuild, { nr: 53, arch: A64, args: [0, 0, 0o4755] })).toBe(errno(1));
    expect(runBpf(arm, { nr: 54, arch: A64 })).toBe(errno(1)); // fchownat
    for (const nr of [63, 64, 56, 221]) expect(runBpf(arm, { nr, arch: A64 })).toBe(ALLOW); // read, write, openat, execve
  });
  test("ordinary calls pass; another architecture is killed; x32 calls refused", () => {
    for (const nr of [0, 1, 2, 59, 257]) expect(runBpf(none, { nr, arch: X64 })).toBe(ALLOW);
    expect(runBpf(none, { nr: 0, arch: 0x40000003 })).toBe(0x80000000);
    expect(runBpf(none, { nr: 0x40000000 + 41, arch: X64 })).toBe(errno(38));
  });
});

describe("[confinement] in plugin.toml", () => {
  const manifest = (table: string) =>
    parseManifest(`[plugin]\nname = "p"\nversion = "1.0.0"\n[[commands]]\nname = "p"\nbinary = "bin/p"\n${table}`);

  test("read/write/env are read and recorded", () => {
    const r = manifest(`[confinement]\nread = ["~/.config/gh"]\nwrite = ["~/.cache/p"]\nenv = ["GH_TOKEN"]\n`);
    expect(r.errors).toEqual([]);
    expect(r.manifest?.confinement).toEqual({ read: ["~/.config/gh"], write: ["~/.cache/p"], env: ["GH_TOKEN"] });
  });

  test("writes that would run code later, the whole home, relative paths and .. are refused", () => {
    for (const p of ["~/.bashrc", "~/.ssh/authorized_keys", "~/.config/autostart/x.desktop", "~/.local/bin", "/etc/cron.d", "/var/spool/cron/root", "~/code/.git/hooks"]) {
      expect(confinementPathProblem(p, "write")).toBeDefined();
    }
    for (const p of ["~", "/", "relative/path", "~/../etc", "~/a/./b"]) expect(confinementPathProblem(p, "read")).toBeDefined();
    expect(confinementPathProblem("~/.cache/p", "write")).toBeUndefined();
    const r = manifest(`[confinement]\nwrite = ["~/.bashrc"]\nenv = ["1BAD"]\n`);
    expect(r.errors.map((e) => e.path)).toEqual(["confinement.write[0]", "confinement.env[0]"]);
  });

  test("credentials are recognised (for the unverified-source rule and consent)", () => {
    expect(credentialNeeds({ read: ["~/.config/gh", "~/.config/nvim"], write: [], env: ["GH_TOKEN", "EDITOR"] })).toEqual(["~/.config/gh", "GH_TOKEN"]);
    expect(credentialNeeds({ read: ["~/.config"], write: [], env: [] })).toEqual(["~/.config"]);
  });
});
