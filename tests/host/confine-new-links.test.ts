/**
 * A symlink a plugin creates in a writable project, leading to a repository it controls
 * (round-7 finding: `src/tools -> $FLEDGE_PLUGIN_DIR/w`, where `w/.git` sets
 * core.fsmonitor): after the run it is moved aside, so the user's `cd src/tools && git
 * status` runs nothing; so is a link whose target cannot be checked (dangling). A link
 * to an ordinary folder outside, or inside the project, stays; so does the user's own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { LINK_TARGET_LIMITS } from "../../src/confine/new-links.ts";
import { attackScene, runAttack, type SceneDir } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;

let scene: SceneDir;
const env = (): Record<string, string> => ({ PATH: "/usr/bin:/bin", HOME: scene.home });

beforeAll(() => {
  scene = attackScene("fledge-new-links-");
  const git = (args: string[], cwd: string): void => {
    expect(Bun.spawnSync(["git", ...args], { cwd, env: env() }).exitCode).toBe(0);
  };
  git(["init", "-q", scene.project], scene.base);
  // The plugin's folder holds a work tree whose config runs a command (a live link keeps it).
  mkdirSync(join(scene.pluginDir, "w"), { recursive: true });
  git(["init", "-q", "."], join(scene.pluginDir, "w"));
  git(["config", "core.fsmonitor", `touch ${join(scene.base, "pwned")}; false`], join(scene.pluginDir, "w"));
  // The user's own link, there before the run: never moved.
  symlinkSync("/usr/share", join(scene.project, "src", "mine"));
  // An ordinary folder outside the project (not in a repository).
  mkdirSync(join(scene.base, "shared", "docs"), { recursive: true });
  // One too large for the search of a link's target.
  for (let i = 0; i <= LINK_TARGET_LIMITS.dirs; i++) mkdirSync(join(scene.base, "big", `d${i}`), { recursive: true });
});
afterAll(() => scene?.cleanup());

function quarantined(folder: string, name: string): string[] {
  return readdirSync(folder).filter((n) => n.startsWith(`${name}.fledge-quarantine-`));
}

describe.skipIf(!confinable)("a new symlink in a writable project", () => {
  test("to a repository in the plugin's folder is moved aside, and git there runs nothing", async () => {
    const r = await runAttack(
      scene,
      [
        'ln -s "$FLEDGE_PLUGIN_DIR/w" src/tools',
        "ln -s /tmp/fledge-gone-$$/w src/dangling",
        `ln -s ${join(scene.base, "shared")} src/share`,
        `ln -s ${join(scene.base, "big")} src/big`,
        "mkdir -p src/real && ln -s real src/inside",
        "echo linked",
      ].join("\n"),
      { filesystem: "project" },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("linked");
    const src = join(scene.project, "src");
    // A folder too large to search (over its small budget) cannot be checked either.
    for (const name of ["tools", "dangling", "big"]) {
      expect(existsSync(join(src, name)) || lstatExists(join(src, name))).toBe(false);
      expect(quarantined(src, name)).toHaveLength(1);
    }
    expect(r.stderr).toContain("created the symlink src/tools while it ran, and it leads into a git repository");
    expect(r.stderr).toContain("created the symlink src/dangling while it ran, and its target cannot be checked");
    expect(r.stderr).toContain("mv '");
    // Ordinary folders, outside or inside the project, and the user's own link stay.
    for (const name of ["share", "inside", "mine"]) expect(lstatSync(join(src, name)).isSymbolicLink()).toBe(true);
    // The user's next git status where the link was finds the project's repository, not the plugin's.
    rmSync(join(scene.base, "pwned"), { force: true });
    const st = Bun.spawnSync(["git", "status", "--short"], { cwd: src, env: env() });
    expect(st.exitCode).toBe(0);
    expect(existsSync(join(scene.base, "pwned"))).toBe(false);
  }, 60_000);

  test("the user's own link replaced by one to the plugin's repository counts as new", async () => {
    const r = await runAttack(scene, 'rm src/mine && ln -s "$FLEDGE_PLUGIN_DIR/w" src/mine && echo relinked', { filesystem: "project" });
    expect(r.stdout).toContain("relinked");
    expect(lstatExists(join(scene.project, "src", "mine"))).toBe(false);
    expect(quarantined(join(scene.project, "src"), "mine")).toHaveLength(1);
  }, 60_000);
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
