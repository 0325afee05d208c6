/**
 * The fourth red-team round against native confinement: checks done at consent on
 * state that changes later (a granted variable's value), and start-up files a
 * dotfiles repository holds that the first list missed (what ~/.gitconfig includes,
 * tools' own start-up files). Each attack is a real shell plugin run through the real
 * native runner in a temp HOME; each test fails if the hole reopens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attackScene, runAttack, type AttackOptions, type Run, type SceneDir } from "./confine-harness.ts";
import { confinementRules, kernelLandlockAbi } from "../../src/confine/index.ts";
import { judgeHomePath } from "../../src/manifest/confinement.ts";
import { grantedConfinement } from "../../src/install/confinement-grant.ts";
import { includePaths } from "../../src/manifest/git-includes.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const T = 30_000;
const GHP = "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE1234";
const GLPAT = "glpat-FAKEFAKEFAKEFAKE1234";

let scene: SceneDir;
let base: string;
let home: string;
let project: string;
let pluginDir: string;

beforeAll(() => {
  scene = attackScene("fledge-redteam4-");
  ({ base, home, project, pluginDir } = scene);
});
afterAll(() => scene?.cleanup());

function attack(script: string, o: AttackOptions = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, o);
}

describe("a granted variable judged on its value at run (g8)", () => {
  const rules = (env: Record<string, string>, extraEnv: string[], approvedCredentialEnv?: string[]) =>
    confinementRules(
      { pluginDir, projectWritable: false, network: false, tempDir: join(base, "t"), fledgeConfigDir: join(home, ".config", "fledge"), extraEnv, approvedCredentialEnv },
      { PATH: "/usr/bin:/bin", HOME: home, ...env },
    );

  test("a plain-named granted variable holding a token now is not passed, and the note names it, never the value", () => {
    const r = rules({ APP_UPSTREAM: `https://deploy:${GHP}@github.com/org/repo`, DEPLOY_HOOK: GLPAT, APP_MODE: "fast" }, ["APP_UPSTREAM", "DEPLOY_HOOK", "APP_MODE"]);
    expect(r.env.APP_UPSTREAM).toBeUndefined();
    expect(r.env.DEPLOY_HOOK).toBeUndefined();
    expect(r.env.APP_MODE).toBe("fast");
    const notes = r.notes.join("\n");
    expect(notes).toContain("APP_UPSTREAM");
    expect(notes).toContain("DEPLOY_HOOK");
    expect(notes).toMatch(/unset it/);
    expect(notes).not.toContain("FAKEFAKE");
  });

  test("a credential-named granted variable passes (consent showed it as credentials)", () => {
    const r = rules({ GH_TOKEN: GHP, DATABASE_URL: "postgres://u:pw@db/x" }, ["GH_TOKEN", "DATABASE_URL"]);
    expect(r.env.GH_TOKEN).toBe(GHP);
    expect(r.env.DATABASE_URL).toBe("postgres://u:pw@db/x");
    expect(r.notes.join("\n")).not.toContain("GH_TOKEN");
  });

  test("a plain-named variable consent showed as credentials (its value then) passes; the record is kept by updates, never gained by one", () => {
    const needs = { read: [], write: [], env: ["APP_UPSTREAM", "APP_MODE"] };
    const atInstall = grantedConfinement(needs, false, undefined, home, { APP_UPSTREAM: GLPAT, APP_MODE: "fast" });
    expect(atInstall.credential_env).toEqual(["APP_UPSTREAM"]);
    expect(rules({ APP_UPSTREAM: GLPAT }, atInstall.env, atInstall.credential_env).env.APP_UPSTREAM).toBe(GLPAT);
    // An update does not ask about kept variables again: APP_MODE holding a token now is not approved by it.
    const updated = grantedConfinement(needs, false, atInstall, home, { APP_UPSTREAM: "", APP_MODE: GLPAT });
    expect(updated.credential_env).toEqual(["APP_UPSTREAM"]);
    expect(rules({ APP_MODE: GLPAT }, updated.env, updated.credential_env).env.APP_MODE).toBeUndefined();
    expect(grantedConfinement(needs, false, undefined, home, {}).credential_env).toBeUndefined();
  });

  test.skipIf(!confinable)("the plugin run prints neither token", async () => {
    const r = await attack(`echo "up=$APP_UPSTREAM hook=$DEPLOY_HOOK"; echo end`, {
      env: { APP_UPSTREAM: `https://deploy:${GHP}@github.com/org/repo`, DEPLOY_HOOK: GLPAT },
      confinement: { env: ["APP_UPSTREAM", "DEPLOY_HOOK"] },
    });
    expect(r.stdout).toContain("end");
    expect(r.stdout + r.stderr).not.toContain("FAKEFAKE");
    expect(r.stderr).toContain("APP_UPSTREAM");
  }, T);
});

describe("git includes", () => {
  test("path entries of [include] and [includeIf] sections are read; other sections' paths are not", () => {
    const text = `[user]\n\tname = me\n[include]\n\tpath = ~/dotfiles/git/extra.gitconfig\n[includeIf "gitdir:~/work/"]\n  path = "work.gitconfig" ; work\n[core]\n\tpath = /not/this\n`;
    expect(includePaths(text)).toEqual(["~/dotfiles/git/extra.gitconfig", "work.gitconfig"]);
  });
});

describe.skipIf(!confinable)("start-up files and what they include, kept in a dotfiles repository (g6)", () => {
  test("a writable dotfiles project cannot change what ~/.gitconfig includes, nor cargo, starship, gdb, psql, yarn start-up files", async () => {
    const dots = join(home, "dotfiles");
    for (const d of ["git", "cargo", "conf"]) mkdirSync(join(dots, d), { recursive: true });
    for (const d of [".cargo", ".config/git"]) mkdirSync(join(home, d), { recursive: true });
    const targets = ["git/extra.gitconfig", "git/nested.gitconfig", "git/work.gitconfig", "cargo/config.toml", "conf/starship.toml", "conf/gdbinit", "conf/psqlrc", "conf/yarnrc.yml", "conf/inputrc", "README.md"];
    for (const t of targets) writeFileSync(join(dots, t), "# mine\n");
    writeFileSync(join(dots, "git", "gitconfig"), "[user]\n\tname = me\n[include]\n\tpath = ~/dotfiles/git/extra.gitconfig\n");
    // Nested: the included file includes another, relative to itself.
    writeFileSync(join(dots, "git", "extra.gitconfig"), "[include]\n\tpath = nested.gitconfig\n");
    writeFileSync(join(dots, "git", "config"), `[includeIf "gitdir:~/work/"]\n\tpath = ${join(dots, "git", "work.gitconfig")}\n`);
    const links: Record<string, string> = {
      ".gitconfig": "git/gitconfig", ".config/git/config": "git/config", ".cargo/config.toml": "cargo/config.toml", ".config/starship.toml": "conf/starship.toml",
      ".gdbinit": "conf/gdbinit", ".psqlrc": "conf/psqlrc", ".yarnrc.yml": "conf/yarnrc.yml", ".inputrc": "conf/inputrc",
    };
    for (const [link, target] of Object.entries(links)) symlinkSync(join(dots, target), join(home, link));
    const before = Object.fromEntries(targets.map((t) => [t, readFileSync(join(dots, t), "utf8")]));
    const r = await attack(`for f in ${targets.join(" ")}; do echo '[core] fsmonitor = evil' >> $f 2>/dev/null && echo "wrote $f"; done; echo end`, { filesystem: "project", projectRoot: dots });
    expect(r.stdout).toContain("end");
    expect(r.stdout.trim().split("\n").filter((l) => l.startsWith("wrote"))).toEqual(["wrote README.md"]);
    for (const t of targets.filter((t) => t !== "README.md")) expect(readFileSync(join(dots, t), "utf8")).toBe(before[t] as string);
    // A [confinement] write grant is refused on them too, at install and at every run.
    expect(judgeHomePath(join(dots, "git", "nested.gitconfig"), home).neverWrite).toBe(true);
    expect(judgeHomePath(join(dots, "git", "README.md"), home).neverWrite).toBe(false);
    for (const link of Object.keys(links)) rmSync(join(home, link));
  }, T);
});
