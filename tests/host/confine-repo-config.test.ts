/**
 * Project files the repository's own git config makes git run (round-7 finding):
 * `core.hooksPath = tools/git-hooks`, `include.path = ../.gitconfig.shared`, a filter
 * driver naming `scripts/clean.sh`, a `core.fsmonitor` naming a script not there yet.
 * A plugin with a writable project cannot rewrite or create any of them, the rest of
 * the project stays writable, and the user's next `git status` / `git commit` run
 * nothing of the plugin's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { configEntries, namesCommand, repoConfigPaths } from "../../src/confine/repo-config.ts";
import { attackScene, runAttack, type SceneDir } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;

let scene: SceneDir;
const env = (): Record<string, string> => ({ PATH: "/usr/bin:/bin", HOME: scene.home });
const HOOK = "#!/bin/sh\necho lint ok\n";
const SHARED = "[user]\n\tname = team\n";

function git(args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["git", ...args], { cwd: scene.project, env: env() });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

beforeAll(() => {
  scene = attackScene("fledge-repo-config-");
  const p = scene.project;
  mkdirSync(join(p, "tools", "git-hooks"), { recursive: true });
  mkdirSync(join(p, "scripts"), { recursive: true });
  writeFileSync(join(p, "tools", "git-hooks", "pre-commit"), HOOK, { mode: 0o755 });
  writeFileSync(join(p, ".gitconfig.shared"), SHARED);
  writeFileSync(join(p, "scripts", "clean.sh"), "cat\n");
  expect(git(["init", "-q", "."]).code).toBe(0);
  for (const [k, v] of [["core.hooksPath", "tools/git-hooks"], ["include.path", "../.gitconfig.shared"], ["filter.tidy.clean", "sh scripts/clean.sh"], ["core.fsmonitor", "tools/fsmon"], ["user.email", "u@x"], ["user.name", "u"]] as const) {
    expect(git(["config", k, v]).code).toBe(0);
  }
  writeFileSync(join(p, "a.txt"), "a\n");
  expect(git(["add", "-A"]).code).toBe(0);
  expect(git(["-c", "core.fsmonitor=", "commit", "-qm", "init", "--no-verify"]).code).toBe(0);
});
afterAll(() => scene?.cleanup());

describe("the repository's config", () => {
  test("names the hooks folder, the included file and the scripts of commands, never the work tree itself", () => {
    const p = scene.project;
    const paths = repoConfigPaths(join(p, ".git"), (x) => x);
    for (const want of [join(p, "tools", "git-hooks"), join(p, ".gitconfig.shared"), join(p, "scripts", "clean.sh"), join(p, "tools", "fsmon")]) expect(paths).toContain(want);
    expect(paths).not.toContain(p);
    // A `..` in a value does not make the project, or a folder above it, read-only.
    expect(configEntries('[core]\n\thooksPath = ".."  # shared\n[filter "x"]\n\tclean = ./a.sh\n')).toEqual([
      { section: "core", sub: undefined, key: "hookspath", value: ".." },
      { section: "filter", sub: "x", key: "clean", value: "./a.sh" },
    ]);
    expect(namesCommand({ section: "remote", sub: "origin", key: "url" })).toBe(false);
    expect(namesCommand({ section: "alias", sub: undefined, key: "b" })).toBe(true);
  });
});

describe.skipIf(!confinable)("a plugin with a writable project", () => {
  test("cannot rewrite what the repository's config runs; git then runs nothing of its own", async () => {
    const marker = join(scene.base, "pwned");
    const r = await runAttack(
      scene,
      [
        `printf '#!/bin/sh\\ntouch ${marker}\\n' > tools/git-hooks/pre-commit || echo hook-refused`,
        `printf '[core]\\n\\tfsmonitor = "touch ${marker}; false"\\n' >> .gitconfig.shared || echo shared-refused`,
        `echo 'touch ${marker}; cat' > scripts/clean.sh || echo filter-refused`,
        `printf '#!/bin/sh\\ntouch ${marker}\\n' > tools/fsmon || echo fsmon-refused`,
        "echo b >> a.txt && echo project-written",
      ].join("\n"),
      { filesystem: "project" },
    );
    expect(r.code).toBe(0);
    for (const word of ["hook-refused", "shared-refused", "filter-refused", "fsmon-refused", "project-written"]) expect(r.stdout).toContain(word);
    expect(readFileSync(join(scene.project, "tools", "git-hooks", "pre-commit"), "utf8")).toBe(HOOK);
    expect(readFileSync(join(scene.project, ".gitconfig.shared"), "utf8")).toBe(SHARED);
    expect(existsSync(join(scene.project, "tools", "fsmon"))).toBe(false);
    git(["status", "--short"]);
    const commit = git(["commit", "-qam", "x"]);
    expect(commit.out).toContain("lint ok");
    expect(existsSync(marker)).toBe(false);
  }, 60_000);
});
