/**
 * The fifth red-team round against native confinement:
 * - the after-run check waits until every process of the run is gone, not only the
 *   launcher: when fledge kills the launcher, the namespace's init (marked no_new_privs)
 *   is one of the strays the reaper kills and waits for, and a wait that gives up says so;
 * - a folder name that is not valid UTF-8 cannot hide a `.git` from either check;
 * - a plugin killed by a signal glibc keeps for itself (32, 33) is reported as that signal;
 * - IPC objects (POSIX message queues, SysV queues) a plugin creates are its run's own.
 * (The same round's seccomp and environment findings are tested in confine-redteam5.test.ts.)
 * Real shell plugins through the real native runner in a temp HOME.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi, pluginConfinement, spawnPlugin } from "../../src/confine/index.ts";
import { reapAfterRun } from "../../src/confine/reaper.ts";
import { describeQuarantine } from "../../src/confine/runs-later.ts";
import { checkPluginTree } from "../../src/install/tree-policy.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { canRunAsUser } from "../helpers/other-user.ts";
import { describeSlow } from "../helpers/tier.ts";
import { runAttack, type AttackOptions } from "./confine-harness.ts";
import { alive } from "./procs.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const T = 60_000;

let dir: { path: string; cleanup: () => void };
let base: string;
let home: string;
let pluginDir: string;
let marker: string;
let counter = 0;

beforeAll(() => {
  dir = tempDir("fledge-redteam5-");
  base = realpathSync(dir.path);
  chmodSync(base, 0o755);
  home = join(base, "home");
  pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  marker = join(base, "pwned");
  mkdirSync(pluginDir, { recursive: true });
});
afterAll(() => dir?.cleanup());


function git(args: string[], cwd: string): void {
  Bun.spawnSync(["git", ...args], { cwd, env: { PATH: "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" }, stdout: "ignore", stderr: "ignore" });
}

function newProject(): string {
  const project = join(base, `project${++counter}`);
  mkdirSync(join(project, "src", "lib"), { recursive: true });
  writeFileSync(join(project, "src", "lib", "main.c"), "int main(){}\n");
  git(["init", "-q"], project);
  return project;
}

/** Shell lines making `path` a git directory whose core.fsmonitor leaves the marker. */
function plantGit(path: string): string {
  return [
    `mkdir -p "${path}/objects" "${path}/refs" && echo 'ref: refs/heads/main' > "${path}/HEAD"`,
    `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = "echo ran > ${marker}; false"\\n' > "${path}/config"`,
  ].join("\n");
}

function attack(project: string, script: string, o: AttackOptions = {}) {
  return runAttack({ home, project, pluginDir }, script, { filesystem: "project", projectRoot: project, ...o });
}

describe.skipIf(!confinable)("the after-run check starts once every process of the run is gone (finding 1)", () => {
  test("the namespace's init carries the plugin mark, and a killed launcher's run settles only after init and the plugin are gone", async () => {
    const pidFile = join(pluginDir, "init.pid");
    rmSync(pidFile, { force: true });
    // The plugin's parent as the host's /proc names it: init of the run's namespace.
    writeFileSync(join(pluginDir, "run.sh"), `#!/bin/sh\nread a b c ppid rest < /proc/self/stat\necho $ppid > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}\nexec sleep 30\n`, { mode: 0o755 });
    const env = { PATH: "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") };
    const confinement = pluginConfinement({ name: "p", pluginDir, capabilities: { filesystem: "none", network: false } });
    const { proc, settled } = spawnPlugin({ argv: [join(pluginDir, "run.sh")], cwd: pluginDir, env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "ignore", stderr: "inherit" });
    for (let i = 0; i < 500 && !existsSync(pidFile); i++) await Bun.sleep(20);
    const init = Number(readFileSync(pidFile, "utf8").trim());
    expect(init).toBeGreaterThan(1);
    expect(init).not.toBe(proc.pid);
    expect(readFileSync(`/proc/${init}/status`, "latin1")).toMatch(/^NoNewPrivs:\s*1$/m);
    proc.kill("SIGKILL"); // what fledge does to a launcher on exec abort, timeout or a second ^C
    await settled;
    expect(alive(init)).toBe(false);
  }, T);

  test("a stray still seen when the wait ends makes the reaper say the run did not end", async () => {
    const setpriv = Bun.which("setpriv", { PATH: "/usr/bin:/bin" });
    if (setpriv === null) return;
    const reapShort = reapAfterRun(true, 1);
    const stray = Bun.spawn([setpriv, "--no-new-privs", "sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(200);
    expect((await reapShort()).ended).toBe(false);
    const reap = reapAfterRun(true);
    const stray2 = Bun.spawn([setpriv, "--no-new-privs", "sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    await Bun.sleep(200);
    expect((await reap()).ended).toBe(true);
    expect(alive(stray2.pid)).toBe(false);
    stray.kill("SIGKILL");
  }, T);

  test("a check made while processes were still ending says so", () => {
    const lines = describeQuarantine({ moved: [], unchecked: [], processesLeft: true }, "/p");
    expect(lines.join("\n")).toContain("COULD NOT FULLY CHECK");
    expect(lines.join("\n")).toContain("still ending");
  });
});

const cc = Bun.which("cc", { PATH: "/usr/bin:/bin" });
/** File data the held truncate works through: enough that the wait outlasts fledge's kill of the launcher (the red team needed 1-2 GiB). */
const KILLRACE_MIB = Number(process.env.FLEDGE_KILLRACE_MIB ?? "1024");

// Real uninterruptible waits (a truncate of 1 GiB of cached file data and renames
// queued behind it): the full attack, slow and heavy on the disk, so in the slow tier.
describeSlow("the after-run check after a killed exec, with processes stuck in the kernel (finding 1, full attack)", () => {
  test.skipIf(!confinable || cc === null)("a .git whose rename is held in the kernel past the launcher's kill is still moved aside", async () => {
    const project = newProject();
    const arm = join(pluginDir, "killrace-arm");
    const built = Bun.spawnSync([cc!, "-O2", "-o", arm, join(ROOT, "tests", "fixtures", "host", "killrace-arm.c")], { stderr: "pipe" });
    expect(built.exitCode).toBe(0);
    const armed = join(project, "src", "armed");
    const command = JSON.stringify(`exec ${arm} ${join(project, "src", "sub")} ${KILLRACE_MIB} ${armed} ${marker}`);
    // The plugin asks for the exec, waits until it is armed, and exits: fledge then kills the exec's launcher.
    const script = `read init\nprintf '%s\\n' '{"type":"exec","id":"e1","command":${command},"timeout":120}'\nwhile [ ! -e ${armed} ]; do sleep 0.01; done\nexit 0`;
    const r = await attack(project, script, { protocol: "fledge-v1", exec: true });
    expect(r.code).toBe(0);
    // fledge has returned: a rename still held in the kernel would land now.
    await Bun.sleep(2000);
    expect(existsSync(join(project, "src", "sub", ".git"))).toBe(false);
    rmSync(marker, { force: true });
    git(["status", "--short"], join(project, "src", "sub"));
    expect(existsSync(marker)).toBe(false);
  }, 180_000);
});

describe.skipIf(!confinable)("a folder name that is not valid UTF-8 hides nothing (finding 2)", () => {
  test("after the run: a .git planted below such a name is moved aside, and the undo command names it byte for byte", async () => {
    const project = newProject();
    const w = `src/$(printf '\\377')`;
    const r = await attack(project, `mv src/lib "${w}"\n${plantGit(`${w}/.git`)}\nln -s "$(printf '\\377')" src/lib\necho planted`);
    expect(r.stdout).toContain("planted");
    const raw = Buffer.concat([Buffer.from(`${project}/src/`), Buffer.from([0xff])]);
    expect(existsSync(Buffer.concat([raw, Buffer.from("/.git")]))).toBe(false);
    expect(r.stderr).toContain("moved aside");
    // The user works in the folder by its old name (now a link there): nothing runs.
    rmSync(marker, { force: true });
    git(["status", "--short"], join(project, "src", "lib"));
    expect(existsSync(marker)).toBe(false);
    // The undo command fledge printed puts it back (bash reads $'\xff').
    const undo = /put it back: (mv .*)$/m.exec(r.stderr)?.[1];
    expect(undo).toContain("\\xff");
    const bash = Bun.which("bash", { PATH: "/usr/bin:/bin" });
    if (bash !== null) {
      expect(Bun.spawnSync([bash, "-c", undo!], { cwd: project }).exitCode).toBe(0);
      expect(existsSync(Buffer.concat([raw, Buffer.from("/.git")]))).toBe(true);
    }
  }, T);

  test("after the run: a .git already below such a name before the run is left alone", async () => {
    const project = newProject();
    const raw = Buffer.concat([Buffer.from(`${project}/src/`), Buffer.from([0xfe])]);
    mkdirSync(Buffer.concat([raw, Buffer.from("/.git")]), { recursive: true });
    const r = await attack(project, "echo ok > src/lib/main.c && echo src-written");
    expect(r.stdout).toContain("src-written");
    expect(r.stderr).not.toContain("moved aside");
    expect(existsSync(Buffer.concat([raw, Buffer.from("/.git")]))).toBe(true);
  }, T);

  test("before the run: a .git already below such a name is not writable", async () => {
    const project = newProject();
    const badPath = Buffer.concat([Buffer.from(join(project, "src") + "/"), Buffer.from([0xff])]);
    mkdirSync(badPath);
    mkdirSync(Buffer.concat([badPath, Buffer.from("/.git")]));
    const r = await attack(project, `d="src/$(printf '\\377')/.git"\necho '[core]' > "$d/config" && echo wrote-config || echo refused\necho ok > src/lib/main.c && echo src-written`);
    expect(r.stdout).toContain("refused");
    expect(r.stdout).not.toContain("wrote-config");
    expect(r.stdout).toContain("src-written");
    expect(r.stderr).toContain("stays read-only");
  }, T);
});

describe("a plugin tree holding a name that is not valid UTF-8 (finding 2, install)", () => {
  test("is refused, not passed as if the entry were gone", () => {
    const tree = join(base, `tree${++counter}`);
    const inner = Buffer.concat([Buffer.from(`${tree}/`), Buffer.from([0xff])]);
    mkdirSync(tree);
    mkdirSync(inner);
    writeFileSync(join(tree, "plugin.toml"), "");
    expect(() => checkPluginTree(tree, "the test tree")).toThrow(/not valid UTF-8/);
  });
});

describe.skipIf(!confinable)("signal deaths glibc keeps for itself are reported as such (finding 6)", () => {
  for (const sig of [6, 15, 32, 33, 34, 64]) {
    test(`a plugin killed by signal ${sig} ends the run by signal ${sig}`, async () => {
      writeFileSync(join(pluginDir, "die.sh"), `#!/bin/sh\nkill -${sig} $$\n`, { mode: 0o755 });
      const env = { PATH: "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") };
      const confinement = pluginConfinement({ name: "p", pluginDir, capabilities: { filesystem: "none", network: false } });
      const { proc, settled } = spawnPlugin({ argv: [join(pluginDir, "die.sh")], cwd: pluginDir, env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      await proc.exited;
      await settled;
      expect(proc.exitCode).toBeNull();
      // Bun names the signal it knows, and gives the number for the real-time ones.
      const code = proc.signalCode as string | number | null;
      expect(code).not.toBeNull();
      const unconf = Bun.spawn(["/bin/sh", "-c", `kill -${sig} $$`], { stdout: "ignore", stderr: "ignore" });
      await unconf.exited;
      expect(code).toBe(unconf.signalCode as string | number | null);
    }, T);
  }
});

/** Whether a POSIX message queue of this name exists in the system's IPC namespace (and removes it). */
function queueExists(name: string): boolean {
  const py = `import ctypes,sys\nl=ctypes.CDLL(None,use_errno=True)\nq=l.mq_open(sys.argv[1].encode(),0)\nl.mq_unlink(sys.argv[1].encode())\nprint("yes" if q>=0 else "no")`;
  const r = Bun.spawnSync(["/usr/bin/python3", "-c", py, name], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().trim() === "yes";
}

/** Whether a SysV message queue with this key exists (and removes it). */
function sysvQueueExists(key: number): boolean {
  const r = Bun.spawnSync(["ipcs", "-q"], { stdout: "pipe", stderr: "ignore" });
  const hex = `0x${key.toString(16).padStart(8, "0")}`;
  const there = r.stdout.toString().includes(hex);
  if (there) Bun.spawnSync(["ipcrm", "-Q", hex], { stdout: "ignore", stderr: "ignore" });
  return there;
}

const python = existsSync("/usr/bin/python3");
const MQ = (name: string) => `/usr/bin/python3 -c 'import ctypes; l=ctypes.CDLL(None,use_errno=True); print("mq", l.mq_open(b"${name}", 0o100|2, 0o600, None), ctypes.get_errno())' 2>&1; echo end`;

describe.skipIf(!confinable || !python)("IPC objects a plugin creates are its run's own (finding 4)", () => {
  test("as root: a message queue made during the run is gone after it, and none is left in the system's namespace", async () => {
    const project = newProject();
    const name = `/fledge-rt5-${process.pid}-a`;
    queueExists(name);
    const key = 0x46ed0000 + (process.pid & 0xffff);
    sysvQueueExists(key);
    const r = await attack(project, `${MQ(name)}\nipcmk -Q -k ${key} 2>&1; echo sysv-done`);
    expect(r.stdout).toContain("end");
    expect(queueExists(name)).toBe(false);
    expect(sysvQueueExists(key)).toBe(false);
  }, T);

  // seccomp refuses the IPC calls too: this shows the namespace itself, the lock that
  // holds should a call slip past the filter.
  test("the plugin runs in an IPC namespace other than fledge's", async () => {
    const project = newProject();
    const r = await attack(project, "echo ns=$(readlink /proc/self/ns/ipc)");
    const mine = readlinkSync("/proc/self/ns/ipc");
    expect(r.stdout).toMatch(/ns=ipc:\[\d+\]/);
    expect(r.stdout).not.toContain(`ns=${mine}`);
  }, T);

  test.skipIf(!canRunAsUser(65534, "the IPC test as nobody"))("as nobody (user namespace path): the same", async () => {
    const project = newProject();
    const name = `/fledge-rt5-${process.pid}-b`;
    queueExists(name);
    const setpriv = Bun.which("setpriv", { PATH: "/usr/bin:/bin" })!;
    const own = (p: string): void => {
      chownSync(p, 65534, 65534);
      for (const n of readdirSync(p, { withFileTypes: true })) {
        const c = join(p, n.name);
        if (n.isDirectory()) own(c);
        else chownSync(c, 65534, 65534);
      }
    };
    own(home);
    own(project);
    const r = await attack(project, MQ(name), { wrap: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] });
    expect(r.stdout).toContain("end");
    expect(queueExists(name)).toBe(false);
  }, T);
});
