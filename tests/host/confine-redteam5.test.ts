/**
 * The fifth red-team round against native confinement: what a plugin may change on a
 * file it may only READ (its mode by descriptor, its extended attributes, which carry
 * POSIX ACLs), POSIX message queues that outlive the run, and tokens hidden after an
 * ordinary-looking start of an allowlisted variable. Each attack is a real plugin run
 * through the real native runner in a temp HOME; each test fails if the hole reopens.
 * The kernel probes are python3 scripts (os.fchmod, os.setxattr on a descriptor, ctypes
 * for fchmodat2 and librt's mq_*), skipped with one line where python3 is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { attackScene, runAttack, type AttackOptions, type Run, type SceneDir, pythonProbe, PYTHON } from "./confine-harness.ts";
import { confinementRules, kernelLandlockAbi } from "../../src/confine/index.ts";
import { isCredentialValue } from "../../src/manifest/confinement.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const PY = PYTHON;
const hasPython = existsSync(PY);
if (confinable && !hasPython) console.log("skipped: the fchmod, xattr and message-queue probes need /usr/bin/python3");
const T = 30_000;
const GHP = "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE1234";

let scene: SceneDir;
let home: string;
let project: string;
let pluginDir: string;

beforeAll(() => {
  scene = attackScene("fledge-redteam5-");
  ({ home, project, pluginDir } = scene);
});
afterAll(() => scene?.cleanup());

function attack(script: string, o: AttackOptions = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, o);
}

function probe(name: string, source: string): string {
  return pythonProbe(pluginDir, name, source);
}

/** Each probe line prints "<label> ok" or "<label> <ERRNO NAME>". */
const TRY = `import os, errno, ctypes
def t(label, f):
    try:
        r = f()
        if isinstance(r, int) and r < 0:
            print(label, errno.errorcode[ctypes.get_errno()])
        else:
            print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
`;

/** Run python3 outside confinement (the test's own view of the host). */
function hostPython(source: string): string {
  const r = Bun.spawnSync([PY, "-c", source], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString() + r.stderr.toString();
}

describe.skipIf(!confinable || !hasPython)("finding 3: modes and ACLs of a file the plugin may only read", () => {
  test("fchmod, fchmodat2(AT_EMPTY_PATH) and fsetxattr(system.posix_acl_access) on a read-only file fail; its mode and ACL stay (as root: a root-owned file)", async () => {
    const notes = join(home, "notes.txt");
    writeFileSync(notes, "mine\n");
    chmodSync(notes, 0o644);
    const owner = statSync(notes).uid;
    // An access ACL granting uid 4343 rwx: version 2, then (tag, perm, id) entries.
    const script = probe("modes.py", `${TRY}
import struct
fd = os.open(${JSON.stringify(notes)}, os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
t("fchmod-0777", lambda: os.fchmod(fd, 0o777))
t("fchmod-1777", lambda: os.fchmod(fd, 0o1777))
t("fchmod-4755", lambda: os.fchmod(fd, 0o4755))
t("fchmod-2755", lambda: os.fchmod(fd, 0o2755))
t("fchmod-0664", lambda: os.fchmod(fd, 0o664))
t("fchmodat2-empty-0777", lambda: libc.syscall(452, fd, b"", 0o777, 0x1000))
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", tag, perm, i) for tag, perm, i in [(1, 6, 0xffffffff), (2, 7, 4343), (4, 4, 0xffffffff), (0x10, 7, 0xffffffff), (0x20, 4, 0xffffffff)])
t("fsetxattr-acl", lambda: os.setxattr(fd, "system.posix_acl_access", acl))
t("fsetxattr-user", lambda: os.setxattr(fd, "user.x", b"1"))
t("fremovexattr", lambda: os.removexattr(fd, "user.x"))
t("setxattr-path", lambda: os.setxattr(${JSON.stringify(notes)}, "user.x", b"1"))
print("end")
`);
    const r = await attack(script);
    expect(r.stdout).toContain("end");
    for (const label of ["fchmod-0777", "fchmod-1777", "fchmod-4755", "fchmod-2755", "fchmod-0664", "fchmodat2-empty-0777"]) expect(r.stdout).toContain(`${label} EPERM`);
    // EOPNOTSUPP: Python names errno 95 by its other Linux name, ENOTSUP.
    for (const label of ["fsetxattr-acl", "fsetxattr-user", "fremovexattr", "setxattr-path"]) expect(r.stdout).toContain(`${label} ENOTSUP`);
    const st = statSync(notes);
    expect(st.mode & 0o7777).toBe(0o644);
    expect(st.uid).toBe(owner);
    expect(hostPython(`import os; print(sorted(os.listxattr(${JSON.stringify(notes)})))`).trim()).toBe("[]");
  }, T);

  test("the plugin's own files: fchmod to a safe mode works (not as root: no mode change at all), a group/other-writable or set-id one does not", async () => {
    const script = probe("own.py", `${TRY}
fd = os.open(os.path.join(os.environ["TMPDIR"], "mine"), os.O_CREAT | os.O_WRONLY, 0o600)
t("own-0755", lambda: os.fchmod(fd, 0o755))
print("mode", oct(os.fstat(fd).st_mode & 0o7777))
t("own-0666", lambda: os.fchmod(fd, 0o666))
t("own-4755", lambda: os.fchmod(fd, 0o4755))
print("mode", oct(os.fstat(fd).st_mode & 0o7777))
`);
    const r = await attack(script);
    const root = process.getuid?.() === 0;
    expect(r.stdout).toContain(root ? "own-0755 EPERM" : "own-0755 ok");
    expect(r.stdout).toContain("own-0666 EPERM");
    expect(r.stdout).toContain("own-4755 EPERM");
    const mode = root ? "mode 0o600" : "mode 0o755";
    expect(r.stdout.match(/^mode .*$/gm)).toEqual([mode, mode]);
  }, T);
});

describe.skipIf(!confinable || !hasPython)("finding 4: POSIX message queues", () => {
  const queue = `/fledge-rt5-${process.pid}`;
  const other = `/fledge-rt5-host-${process.pid}`;
  const RT = `import ctypes, os\nrt = ctypes.CDLL("librt.so.1", use_errno=True)\nrt.mq_open.restype = ctypes.c_int\n`;
  afterAll(() => {
    if (hasPython) hostPython(`${RT}rt.mq_unlink(${JSON.stringify(queue)}.encode()); rt.mq_unlink(${JSON.stringify(other)}.encode())`);
  });

  test("mq_open(O_CREAT) and mq_unlink fail with ENOSYS; no queue is left behind and the user's own queue stays", async () => {
    // A queue of the user's, made outside the plugin: the plugin must not be able to delete it.
    expect(hostPython(`${RT}fd = rt.mq_open(${JSON.stringify(other)}.encode(), os.O_CREAT | os.O_RDWR, 0o600, None)\nprint("made" if fd >= 0 else "no")`).trim()).toBe("made");
    const script = probe("mq.py", `${TRY}
${RT}
t("mq_open", lambda: rt.mq_open(${JSON.stringify(queue)}.encode(), os.O_CREAT | os.O_RDWR, 0o600, None))
t("mq_unlink", lambda: rt.mq_unlink(${JSON.stringify(other)}.encode()))
print("end")
`);
    const r = await attack(script);
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("mq_open ENOSYS");
    expect(r.stdout).toContain("mq_unlink ENOSYS");
    const check = (name: string) => hostPython(`${RT}import errno\nfd = rt.mq_open(${JSON.stringify(name)}.encode(), os.O_RDONLY, 0, None)\nprint("exists" if fd >= 0 else errno.errorcode[ctypes.get_errno()])`).trim();
    expect(check(queue)).toBe("ENOENT");
    expect(check(other)).toBe("exists");
  }, T);
});

describe("finding 5: a token anywhere in an allowlisted variable's value", () => {
  const tokens = {
    LANG: `C.UTF-8 ${GHP}`,
    EDITOR: `vim -c 'let g:t="${GHP}"'`,
    PAGER: "less glpat-FAKEFAKEFAKEFAKE1234",
    TERM: "xterm AKIAFAKEFAKEFAKEFAKE",
    VISUAL: `code --token=${GHP}`,
    LC_ALL: `C sk-FAKEFAKEFAKEFAKE`,
  };
  const ordinary = {
    PATH: "/usr/local/sk-tools/bin:/home/u/.local/my_ghp_notes:/usr/bin:/bin",
    LANG: "en_US.UTF-8",
    LC_ALL: "C.UTF-8",
    PAGER: "less -R",
    EDITOR: "code --wait",
    TERM: "xterm-256color",
    TZ: "Asia/Kolkata",
    SHELL: "/bin/bash",
  };
  const rules = (env: Record<string, string>) =>
    confinementRules({ pluginDir: "/p", projectWritable: false, network: false, tempDir: "/t", fledgeConfigDir: "/h/.config/fledge" }, { HOME: "/h", ...env });

  test("a token-shaped word after an ordinary start makes the variable a credential: not passed", () => {
    for (const v of Object.values(tokens)) expect(isCredentialValue(v)).toBe(true);
    const r = rules({ PATH: "/usr/bin:/bin", ...tokens });
    for (const k of Object.keys(tokens)) expect(r.env[k]).toBeUndefined();
    expect(JSON.stringify(r.env)).not.toContain("FAKE");
  });

  test("ordinary values (paths, locales, pager and editor options) still pass", () => {
    for (const v of Object.values(ordinary)) expect(isCredentialValue(v)).toBe(false);
    const r = rules(ordinary);
    for (const [k, v] of Object.entries(ordinary)) expect(r.env[k]).toBe(v);
  });

  test.skipIf(!confinable)("the plugin sees none of the hidden tokens", async () => {
    const r = await attack(`echo "lang=$LANG editor=$EDITOR pager=$PAGER term=$TERM"; echo end`, { env: { LANG: tokens.LANG, EDITOR: tokens.EDITOR, PAGER: tokens.PAGER, TERM: tokens.TERM } });
    expect(r.stdout).toContain("end");
    expect(r.stdout + r.stderr).not.toContain("FAKE");
  }, T);
});
