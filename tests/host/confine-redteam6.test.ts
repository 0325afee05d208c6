/**
 * The sixth red-team round against native confinement: modes at CREATION (after
 * umask(0), mkdir 0777 or open(O_CREAT, 06755) left world-writable folders and set-id
 * files in the user's project), mode changes of files a ROOT plugin may only read
 * (0600 -> 0644 exposes a private file, 4755 -> 0755, a system folder 0755 -> 0700),
 * and token shapes the value check missed. Each attack is a real plugin run through the
 * real native runner in a temp HOME; the kernel probes are python3 scripts, skipped
 * with one line where python3 is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attackScene, runAttack, type AttackOptions, type Run, type SceneDir, pythonProbe, PYTHON } from "./confine-harness.ts";
import { confinementRules, kernelLandlockAbi } from "../../src/confine/index.ts";
import { isCredentialValue } from "../../src/manifest/confinement.ts";
import { canRunAsUser } from "../helpers/other-user.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const PY = PYTHON;
const hasPython = existsSync(PY);
if (confinable && !hasPython) console.log("skipped: the creation-mode and fchmod probes need /usr/bin/python3");
const root = process.getuid?.() === 0;
const T = 30_000;

let scene: SceneDir;
let home: string;
let project: string;
let pluginDir: string;

beforeAll(() => {
  scene = attackScene("fledge-redteam6-");
  ({ home, project, pluginDir } = scene);
});
afterAll(() => scene?.cleanup());

function attack(script: string, o: AttackOptions = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, o);
}

function probe(name: string, source: string): string {
  return pythonProbe(pluginDir, name, source);
}

/** Each probe line prints "<label> ok <result>" or "<label> <ERRNO NAME>". */
const TRY = `import os, errno, ctypes
def t(label, f):
    try:
        r = f()
        if isinstance(r, int) and r < 0:
            print(label, errno.errorcode[ctypes.get_errno()])
        else:
            print(label, "ok", oct(r) if isinstance(r, int) else "")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
`;

const mode = (p: string): number => lstatSync(p).mode & 0o7777;

/** A run through the in-process fallback (no namespace can be made), where only root can nest the user namespace. */
const noNamespaces = ["unshare", "--user", "--map-root-user", "sh", "-c", "echo 0 > /proc/sys/user/max_pid_namespaces && echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"", "sh"];
const canNest = root && Bun.spawnSync([...noNamespaces, "true"], { stderr: "ignore" }).exitCode === 0;

describe.skipIf(!confinable || !hasPython)("finding 2: modes at creation", () => {
  const creations = (dir: string) => `${TRY}
libc = ctypes.CDLL(None, use_errno=True)
d = ${JSON.stringify(dir)}
t("umask-0", lambda: os.umask(0))
t("mkdir-0777", lambda: os.mkdir(d + "/shared", 0o777))
t("open-0666", lambda: os.close(os.open(d + "/f", os.O_CREAT | os.O_WRONLY, 0o666)))
t("open-06755", lambda: os.open(d + "/setid", os.O_CREAT | os.O_WRONLY, 0o6755))
t("open-02755", lambda: os.open(d + "/setgid", os.O_CREAT | os.O_WRONLY, 0o2755))
t("mkdir-02777", lambda: os.mkdir(d + "/gdir", 0o2777))
t("mknod-04777", lambda: os.mknod(d + "/n", 0o104777))
t("creat-04755", lambda: libc.creat((d + "/c").encode(), 0o4755))
t("openat2", lambda: libc.syscall(437, -100, (d + "/o2").encode(), 0, 24))
t("umask-077", lambda: os.umask(0o077))
t("umask-back", lambda: os.umask(0o022))
t("mkdir-tight", lambda: None if os.umask(0o077) < 0 else os.mkdir(d + "/tight", 0o777))
print("end")
`;
  const check = (r: Run, dir: string) => {
    expect(r.stdout).toContain("end");
    // umask(0) is not executed: it returns 0 and the 022 stays.
    expect(r.stdout).toContain("umask-0 ok 0o0");
    expect(r.stdout).toContain("mkdir-0777 ok");
    expect(r.stdout).toContain("open-0666 ok");
    for (const label of ["open-06755", "open-02755", "mkdir-02777", "mknod-04777", "creat-04755"]) expect(r.stdout).toContain(`${label} EPERM`);
    expect(r.stdout).toContain("openat2 ENOSYS");
    // Tightening runs (and hands back the 022 it replaces); loosening back to 022 from 077 runs too.
    expect(r.stdout).toContain("umask-077 ok 0o22");
    expect(r.stdout).toContain("umask-back ok 0o77");
    expect(mode(join(dir, "shared"))).toBe(0o755);
    expect(mode(join(dir, "f"))).toBe(0o644);
    expect(mode(join(dir, "tight"))).toBe(0o700);
    for (const n of ["setid", "setgid", "gdir", "n", "c", "o2"]) expect(existsSync(join(dir, n))).toBe(false);
  };

  test("after umask(0), mkdir 0777 and open 0666 in the project give 0755 and 0644; set-id creation and openat2 are refused", async () => {
    const dir = join(project, "src", "created");
    const r = await attack(`mkdir ${dir} && ${probe("create.py", creations(dir))}`, { filesystem: "project" });
    check(r, dir);
  }, T);

  test.skipIf(!canNest)("the same without a PID namespace (the in-process launcher sets the umask too)", async () => {
    const dir = join(project, "src", "created-inproc");
    const r = await attack(`mkdir ${dir} && ${probe("create2.py", creations(dir))}`, { filesystem: "project", wrap: noNamespaces });
    check(r, dir);
  }, T);

  test.skipIf(!canRunAsUser(65534, "the creation-mode test as nobody"))("as nobody (user namespace path): the same, and fchmod of its own file keeps the mode rule", async () => {
    const other = attackScene("fledge-redteam6-nobody-");
    try {
      const own = (p: string): void => {
        chownSync(p, 65534, 65534);
        for (const n of readdirSync(p, { withFileTypes: true })) {
          if (n.isDirectory()) own(join(p, n.name));
          else chownSync(join(p, n.name), 65534, 65534);
        }
      };
      own(other.base);
      const dir = join(other.project, "src");
      writeFileSync(join(other.pluginDir, "create.py"), `${creations(dir)}
fd = os.open(os.path.join(os.environ["TMPDIR"], "mine"), os.O_CREAT | os.O_WRONLY, 0o600)
t("own-0755", lambda: os.fchmod(fd, 0o755))
t("own-0666", lambda: os.fchmod(fd, 0o666))
`);
      const setpriv = Bun.which("setpriv", { PATH: "/usr/bin:/bin" })!;
      const r = await runAttack(other, `${PY} ${join(other.pluginDir, "create.py")}`, { filesystem: "project", wrap: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] });
      check(r, dir);
      expect(r.stdout).toContain("own-0755 ok");
      expect(r.stdout).toContain("own-0666 EPERM");
    } finally {
      other.cleanup();
    }
  }, T);

  test("the plugin's umask holds 022 whatever fledge's was, and a tighter one is kept; the shell's umask 0 does not loosen it", async () => {
    // The shell reads its umask with umask(0) + umask(m): it prints 0000 here, so the kernel's own line is read (the shell opens its own /proc/self).
    const status = "grep '^Umask' </proc/self/status";
    const loose = await attack(`${status}; umask 000; ${status}; umask 002; ${status}`, { wrap: ["sh", "-c", 'umask 000; exec "$@"', "sh"] });
    expect(loose.stdout.match(/^Umask:.*$/gm)).toEqual(["Umask:\t0022", "Umask:\t0022", "Umask:\t0022"]);
    const dir = join(project, "src", "tight-start");
    const tight = await attack(`${status}; mkdir ${dir}; umask 022; ${status}`, { filesystem: "project", wrap: ["sh", "-c", 'umask 077; exec "$@"', "sh"] });
    expect(tight.stdout.match(/^Umask:.*$/gm)).toEqual(["Umask:\t0077", "Umask:\t0022"]);
    expect(mode(dir)).toBe(0o700);
  }, T);
});

describe.skipIf(!confinable || !hasPython || !root)("finding 3 (root): no mode change of any file outside builds", () => {
  test("fchmod, fchmodat and fchmodat2 fail with EPERM on a private 0600 file, a set-uid 4755 file and a folder the plugin may read; modes stay", async () => {
    const priv = join(home, "private.txt");
    const suid = join(home, "tool");
    const folder = join(home, "sysdir");
    writeFileSync(priv, "root only\n");
    chmodSync(priv, 0o600);
    writeFileSync(suid, "#!/bin/sh\n");
    chmodSync(suid, 0o4755);
    Bun.spawnSync(["mkdir", "-m", "0755", folder]);
    const script = probe("fchmod.py", `${TRY}
libc = ctypes.CDLL(None, use_errno=True)
fp = os.open(${JSON.stringify(priv)}, os.O_RDONLY)
fs = os.open(${JSON.stringify(suid)}, os.O_RDONLY)
fd = os.open(${JSON.stringify(folder)}, os.O_RDONLY | os.O_DIRECTORY)
t("fchmod-0644", lambda: os.fchmod(fp, 0o644))
t("fchmod-0755", lambda: os.fchmod(fs, 0o755))
t("fchmod-0700", lambda: os.fchmod(fd, 0o700))
t("fchmodat", lambda: libc.syscall(268, -100, ${JSON.stringify(priv)}.encode(), 0o644, 0))
t("fchmodat2-empty", lambda: libc.syscall(452, fs, b"", 0o755, 0x1000))
tmp = os.open(os.path.join(os.environ["TMPDIR"], "mine"), os.O_CREAT | os.O_WRONLY, 0o600)
t("own-0755", lambda: os.fchmod(tmp, 0o755))
print("end")
`);
    const r = await attack(script);
    expect(r.stdout).toContain("end");
    for (const label of ["fchmod-0644", "fchmod-0755", "fchmod-0700", "fchmodat", "fchmodat2-empty", "own-0755"]) expect(r.stdout).toContain(`${label} EPERM`);
    expect(mode(priv)).toBe(0o600);
    expect(mode(suid)).toBe(0o4755);
    expect(statSync(folder).mode & 0o7777).toBe(0o755);
  }, T);
});

describe("finding 4: token shapes anywhere in a value, and the shapes that were missing", () => {
  const tokens: Record<string, string> = {
    PAGER: "less https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/x",
    TERM: "xterm/ghp_cccccccccccccccccccccccccccccccccccc",
    EDITOR: "vim -Pglpat-bbbbbbbbbbbbbbbbbbbb",
    VISUAL: "code x--glpat-dddddddddddddddddddd",
    LANG: "C.ghp_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    LC_DEPLOY: "dckr_pat_abcdefghijklmnopqrstuvwxyz0",
    LC_GOOGLE: "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    LC_DO: `dop_v1_${"0123456789abcdef".repeat(4)}`,
    LC_VAULT: "hvs.CAESIJ0123456789abcdefghij",
    LC_NPM: "x/npm_abcdefghijklmnopqrstuvwxyz0123456789",
    LC_BEARER: "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
    LC_ANTHROPIC: "x=sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
  };
  const ordinary: Record<string, string> = {
    PATH: "/usr/local/sk-tools/bin:/home/u/.local/my_ghp_notes:/opt/npm_modules/bin:/usr/bin:/bin",
    LANG: "en_US.UTF-8",
    LC_ALL: "C.UTF-8",
    LC_TIME: "de_DE.UTF-8",
    PAGER: "less -R",
    EDITOR: "code --wait",
    VISUAL: "vim https://oauth2@gitlab.com",
    TERM: "xterm-256color",
    TZ: "America/Argentina/Buenos_Aires",
    SHELL: "/bin/bash",
    COLORTERM: "truecolor",
    LC_DOCS: "https://example.com/docs/bearer-tokens-and-hvs.html",
  };
  const rules = (env: Record<string, string>) =>
    confinementRules({ pluginDir: "/p", projectWritable: false, network: false, tempDir: "/t", fledgeConfigDir: "/h/.config/fledge" }, { HOME: "/h", ...env });

  test("a prefixed token counts whatever precedes it (a URL's user part, '/', an option glued to it), and AIza, dop_v1_, hvs., dckr_pat_, npm_, Bearer are known", () => {
    for (const [k, v] of Object.entries(tokens)) expect([k, isCredentialValue(v)]).toEqual([k, true]);
    const r = rules({ PATH: "/usr/bin:/bin", ...tokens });
    // LC_* names are allowlisted, but their values go through the same check.
    for (const k of Object.keys(tokens)) expect(r.env[k]).toBeUndefined();
  });

  test("ordinary values (paths, locales, options, URLs without a token) still pass", () => {
    for (const [k, v] of Object.entries(ordinary)) expect([k, isCredentialValue(v)]).toEqual([k, false]);
    const r = rules(ordinary);
    for (const [k, v] of Object.entries(ordinary)) expect(r.env[k]).toBe(v);
  });

  test.skipIf(!confinable)("the plugin sees none of them", async () => {
    const r = await attack(`env; echo end`, { env: tokens });
    expect(r.stdout).toContain("end");
    for (const v of Object.values(tokens)) expect(r.stdout).not.toContain(v);
  }, T);
});
