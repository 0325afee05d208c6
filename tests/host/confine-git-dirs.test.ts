/**
 * The places where code runs later are found wherever they are and whatever their
 * name (src/confine/runs-later.ts):
 * - a git directory by git's own rule (HEAD, refs, objects), not only one named `.git`:
 *   an existing bare repository is not writable, and a folder a plugin turns into one
 *   loses its HEAD (and config) after the run, so git no longer sees a repository there;
 * - a git directory split the way a linked worktree's is (`HEAD` and `commondir` in one
 *   folder, config, refs and objects in the one it names) counts too, and the folder it
 *   names stays read-only with it;
 * - dependency and build folders (vendor, build, dist, node_modules...) are searched too:
 *   an existing `vendor/x/.git` is not writable, a new `build/.git` is moved aside;
 * - a branch too deep to search does not hide the rest of the tree, and the warning
 *   names where the search stopped.
 * Each test plays the user afterwards: `git status` where the plugin planted, with a
 * `core.fsmonitor` that would leave a marker file if it ran.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { canRunAsUser } from "../helpers/other-user.ts";
import { runAttack, type AttackOptions } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;

let dir: { path: string; cleanup: () => void };
let base: string;
let home: string;
let pluginDir: string;
let marker: string;
let counter = 0;

beforeAll(() => {
  dir = tempDir("fledge-git-dirs-");
  base = realpathSync(dir.path);
  home = join(base, "home");
  pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  marker = join(base, "pwned");
  mkdirSync(pluginDir, { recursive: true });
});
afterAll(() => dir?.cleanup());

function git(args: string[], cwd: string): { code: number; out: string } {
  const r = Bun.spawnSync(["git", ...args], { cwd, env: { PATH: "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" } });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

/** A fresh project (a git checkout holding `folders`), so each test starts clean. */
function newProject(folders: string[]): string {
  const project = join(base, `project${++counter}`);
  for (const f of ["src", ...folders]) mkdirSync(join(project, f), { recursive: true });
  writeFileSync(join(project, "src", "main.c"), "int main(){}\n");
  expect(git(["init", "-q"], project).code).toBe(0);
  return project;
}

/** The shell lines that make `path` a git directory whose fsmonitor leaves the marker. */
function plantGitDir(path: string): string {
  return [
    `mkdir -p ${path}/objects ${path}/refs && echo 'ref: refs/heads/main' > ${path}/HEAD`,
    `printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = "echo ran > ${marker}; false"\\n' > ${path}/config`,
  ].join("\n");
}

/** The user works in `folder` afterwards: nothing of the plugin's may run. */
function userRunsGitStatus(folder: string): void {
  rmSync(marker, { force: true });
  git(["status", "--short"], folder);
  expect(existsSync(marker)).toBe(false);
}

function attack(project: string, script: string, o: AttackOptions = {}) {
  return runAttack({ home, project, pluginDir }, script, { filesystem: "project", ...o });
}

describe.skipIf(!confinable)("a git directory without the name .git", () => {
  test("an existing folder the plugin turns into one loses its HEAD and config after the run (moved aside, with the undo command)", async () => {
    const project = newProject([]);
    const r = await attack(project, `${plantGitDir("src")}\n${plantGitDir("src/inner/.git")}\necho planted`);
    expect(r.stdout).toContain("planted");
    expect(existsSync(join(project, "src", "HEAD"))).toBe(false);
    expect(existsSync(join(project, "src", "config"))).toBe(false);
    const aside = readdirSync(join(project, "src")).filter((n) => n.startsWith("config.fledge-quarantine-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(project, "src", aside[0]!), "utf8")).toContain("fsmonitor");
    // The user's own files stay.
    expect(readFileSync(join(project, "src", "main.c"), "utf8")).toBe("int main(){}\n");
    expect(r.stderr).toContain("made src a git directory");
    expect(r.stderr).toContain("src/HEAD.fledge-quarantine-");
    expect(r.stderr).toContain("mv '");
    expect(git(["rev-parse", "--show-toplevel"], join(project, "src")).out.trim()).toBe(project);
    userRunsGitStatus(join(project, "src"));
    // A .git inside the folder made a git directory is found too (it is an ordinary folder again).
    expect(existsSync(join(project, "src", "inner", ".git"))).toBe(false);
    userRunsGitStatus(join(project, "src", "inner"));
  }, 60_000);

  test("an existing bare repository in the project is not writable", async () => {
    const project = newProject([]);
    expect(git(["init", "-q", "--bare", "mirror"], project).code).toBe(0);
    const r = await attack(
      project,
      [
        "printf '[core]\\n\\tfsmonitor = evil\\n' >> mirror/config || echo config-refused",
        "echo evil > mirror/hooks/post-checkout || echo hook-refused",
        "echo ok > src/main.c && echo src-written",
      ].join("\n"),
    );
    expect(r.stdout).toContain("config-refused");
    expect(r.stdout).toContain("hook-refused");
    expect(r.stdout).toContain("src-written");
    expect(readFileSync(join(project, "mirror", "config"), "utf8")).not.toContain("evil");
  }, 60_000);
});

/**
 * The shell lines that split a git directory the way a linked worktree's is: `HEAD`,
 * `commondir` and `config.worktree` in `path`, the config (with the fsmonitor), objects
 * and refs in `path/.c`, which has no HEAD; no folder holds HEAD and refs together.
 */
function plantSplitGitDir(path: string, worktree: string, ranMarker = marker): string {
  return [
    `mkdir -p ${path}/.c/objects ${path}/.c/refs && echo 'ref: refs/heads/main' > ${path}/HEAD && echo .c > ${path}/commondir`,
    `printf '[core]\\n\\trepositoryformatversion = 1\\n\\tfsmonitor = "echo ran > ${ranMarker}; false"\\n[extensions]\\n\\tworktreeConfig = true\\n' > ${path}/.c/config`,
    `printf '[core]\\n\\tworktree = ${worktree}\\n' > ${path}/config.worktree`,
  ].join("\n");
}

describe.skipIf(!confinable)("a git directory split with commondir", () => {
  test("an existing folder given HEAD and commondir (its config elsewhere) loses them after the run, and git status runs nothing", async () => {
    const project = newProject(["src/lib"]);
    const lib = join(project, "src", "lib");
    writeFileSync(join(lib, "main.c"), "int main(){}\n");
    // Without fledge the split works: git status there runs the fsmonitor.
    const control = newProject(["src/lib"]);
    expect(Bun.spawnSync(["sh", "-c", plantSplitGitDir("src/lib", join(control, "src", "lib"))], { cwd: control }).exitCode).toBe(0);
    rmSync(marker, { force: true });
    git(["status", "--short"], join(control, "src", "lib"));
    expect(existsSync(marker)).toBe(true);

    const r = await attack(project, `${plantSplitGitDir("src/lib", lib)}\necho planted`);
    expect(r.stdout).toContain("planted");
    for (const name of ["HEAD", "commondir", "config.worktree"]) {
      expect(existsSync(join(lib, name))).toBe(false);
      expect(readdirSync(lib).filter((n) => n.startsWith(`${name}.fledge-quarantine-`))).toHaveLength(1);
    }
    expect(readFileSync(join(lib, "main.c"), "utf8")).toBe("int main(){}\n");
    expect(r.stderr).toContain("made src/lib a git directory");
    expect(r.stderr).toContain("src/lib/commondir.fledge-quarantine-");
    userRunsGitStatus(lib);
    // The common folder (no HEAD) is no git directory of its own: git status there runs nothing either.
    userRunsGitStatus(join(lib, ".c"));
    expect(git(["rev-parse", "--show-toplevel"], lib).out.trim()).toBe(project);
  }, 60_000);

  test.skipIf(!canRunAsUser(65534, "the commondir test as nobody"))("as nobody (user namespace path): the same, and git status as nobody runs nothing", async () => {
    const project = newProject(["src/lib"]);
    const lib = join(project, "src", "lib");
    const nobodyHome = join(base, `home-nobody${counter}`);
    const nobodyPlugin = join(nobodyHome, ".config", "fledge", "plugins", "evil");
    mkdirSync(nobodyPlugin, { recursive: true });
    // The fsmonitor would run as nobody: its marker in a folder nobody can write.
    const ran = join(project, "ran");
    chmodSync(base, 0o755);
    for (const p of [nobodyHome, project]) Bun.spawnSync(["chown", "-R", "65534:65534", p]);
    const setpriv = Bun.which("setpriv", { PATH: "/usr/bin:/bin" })!;
    const asNobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"];
    const r = await runAttack({ home: nobodyHome, project, pluginDir: nobodyPlugin }, `${plantSplitGitDir("src/lib", lib, ran)}\necho planted`, { filesystem: "project", wrap: asNobody });
    expect(r.stdout).toContain("planted");
    for (const name of ["HEAD", "commondir", "config.worktree"]) expect(existsSync(join(lib, name))).toBe(false);
    expect(r.stderr).toContain("made src/lib a git directory");
    Bun.spawnSync([...asNobody, "git", "status", "--short"], { cwd: lib, env: { PATH: "/usr/bin:/bin", HOME: nobodyHome, GIT_CONFIG_NOSYSTEM: "1" } });
    expect(existsSync(ran)).toBe(false);
  }, 60_000);

  test("an existing split git directory and the folder its commondir names are not writable", async () => {
    const project = newProject(["src/wt", "src/common/refs", "src/common/objects"]);
    writeFileSync(join(project, "src", "wt", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(project, "src", "wt", "commondir"), "../common\n");
    writeFileSync(join(project, "src", "common", "config"), "[core]\n\trepositoryformatversion = 0\n");
    const r = await attack(
      project,
      [
        "echo '../elsewhere' > src/wt/commondir || echo commondir-refused",
        `printf '[core]\\n\\tfsmonitor = "echo ran > ${marker}; false"\\n' >> src/common/config || echo common-config-refused`,
        "mkdir src/common/hooks || echo common-hooks-refused",
        "echo ok > src/main.c && echo src-written",
      ].join("\n"),
    );
    expect(r.stdout).toContain("commondir-refused");
    expect(r.stdout).toContain("common-config-refused");
    expect(r.stdout).toContain("common-hooks-refused");
    expect(r.stdout).toContain("src-written");
    expect(readFileSync(join(project, "src", "common", "config"), "utf8")).not.toContain("fsmonitor");
    userRunsGitStatus(join(project, "src", "wt"));
  }, 60_000);
});

describe.skipIf(!confinable)("dependency and build folders are no hiding place", () => {
  test("an existing vendor/x/.git is not writable, a new build/.git is moved aside", async () => {
    const project = newProject(["build", "vendor/acme/lib"]);
    expect(git(["init", "-q"], join(project, "vendor", "acme", "lib")).code).toBe(0);
    writeFileSync(join(project, "vendor", "acme", "lib", "a.php"), "<?php\n");
    const r = await attack(
      project,
      [
        plantGitDir("build/.git"),
        "printf '[core]\\n\\tfsmonitor = evil\\n' >> vendor/acme/lib/.git/config || echo vendor-refused",
        "echo x > vendor/acme/lib/a.php && echo vendor-file-written",
      ].join("\n"),
    );
    expect(r.stdout).toContain("vendor-refused");
    expect(r.stdout).toContain("vendor-file-written");
    expect(readFileSync(join(project, "vendor", "acme", "lib", ".git", "config"), "utf8")).not.toContain("evil");
    expect(existsSync(join(project, "build", ".git"))).toBe(false);
    expect(readdirSync(join(project, "build")).some((n) => n.startsWith(".git.fledge-quarantine-"))).toBe(true);
    userRunsGitStatus(join(project, "build"));
  }, 60_000);

  test("a new dist/.git reached through a symlink is moved aside", async () => {
    const project = newProject([]);
    const r = await attack(project, `${plantGitDir("src/dist/.git")}\nln -s dist src/lib\necho planted`);
    expect(r.stdout).toContain("planted");
    expect(existsSync(join(project, "src", "dist", ".git"))).toBe(false);
    userRunsGitStatus(join(project, "src", "lib"));
  }, 60_000);

  test("a dependency folder too large to search before the run stays read-only, the rest of the project writable", async () => {
    const project = newProject(["node_modules"]);
    // Over the pre-run budget of dependency folders (20,000): created directly, it costs little.
    for (let i = 0; i < 20_001; i++) mkdirSync(join(project, "node_modules", `p${i}`));
    const r = await attack(project, "echo x > node_modules/p1/x.js || echo nm-refused\necho ok > src/main.c && echo src-written");
    expect(r.stdout).toContain("nm-refused");
    expect(r.stdout).toContain("src-written");
    expect(r.stderr).toContain(`${join(project, "node_modules")} in`);
    expect(r.stderr).toContain("stays read-only: too deep or too large");
  }, 120_000);
});

describe.skipIf(!confinable)("a search stopped by depth", () => {
  test("over-deep chains do not hide a new .git next to them, and the warning names where the search stopped", async () => {
    const project = newProject(["src/app"]);
    const chains = "for n in 1 2 3; do d=src/app/c$n; i=0; while [ $i -lt 70 ]; do d=$d/d; i=$((i+1)); done; mkdir -p \"$d\"; done";
    const r = await attack(project, `${chains}\n${plantGitDir("src/app/lib/.git")}\necho planted`);
    expect(r.stdout).toContain("planted");
    expect(existsSync(join(project, "src", "app", "lib", ".git"))).toBe(false);
    userRunsGitStatus(join(project, "src", "app", "lib"));
    expect(r.stderr).toContain("COULD NOT FULLY CHECK");
    expect(r.stderr).toContain("src/app/c1/d/d/d");
  }, 60_000);

  test("an existing branch too deep to search before the run stays read-only, the rest of the project writable", async () => {
    const project = newProject([]);
    const deep = join(project, "src", ...Array<string>(40).fill("d"));
    mkdirSync(deep, { recursive: true });
    const r = await attack(project, `mkdir ${deep}/.git || echo deep-refused\necho ok > src/main.c && echo src-written`);
    expect(r.stdout).toContain("deep-refused");
    expect(r.stdout).toContain("src-written");
    expect(r.stderr).toContain("stays read-only: too deep");
  }, 60_000);
});
