import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { collectMetadata, ENV_ALLOWLIST, filterEnv } from "../../src/host/metadata.ts";
import { isCredentialEnv } from "../../src/manifest/confinement.ts";

const isSecretEnvName = (name: string): boolean => isCredentialEnv(name, "");
import { tempDir } from "../helpers/cli.ts";

describe("filterEnv never leaks secrets", () => {
  const secrets: Record<string, string> = {
    GITHUB_TOKEN: "ghp_x",
    FLEDGE_GITHUB_TOKEN: "ghp_y",
    GH_TOKEN: "t",
    AWS_SECRET_ACCESS_KEY: "s",
    AWS_ACCESS_KEY_ID: "k",
    OPENAI_API_KEY: "k",
    DB_PASSWORD: "p",
    MYSQL_PWD: "p",
    NPM_AUTH: "a",
    GOOGLE_APPLICATION_CREDENTIALS: "/c.json",
    SSH_AUTH_SOCK: "/tmp/agent",
    session_cookie: "c",
    my_secret: "lower",
    ApiKey: "mixed",
    DATABASE_URL: "postgres://u:p@h/db",
    PATH: "/usr/bin",
    HOME: "/home/u",
    LD_PRELOAD: "/evil.so",
    STRIPE_SK: "sk_live",
  };

  test("secret-looking and unlisted names are dropped; allowlisted ones pass", () => {
    const out = filterEnv({ ...secrets, LANG: "C.UTF-8", LC_ALL: "C", TERM: "xterm", CI: "true", EDITOR: "vi" });
    expect(out).toEqual({ LANG: "C.UTF-8", LC_ALL: "C", TERM: "xterm", CI: "true", EDITOR: "vi" });
  });

  test("every secret name matches the deny check, case-insensitively", () => {
    for (const name of ["x_token_y", "Secret", "KEY", "passWord", "credential", "OAUTH_THING"]) expect(isSecretEnvName(name)).toBe(true);
  });

  test("no allowlisted name is itself secret-looking", () => {
    for (const name of ENV_ALLOWLIST) expect(isSecretEnvName(name)).toBe(false);
  });

  test("an allowlisted variable carrying URL credentials is dropped", () => {
    expect(filterEnv({ EDITOR: "https://user:pw@host/x", PAGER: "less" })).toEqual({ PAGER: "less" });
  });

  test("the real process environment never yields a secret-looking name", () => {
    for (const name of Object.keys(filterEnv(process.env))) expect(isSecretEnvName(name)).toBe(false);
  });
});

describe("collectMetadata", () => {
  let dir: { path: string; cleanup: () => void };
  beforeAll(() => {
    dir = tempDir("fledge-meta-");
    const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: dir.path, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } });
    git("init", "-q", "-b", "main");
    writeFileSync(join(dir.path, "fledge.toml"), '[project]\nname = "demo"\n');
    git("add", ".");
    git("commit", "-q", "-m", "first commit");
    git("tag", "v1.0.0");
    git("tag", "v1.2.0");
    writeFileSync(join(dir.path, "new.txt"), "x");
  });
  afterAll(() => dir.cleanup());

  test("answers every key, unknown keys as null", () => {
    const m = collectMetadata(["fledge_config", "git_tags", "git_status", "git_log", "env", "nope"], {
      projectRoot: dir.path,
      env: { LANG: "C", GITHUB_TOKEN: "x" },
    });
    expect(m.fledge_config).toEqual({ project: { name: "demo" } });
    expect(m.git_tags).toEqual(["v1.2.0", "v1.0.0"]);
    expect(m.git_status).toEqual(["?? new.txt"]);
    expect((m.git_log as string[])[0]).toMatch(/^[0-9a-f]+ first commit$/);
    expect(m.env).toEqual({ LANG: "C" });
    expect(m.nope).toBeNull();
  });

  test("outside a git repo: empty lists and null config", () => {
    const other = tempDir("fledge-meta-nogit-");
    try {
      expect(collectMetadata(["git_tags", "fledge_config", "__proto__"], { projectRoot: other.path })).toEqual(
        JSON.parse('{"git_tags":[],"fledge_config":null,"__proto__":null}'),
      );
    } finally {
      other.cleanup();
    }
  });
});
