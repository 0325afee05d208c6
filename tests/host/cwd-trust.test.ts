/**
 * fledge's own process runs unconfined, so it must take no configuration and no code
 * from the folder it runs in (a project a plugin may write): no `.env`, no `bunfig.toml`
 * preload, no program found through a relative PATH entry, no program a repository's
 * own git configuration names. Each test plants the attack and checks that nothing ran.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { confinementRules } from "../../src/confine/policy.ts";
import { filterOffArgs, findProgram, fledgeOwnFiles, fledgeSelfCommand } from "../../src/core/programs.ts";
import { detectGit, findProjectRoot } from "../../src/host/project.ts";
import { gitHookScript } from "../../src/install/githook.ts";
import { shimText } from "../../src/install/shims.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

let t: { path: string; cleanup: () => void };
let marker: string;
let project: string;
let PATH: string;

beforeEach(() => {
  t = tempDir("fledge-cwd-");
  marker = join(t.path, "PWNED");
  project = join(t.path, "project");
  mkdirSync(project);
  // `bun` by that name for src/bin.js's `#!/usr/bin/env` line (the test's Bun may be bun.exe).
  mkdirSync(join(t.path, "bun-bin"));
  symlinkSync(process.execPath, join(t.path, "bun-bin", "bun"));
  PATH = `${join(t.path, "bun-bin")}:/usr/local/bin:/usr/bin:/bin`;
});
afterEach(() => t.cleanup());

/** What a plugin with a writable project plants: a `.env` that moves fledge's config, a bunfig preload. */
function plantBunFiles(dir: string): string {
  const planted = join(t.path, "planted-config");
  writeFileSync(join(dir, ".env"), `FLEDGE_CONFIG_DIR=${planted}\n`);
  writeFileSync(join(dir, "pre.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "preload ran");\n`);
  writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./pre.ts"]\n');
  return planted;
}

function run(argv: string[], cwd: string, env: Record<string, string> = {}): { code: number; out: string } {
  const r = Bun.spawnSync(argv, { cwd, env: { PATH, HOME: join(t.path, "home"), NO_COLOR: "1", ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

function writeExecutable(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}

describe("fledge takes no .env or bunfig.toml from the folder it runs in", () => {
  test("the npm/bunx entry (src/bin.js run through its #! line)", () => {
    const planted = plantBunFiles(project);
    const r = run([join(ROOT, "src", "bin.js"), "cache", "list", "--json"], project);
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse(r.out.slice(r.out.indexOf("{"))).dir).not.toContain(planted);
  });

  test("the command shims and the git pre-push hook start fledge without them too", () => {
    const planted = plantBunFiles(project);
    const shim = join(t.path, "fledge-cache");
    writeExecutable(shim, shimText("cache", "x"));
    const r = run([shim, "list", "--json"], project);
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.out).not.toContain(planted);
    expect(gitHookScript()).toContain("'--no-env-file' '--config=/dev/null'");
    expect(fledgeSelfCommand()).toContain("--no-env-file");
  });
});

describe("programs fledge starts are found on absolute PATH entries only", () => {
  test("findProgram skips relative and empty entries and relative paths", () => {
    writeExecutable(join(t.path, "rel", "git"), "#!/bin/sh\n");
    const here = process.cwd();
    process.chdir(t.path);
    try {
      expect(findProgram("git", `rel::.:${PATH}`)).not.toContain(t.path);
      expect(findProgram("git", "rel::.")).toBeUndefined();
      expect(findProgram("rel/git", PATH)).toBeUndefined();
      expect(findProgram(join(t.path, "rel", "git"), "")).toBe(join(t.path, "rel", "git"));
    } finally {
      process.chdir(here);
    }
  });

  test("a git planted in ./node_modules/.bin is never run (PATH has './node_modules/.bin' first)", () => {
    run(["git", "init", "-q"], project);
    writeExecutable(join(project, "node_modules", ".bin", "git"), `#!/bin/sh\necho planted > ${marker}\nexit 1\n`);
    const r = run([process.execPath, join(ROOT, "src", "main.ts"), "hooks", "install", "--yes"], project, {
      PATH: `./node_modules/.bin:${PATH}`,
      FLEDGE_CONFIG_DIR: join(t.path, "cfg"),
    });
    expect(existsSync(marker)).toBe(false);
    expect(r.code).toBe(0);
    expect(existsSync(join(project, ".git", "hooks", "pre-push"))).toBe(true);
  });
});

describe("fledge's own git in a project runs nothing the repository's configuration names", () => {
  test("fsmonitor, hooks and filter drivers planted in .git/config do not run; status still answers", () => {
    const git = (...a: string[]): void => void run(["git", "-c", "user.email=a@b", "-c", "user.name=a", ...a], project);
    git("init", "-q");
    writeFileSync(join(project, "a.txt"), "one\n");
    writeFileSync(join(project, ".gitattributes"), "*.txt filter=evil\n");
    git("add", "-A");
    git("commit", "-qm", "init");
    const evil = join(t.path, "evil.sh");
    writeExecutable(evil, `#!/bin/sh\necho ran >> ${marker}\ncat\n`);
    writeExecutable(join(t.path, "hooks", "post-index-change"), `#!/bin/sh\necho hook >> ${marker}\n`);
    git("config", "core.fsmonitor", evil);
    git("config", "core.hooksPath", join(t.path, "hooks"));
    git("config", "filter.evil.clean", evil);
    git("config", "filter.evil.process", evil);
    writeFileSync(join(project, "a.txt"), "two\n");
    const info = detectGit(project);
    expect(info?.dirty).toBe(true);
    expect(findProjectRoot(project)).toContain("project");
    expect(existsSync(marker)).toBe(false);
  });

  test("filterOffArgs switches off every named driver and refuses a name it cannot override", () => {
    expect(filterOffArgs("filter.lfs.clean\nfilter.lfs.smudge\nfilter.a.b.process\n")).toEqual([
      ...["-c", "filter.lfs.clean=", "-c", "filter.lfs.smudge=", "-c", "filter.lfs.process=", "-c", "filter.lfs.required=false"],
      ...["-c", "filter.a.b.clean=", "-c", "filter.a.b.smudge=", "-c", "filter.a.b.process=", "-c", "filter.a.b.required=false"],
    ]);
    expect(filterOffArgs("")).toEqual([]);
    expect(filterOffArgs("filter.x=y.clean\n")).toBeUndefined();
  });
});

describe("a plugin with a writable project never writes the files fledge runs from", () => {
  test("fledge-cli and its packages in the project's node_modules stay read-only; the rest is writable", () => {
    const root = realpathSync(project);
    for (const d of ["node_modules/fledge-cli/src", "node_modules/smol-toml/dist", "node_modules/left-pad", "src"]) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, "node_modules", "fledge-cli", "src", "main.ts"), "");
    const self = [join(root, "node_modules", "fledge-cli"), join(root, "node_modules", "smol-toml")];
    const home = join(t.path, "home");
    mkdirSync(home);
    const rules = confinementRules(
      { pluginDir: join(t.path, "plugin"), projectRoot: root, projectWritable: true, network: false, tempDir: join(t.path, "tmp"), fledgeConfigDir: join(t.path, "cfg"), selfFiles: self },
      { HOME: home, PATH: "/usr/bin:/bin" },
    );
    const writes = rules.fs.filter((r) => r.access === "write").map((r) => r.path);
    for (const f of self) expect(writes.filter((w) => f === w || f.startsWith(`${w}/`) || w.startsWith(`${f}/`))).toEqual([]);
    expect(writes).toContain(join(root, "src"));
    expect(writes).toContain(join(root, "node_modules", "left-pad"));
  });

  test("fledgeOwnFiles names this checkout, its Bun and its packages", () => {
    const own = fledgeOwnFiles();
    expect(own).toContain(ROOT);
    expect(own.some((f) => f.endsWith("/node_modules/smol-toml"))).toBe(true);
  });
});
