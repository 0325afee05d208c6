import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { githubToken, loadConfig } from "../../src/registry/index.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { expectFledgeError } from "../helpers/errors.ts";

let dir: { path: string; cleanup: () => void };
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = tempDir();
  env = { FLEDGE_CONFIG_DIR: dir.path };
});
afterEach(() => dir.cleanup());

const write = (text: string): string => {
  const file = join(dir.path, "config.toml");
  writeFileSync(file, text);
  return file;
};

const caught = expectFledgeError;

describe("loadConfig", () => {
  test("a missing file means defaults", () => {
    expect(loadConfig(env)).toEqual({ trust: { orgs: [], users: [] }, github: {} });
  });

  test("parses trust, github and limits; ignores unknown keys", () => {
    write(`
[trust]
orgs = ["my-org", "Other"]
users = ["alice"]

[github]
token = "ghp_config"

[limits]
fuel = "none"
memory = "256MiB"
timeout = 30

[templates]
whatever = true
`);
    expect(loadConfig(env)).toEqual({
      trust: { orgs: ["my-org", "Other"], users: ["alice"] },
      github: { token: "ghp_config" },
      limits: { fuel: "none", memory: "256MiB", timeout: 30 },
    });
  });

  test("partial sections fill in defaults", () => {
    write(`[trust]\nusers = ["bob"]\n`);
    expect(loadConfig(env)).toEqual({ trust: { orgs: [], users: ["bob"] }, github: {} });
  });

  test("a syntax error names the file, line and column", () => {
    const file = write(`[trust]\norgs = ["a",\nusers = [\n`);
    const e = caught(() => loadConfig(env));
    expect(e.code).toBe("config_invalid");
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/line \d+, column \d+/);
    expect(e.hint).toContain(file);
  });

  test("wrong types are a clear error naming the key", () => {
    const file = write(`[trust]\norgs = "my-org"\n`);
    const e = caught(() => loadConfig(env));
    expect(e.message).toContain(file);
    expect(e.message).toContain("trust.orgs");
    expect(e.message).toContain("array of strings");
    expect(e.message).toContain('"my-org"');

    write(`[trust]\nusers = ["ok", 3]\n`);
    expect(caught(() => loadConfig(env)).message).toContain("trust.users[1]");

    write(`trust = "everyone"\n`);
    expect(caught(() => loadConfig(env)).message).toContain("`trust` must be a table");

    write(`[github]\ntoken = 12\n`);
    expect(caught(() => loadConfig(env)).message).toContain("github.token");

    write(`[limits]\nfuel = "lots"\n`);
    expect(caught(() => loadConfig(env)).message).toContain("limits.fuel");
  });
});

describe("githubToken", () => {
  test("order: FLEDGE_GITHUB_TOKEN, GITHUB_TOKEN, GH_TOKEN, config github.token", () => {
    write(`[github]\ntoken = "from-config"\n`);
    const all = { ...env, FLEDGE_GITHUB_TOKEN: "f", GITHUB_TOKEN: "g", GH_TOKEN: "h" };
    expect(githubToken(all)).toBe("f");
    expect(githubToken({ ...all, FLEDGE_GITHUB_TOKEN: undefined })).toBe("g");
    expect(githubToken({ ...all, FLEDGE_GITHUB_TOKEN: undefined, GITHUB_TOKEN: undefined })).toBe("h");
    expect(githubToken(env)).toBe("from-config");
  });

  test("empty env values are skipped", () => {
    write(`[github]\ntoken = "from-config"\n`);
    expect(githubToken({ ...env, FLEDGE_GITHUB_TOKEN: "", GITHUB_TOKEN: " ", GH_TOKEN: "h" })).toBe("h");
    expect(githubToken({ ...env, GH_TOKEN: "" })).toBe("from-config");
  });

  test("no token anywhere is undefined", () => {
    expect(githubToken(env)).toBeUndefined();
    write(`[github]\ntoken = ""\n`);
    expect(githubToken(env)).toBeUndefined();
  });

  test("an env token works even when the config file is broken", () => {
    write(`[github\n`);
    expect(githubToken({ ...env, GH_TOKEN: "h" })).toBe("h");
    expect(() => githubToken(env)).toThrow(FledgeError);
  });

  test("an already loaded config can be passed in", () => {
    expect(githubToken(env, { trust: { orgs: [], users: [] }, github: { token: "given" } })).toBe("given");
  });
});
