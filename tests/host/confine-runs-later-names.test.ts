/**
 * The names where code runs later (RUNS_LATER in src/confine/runs-later.ts) and the
 * git-directory rule, as the searches see them on real folders, then end to end:
 * - every per-folder file a tool runs code from or names a command in (Dev Containers'
 *   `.devcontainer.json`, Emacs's `.dir-locals.el`, vim's `.lvimrc`, mise's and asdf's
 *   configs, zsh-autoenv's files, ...) is found at any depth;
 * - a folder is a git directory when it has a `HEAD` and any of `commondir`, `refs`,
 *   `objects` (git's rule, counted generously), and not without a `HEAD`;
 * - a plugin that creates such names in a writable project has them moved aside after
 *   the run, and an existing one is not writable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { commonDirOf, isGitDirectory, isRunsLaterName, RUNS_LATER, scanRunsLater } from "../../src/confine/runs-later.ts";
import { tempDir } from "../helpers/cli.ts";
import { runAttack } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;

let dir: { path: string; cleanup: () => void };
let base: string;
let counter = 0;

beforeAll(() => {
  dir = tempDir("fledge-runs-later-names-");
  base = realpathSync(dir.path);
});
afterAll(() => dir?.cleanup());

function freshFolder(): string {
  const p = join(base, `tree${++counter}`);
  mkdirSync(p, { recursive: true });
  return p;
}

/** Files and folders that make a tool run code, or a command of the folder's choosing, when the user works there. */
const TOOL_FILES = [".devcontainer.json", ".dir-locals.el", ".dir-locals-2.el", ".lvimrc", ".exrc", ".vimrc", ".nvimrc", ".nvim.lua", ".mise.toml", "mise.toml", ".mise.local.toml", "mise.local.toml", ".autoenv.zsh", ".autoenv_leave.zsh", ".env.leave", ".tool-versions"];

describe("the names where code runs later", () => {
  test("each tool file is listed and found at any depth, as a file, and .mise as a folder", () => {
    const listed: readonly string[] = RUNS_LATER;
    for (const name of [...TOOL_FILES, ".mise"]) expect(listed).toContain(name);
    const root = freshFolder();
    const deep = join(root, "a", "b", "c");
    mkdirSync(join(deep, ".mise"), { recursive: true });
    for (const name of TOOL_FILES) writeFileSync(join(deep, name), "x\n");
    writeFileSync(join(deep, ".mise", "config.toml"), "x\n");
    // A dotenv file shares its name with autoenv's but is data for most tools: not watched.
    writeFileSync(join(deep, ".env"), "A=1\n");
    const found = scanRunsLater(root).found;
    expect(found.sort()).toEqual([...TOOL_FILES, ".mise"].map((n) => join(deep, n)).sort());
  });

  test("editor, cargo and hook-manager configs are found, and a *.code-workspace file by its ending", () => {
    const names = [".helix", ".lazy.lua", ".fleet", ".cargo", "lefthook.yml", ".lefthook.yml", ".lintstagedrc", ".lintstagedrc.json", "lint-staged.config.js", ".overcommit.yml", ".husky", ".pre-commit-config.yaml"];
    const listed: readonly string[] = RUNS_LATER;
    for (const name of names) expect(listed).toContain(name);
    const root = freshFolder();
    const deep = join(root, "x", "y");
    mkdirSync(join(deep, ".cargo"), { recursive: true });
    writeFileSync(join(deep, ".cargo", "config.toml"), '[build]\nrustc-wrapper = "./w.sh"\n');
    const files = names.filter((n) => n !== ".cargo");
    for (const name of files) writeFileSync(join(deep, name), "x\n");
    writeFileSync(join(deep, "team.code-workspace"), "{}\n");
    // Only the ending counts, and not a file named just like it, nor an ordinary config.
    writeFileSync(join(deep, "code-workspace.md"), "x\n");
    writeFileSync(join(deep, "Cargo.toml"), "x\n");
    expect(isRunsLaterName(".code-workspace")).toBe(false);
    expect(scanRunsLater(root).found.sort()).toEqual([...names, "team.code-workspace"].map((n) => join(deep, n)).sort());
  });

  test("a git directory: HEAD with any of commondir, refs, objects; never without HEAD", () => {
    const yes = [["HEAD", "commondir"], ["HEAD", "refs"], ["HEAD", "objects"], ["HEAD", "refs", "objects"], ["HEAD", "commondir", "config.worktree"]];
    const no = [["HEAD"], ["commondir", "refs", "objects", "config"], ["refs", "objects"], ["HEAD", "config", "config.worktree"], ["main.c"]];
    for (const names of yes) expect(isGitDirectory(new Set(names))).toBe(true);
    for (const names of no) expect(isGitDirectory(new Set(names))).toBe(false);
    // On disk, the split layout: the folder with HEAD and commondir is found, the common folder (no HEAD) is not.
    const root = freshFolder();
    mkdirSync(join(root, "lib", ".c", "refs"), { recursive: true });
    mkdirSync(join(root, "lib", ".c", "objects"));
    writeFileSync(join(root, "lib", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(root, "lib", "commondir"), ".c\n");
    writeFileSync(join(root, "lib", ".c", "config"), "[core]\n");
    expect(scanRunsLater(root).found).toEqual([join(root, "lib")]);
    expect(commonDirOf(join(root, "lib"))).toBe(join(root, "lib", ".c"));
  });

  test("a commondir that is a FIFO is not read (fledge does not hang) and the folder still counts", () => {
    const root = freshFolder();
    writeFileSync(join(root, "HEAD"), "ref: refs/heads/main\n");
    expect(Bun.spawnSync(["mkfifo", join(root, "commondir")]).exitCode).toBe(0);
    expect(commonDirOf(root)).toBeUndefined();
    expect(scanRunsLater(root).found).toEqual([root]);
  });
});

describe.skipIf(!confinable)("tool files a plugin creates or changes in a writable project", () => {
  test("new ones are moved aside after the run (kept), existing ones are not writable", async () => {
    const home = join(base, "home");
    const project = join(base, "project");
    const pluginDir = join(home, ".config", "fledge", "plugins", "evil");
    for (const d of [pluginDir, join(project, "src", "app"), join(project, "tools")]) mkdirSync(d, { recursive: true });
    // The user's own .tool-versions: there before the run, never writable, never moved.
    writeFileSync(join(project, "tools", ".tool-versions"), "nodejs 20.0.0\n");
    const r = await runAttack(
      { home, project, pluginDir },
      [
        `printf '{ "image": "debian", "initializeCommand": "touch /tmp/pwned" }\\n' > src/app/.devcontainer.json`,
        `printf '((nil . ((eval . (shell-command "id > /tmp/pwned")))))\\n' > src/app/.dir-locals.el`,
        `printf '[env]\\n_.source = "./x.sh"\\n' > src/app/.mise.toml`,
        "echo 'nodejs path:/tmp/evil' > tools/.tool-versions || echo tool-versions-refused",
        "echo ok > src/app/main.c && echo written",
      ].join("\n"),
      { filesystem: "project" },
    );
    expect(r.stdout).toContain("written");
    expect(r.stdout).toContain("tool-versions-refused");
    const app = join(project, "src", "app");
    for (const name of [".devcontainer.json", ".dir-locals.el", ".mise.toml"]) {
      expect(existsSync(join(app, name))).toBe(false);
      const aside = readdirSync(app).filter((n) => n.startsWith(`${name}.fledge-quarantine-`));
      expect(aside).toHaveLength(1);
      expect(r.stderr).toContain(`created src/app/${name} while it ran`);
    }
    expect(readFileSync(join(app, readdirSync(app).find((n) => n.startsWith(".devcontainer.json.fledge-quarantine-"))!), "utf8")).toContain("initializeCommand");
    expect(readFileSync(join(app, "main.c"), "utf8")).toBe("ok\n");
    expect(readFileSync(join(project, "tools", ".tool-versions"), "utf8")).toBe("nodejs 20.0.0\n");
  }, 60_000);
});
