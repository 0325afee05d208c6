/**
 * The red team's findings against native confinement, each as the attack a hostile
 * plugin (a real shell script, run through the real native runner) would make, in a
 * temp HOME with planted secrets. One describe per class of hole; each test fails if
 * the hole reopens. Linux with Landlock only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attackScene, runAttack, type AttackOptions, type Run, type SceneDir } from "./confine-harness.ts";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { assertConfinementAllowed } from "../../src/install/confinement-grant.ts";
import { ROOT } from "../helpers/cli.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const SECRET = "PLANTED-SECRET-91c2";
const T = 30_000;

let scene: SceneDir;
let base: string;
let home: string;
let project: string;
let pluginDir: string;
let xdg: string;

beforeAll(() => {
  scene = attackScene("fledge-redteam-", SECRET);
  ({ base, home, project, pluginDir } = scene);
  xdg = join(base, "xdg-config");
  for (const d of [".config/gh", ".config/nvim", "notes", ".local/bin", ".rustup/toolchains/stable/bin", ".cargo/registry/src", ".cargo/bin", "go/pkg/mod"]) mkdirSync(join(home, d), { recursive: true });
  mkdirSync(join(xdg, "gh"), { recursive: true });
  writeFileSync(join(home, ".ssh", "authorized_keys"), "ssh-ed25519 AAAA user\n");
  writeFileSync(join(home, ".config", "gh", "hosts.yml"), `${SECRET}-gh\n`);
  writeFileSync(join(home, ".config", "nvim", "init.lua"), "-- nvim\n");
  writeFileSync(join(xdg, "gh", "hosts.yml"), `${SECRET}-xdg-gh\n`);
  writeFileSync(join(home, ".bashrc"), "# rc\n");
  writeFileSync(join(home, "notes", "todo.txt"), "buy milk\n");
  writeFileSync(join(home, ".rustup", "toolchains", "stable", "bin", "rustc"), "#!/bin/sh\necho real rustc\n");
  symlinkSync("/", join(home, "rootlink"));
  const git = (args: string[], cwd = project) => expect(Bun.spawnSync(["git", ...args], { cwd, env: { PATH: "/usr/bin:/bin", HOME: home, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } }).exitCode).toBe(0);
  git(["init", "-q", "."]);
  git(["commit", "-q", "--allow-empty", "-m", "init"]);
  // What a real project may hold: submodule and worktree git data, a nested repository, editor tasks, direnv.
  for (const d of [".git/modules/sub/hooks", ".git/worktrees/w", "nested/.git/hooks", ".vscode", ".husky"]) mkdirSync(join(project, d), { recursive: true });
  writeFileSync(join(project, ".git", "modules", "sub", "config"), "[core]\n");
  writeFileSync(join(project, ".git", "worktrees", "w", "gitdir"), "/x\n");
  writeFileSync(join(project, "nested", ".git", "config"), "[core]\n");
  writeFileSync(join(project, ".vscode", "tasks.json"), "{}\n");
  writeFileSync(join(project, ".envrc"), "# env\n");
});
afterAll(() => scene?.cleanup());

/** Run `script` as the native plugin `evil` through the real runner. */
function attack(script: string, o: AttackOptions = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, o);
}

const readsSecrets = `cat ~/.ssh/id_ed25519 ~/.aws/credentials ~/.config/gh/hosts.yml /etc/shadow 2>&1; echo end`;

describe.skipIf(!confinable)("F1: a grant path is judged where it resolves", () => {
  test("read = /proc/self/root, /proc/1/root, /proc/self/cwd or a symlink to / grants nothing (at run)", async () => {
    for (const p of ["/proc/self/root", "/proc/1/root", "/proc/self/cwd", "~/rootlink", "/sys/../proc/self/root"]) {
      const r = await attack(readsSecrets, { confinement: { read: [p] } });
      expect(r.stdout).toContain("end");
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stdout).not.toMatch(/^root:/m);
    }
  }, T * 3);

  test("install refuses such grants for every source, naming the path", () => {
    for (const p of ["/proc/self/root", "~/rootlink", "/dev/shm", "/sys/kernel"]) {
      expect(() => assertConfinementAllowed("official", { read: [p], write: [], env: [] }, home)).toThrow(/never granted|whole filesystem/);
    }
  });
});

describe.skipIf(!confinable)("F2: home's secrets and start-up files whatever the spelling", () => {
  test("an absolute grant of home, or of a folder holding credentials, does not reach them", async () => {
    const r = await attack(`${readsSecrets}; cat ~/.config/nvim/init.lua`, { confinement: { read: [home, join(home, ".config"), join(home, "rootlink", base.slice(1), "home")] } });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain("-- nvim");
  }, T);

  test("absolute writes to ~/.bashrc, ~/.ssh/authorized_keys or ~/.local/bin are not granted", async () => {
    const r = await attack(`echo evil >> ${home}/.bashrc; echo evil >> ${home}/.ssh/authorized_keys; echo evil > ${home}/.local/bin/git; echo end`, {
      confinement: { write: [join(home, ".bashrc"), join(home, ".ssh", "authorized_keys"), join(home, ".local"), join(home, ".local", "bin")] },
    });
    expect(r.stdout).toContain("end");
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
    expect(readFileSync(join(home, ".ssh", "authorized_keys"), "utf8")).not.toContain("evil");
    expect(existsSync(join(home, ".local", "bin", "git"))).toBe(false);
  }, T);

  test("an unverified source cannot get a credential by its absolute spelling; writes to start-up files are refused for all", () => {
    expect(() => assertConfinementAllowed("unverified", { read: [join(home, ".ssh")], write: [], env: [] }, home)).toThrow(/credentials/);
    expect(() => assertConfinementAllowed("unverified", { read: [join(home, ".config", "gh", "hosts.yml")], write: [], env: [] }, home)).toThrow(/credentials/);
    expect(() => assertConfinementAllowed("official", { read: [], write: [join(home, ".bashrc")], env: [] }, home)).toThrow(/never be writable/);
    expect(() => assertConfinementAllowed("official", { read: [home], write: [], env: [] }, home)).toThrow(/home folder/);
  });
});

describe.skipIf(!confinable)("F3: a build cannot trojan the user's toolchains", () => {
  test("~/.rustup, ~/.cargo/registry, ~/.cargo/bin and go/pkg are read-only to a build hook; it gets private caches", async () => {
    const { runHook } = await import("../../src/install/hooks.ts");
    const hook = join(pluginDir, "build.sh");
    writeFileSync(
      hook,
      `#!/bin/sh\n{ echo evil > ~/.rustup/toolchains/stable/bin/rustc; echo evil > ~/.cargo/registry/src/build.rs; echo evil > ~/.cargo/bin/cargo; echo evil > ~/go/pkg/mod/x; mkdir -p ~/.cache/x; echo "cargo=[$CARGO_HOME] gopath=[$GOPATH]"; mkdir -p "$CARGO_HOME" && echo x > "$CARGO_HOME/ok" && echo cache-ok; } > "$FLEDGE_PLUGIN_DIR/build.out" 2>&1\nexit 0\n`,
    );
    chmodSync(hook, 0o755);
    await runHook("build", "build.sh", pluginDir, { PATH: "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") });
    const out = readFileSync(join(pluginDir, "build.out"), "utf8");
    expect(readFileSync(join(home, ".rustup", "toolchains", "stable", "bin", "rustc"), "utf8")).toContain("real rustc");
    expect(existsSync(join(home, ".cargo", "registry", "src", "build.rs"))).toBe(false);
    expect(existsSync(join(home, ".cargo", "bin", "cargo"))).toBe(false);
    expect(existsSync(join(home, "go", "pkg", "mod", "x"))).toBe(false);
    expect(existsSync(join(home, ".cache", "x"))).toBe(false);
    expect(out).toContain("cache-ok");
    expect(out).not.toContain(`cargo=[${home}`);
  }, T);
});

describe.skipIf(!confinable)("F4/F5: /, a system folder, home or a folder holding home is not a project", () => {
  test("project = / (even writable): no other process's environ, no /etc secrets, no home start-up files", async () => {
    const other = Bun.spawn(["sleep", "30"], { env: { PATH: "/usr/bin:/bin", MY_TOKEN: `${SECRET}-environ` } });
    try {
      const r = await attack(`cat /proc/${other.pid}/environ 2>&1; ${readsSecrets}; echo evil >> ~/.bashrc; echo x > /etc/fledge-evil; echo x > /usr/fledge-evil; echo done`, { projectRoot: "/", filesystem: "project" });
      expect(r.stdout).toContain("done");
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stderr).toContain("is not a project");
      expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
      expect(existsSync("/etc/fledge-evil") || existsSync("/usr/fledge-evil")).toBe(false);
    } finally {
      other.kill();
    }
  }, T);

  test("project = a folder holding home, writable: home's start-up files, ~/.local/bin and notes stay unwritable", async () => {
    const r = await attack(`echo evil >> home/.bashrc; echo evil > home/.local/bin/ls; echo x > home/notes/new; echo done`, { projectRoot: base, filesystem: "project" });
    expect(r.stdout).toContain("done");
    expect(r.stderr).toContain("holds your home folder");
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
    expect(existsSync(join(home, ".local", "bin", "ls"))).toBe(false);
    expect(existsSync(join(home, "notes", "new"))).toBe(false);
  }, T);

  test("project = home: the plugin still runs and reads ordinary home files, but writes none", async () => {
    const r = await attack(`cat notes/todo.txt; echo x > notes/new; echo done`, { projectRoot: home, filesystem: "project" });
    expect(r.stdout).toContain("buy milk");
    expect(r.stdout).toContain("done");
    expect(existsSync(join(home, "notes", "new"))).toBe(false);
  }, T);
});

describe.skipIf(!confinable)("F6: nothing under .git (or other code-running project files) is writable", () => {
  test("submodule config and hooks, worktrees, nested repositories, .vscode, .envrc, .husky", async () => {
    const targets = [".git/modules/sub/config", ".git/modules/sub/hooks/post-checkout", ".git/worktrees/w/config", ".git/config", ".git/info/x", "nested/.git/config", "nested/.git/hooks/pre-commit", ".vscode/tasks.json", ".envrc", ".husky/pre-commit"];
    const before = new Map(targets.map((t) => [t, existsSync(join(project, t)) ? readFileSync(join(project, t), "utf8") : undefined]));
    const r = await attack(`${targets.map((t) => `echo '[core] fsmonitor=evil' >> ${t}`).join("; ")}; echo x > src/new.c && echo src-ok; echo done`, { filesystem: "project" });
    expect(r.stdout).toContain("done");
    expect(r.stdout).toContain("src-ok");
    for (const t of targets) {
      const now = existsSync(join(project, t)) ? readFileSync(join(project, t), "utf8") : undefined;
      expect(`${t}: ${now}`).toBe(`${t}: ${before.get(t)}`);
    }
  }, T);

  test("git still works read-only in the project", async () => {
    const r = await attack(`git status --short >/dev/null && echo git-ok; git log --oneline | wc -l`, { filesystem: "project" });
    expect(r.stdout).toContain("git-ok");
  }, T);
});

describe.skipIf(!confinable)("F7: no limits, priority or pidfds on other processes", () => {
  test("prlimit/setpriority on another process fail; on itself they work", async () => {
    const victim = Bun.spawn(["sleep", "30"], { env: { PATH: "/usr/bin:/bin" } });
    try {
      const py = `import os, resource
for name, f in [("prlimit", lambda: resource.prlimit(${victim.pid}, resource.RLIMIT_FSIZE, (0, 0))), ("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, ${victim.pid}, 19)), ("pidfd", lambda: os.pidfd_open(${victim.pid})), ("user", lambda: os.setpriority(os.PRIO_USER, 0, 19))]:
    try:
        f(); print(name, "WORKED")
    except OSError as e:
        print(name, "refused", e.errno)
resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512)); os.setpriority(os.PRIO_PROCESS, 0, 5); print("self-ok")`;
      const r = await attack(`python3 -c '${py}' 2>&1; ulimit -f 1000 && echo ulimit-ok`);
      expect(r.stdout).not.toContain("WORKED");
      expect(r.stdout).toContain("prlimit refused");
      expect(r.stdout).toContain("self-ok");
      expect(r.stdout).toContain("ulimit-ok");
      const limits = readFileSync(`/proc/${victim.pid}/limits`, "utf8");
      expect(limits).toMatch(/Max file size\s+unlimited/);
    } finally {
      victim.kill();
    }
  }, T);
});

describe.skipIf(!confinable)("F8: no metadata changes by path outside (or inside) the grant", () => {
  test("chmod, chown, touch -d and setfattr on ~/.ssh/id_ed25519 and ~/.bashrc fail", async () => {
    const r = await attack(`chmod 644 ~/.ssh/id_ed25519; chmod 666 ~/.bashrc; chown 65534 ~/.bashrc; touch -d 2001-01-01 ~/.bashrc; python3 -c "import os; os.setxattr(os.path.expanduser('~/.bashrc'), 'user.x', b'1')" 2>&1 | tail -1; echo done`);
    expect(r.stdout).toContain("done");
    expect(statSync(join(home, ".ssh", "id_ed25519")).mode & 0o777).toBe(0o600);
    const rc = statSync(join(home, ".bashrc"));
    expect(rc.mode & 0o777).toBe(0o644);
    expect(rc.uid).toBe(process.getuid?.() ?? rc.uid);
    expect(rc.mtime.getFullYear()).not.toBe(2001);
  }, T);

  // What breaks, on purpose: chmod by path, so `chmod +x` and git commands that copy a file's mode (init, clone, config) fail.
  // Started by root, a plugin that is not a build changes no mode at all: cp -p and tar x copy the data and report the mode.
  test("normal tools still work in the plugin's folder: cp -p, tar x, touch (as root: the data, not the mode); chmod by path is refused", async () => {
    const r = await attack(
      `cd "$TMPDIR" && echo hi > a && { cp -p a b 2>/dev/null; echo cp=$?; cat b; } && tar cf t.tar a && mkdir x && { tar xf t.tar -C x 2>/dev/null; echo tar=$?; cat x/a; }; touch c && echo touch-ok; chmod +x a 2>/dev/null || echo chmod-refused`,
    );
    const root = process.getuid?.() === 0;
    expect(r.stdout).toContain(root ? "cp=1\nhi\n" : "cp=0\nhi\n");
    expect(r.stdout).toContain(root ? "tar=2\nhi\n" : "tar=0\nhi\n");
    expect(r.stdout).toContain("touch-ok");
    expect(r.stdout).toContain("chmod-refused");
  }, T);
});

describe.skipIf(!confinable)("F9: credentials under custom XDG folders", () => {
  test("$XDG_CONFIG_HOME/gh/hosts.yml is not readable, and XDG_* are not passed", async () => {
    const r = await attack(`cat ${xdg}/gh/hosts.yml; echo "xdg=[$XDG_CONFIG_HOME]"`, { env: { XDG_CONFIG_HOME: xdg }, confinement: { read: [xdg] } });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain("xdg=[]");
  }, T);
});

describe.skipIf(!confinable)("capabilities: a plugin started by root keeps none", () => {
  test("no effective, permitted or bounding capabilities; no reading a mode-000 file", async () => {
    const locked = join(pluginDir, "locked");
    writeFileSync(locked, `${SECRET}-locked\n`);
    chmodSync(locked, 0o000);
    const r = await attack(`while read -r k v; do case $k in Cap*) echo "$k $v";; esac; done < /proc/self/status; cat ${locked}; echo done`);
    expect(r.stdout).toContain("done");
    for (const k of ["CapEff", "CapPrm", "CapBnd", "CapAmb"]) expect(r.stdout).toMatch(new RegExp(`${k}:\\s+0000000000000000`));
    expect(r.stdout).not.toContain(`${SECRET}-locked`);
  }, T);
});
