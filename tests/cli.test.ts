import { describe, expect, test } from "bun:test";
import { runFledge, runFledgeInProcess, tempDir } from "./helpers/cli.ts";

describe("CLI skeleton", () => {
  test("--version prints name, version and commit on stdout", async () => {
    const r = await runFledgeInProcess(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^fledge \d+\.\d+\.\d+ \(\S+\)\n$/);
    expect(r.stderr).toBe("");
  });

  test("--help lists the commands, plain text when piped", async () => {
    const r = await runFledgeInProcess(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plugins");
    expect(r.stdout).toContain("trust");
    expect(r.stdout).not.toContain("\u001b[");
  });

  test("unknown command: exit 2 with a did-you-mean on stderr, nothing on stdout", async () => {
    const r = await runFledgeInProcess(["trsut", "x"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unknown command 'trsut'");
    expect(r.stderr).toContain("did you mean 'fledge trust'?");
  });

  test("unknown plugins sub-command suggests the close one", async () => {
    const r = await runFledgeInProcess(["plugin", "valdate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("did you mean 'fledge plugins validate'?");
  });

  test("unknown flag is a usage error naming the flag", async () => {
    const r = await runFledgeInProcess(["trust", "--jsn", "a/b"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--jsn'");
    expect(r.stderr).toContain("'--json'");
  });

  test("usage errors in --json mode print the error envelope on stdout", async () => {
    const r = await runFledgeInProcess(["trust", "--json"]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.schema_version).toBe(1);
    expect(out.error.code).toBe("usage");
    expect(out.error.message).toContain("SOURCE");
  });

  test("a group without a sub-command is a usage error", async () => {
    const r = await runFledgeInProcess(["plugins"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs a sub-command");
  });

  test("--non-interactive is accepted anywhere before the command's arguments", async () => {
    expect((await runFledgeInProcess(["--non-interactive", "--version"])).code).toBe(0);
    expect((await runFledgeInProcess(["plugins", "validate", "--non-interactive", "--help"])).code).toBe(0);
  });
});

describe("a project's test settings do not quiet fledge", () => {
  // consola drops info messages (so every hint) under NODE_ENV=test or TEST; a real
  // child process, since the level is fixed when the logger first loads.
  for (const env of [{ NODE_ENV: "test" }, { TEST: "1" }]) {
    test(`${Object.keys(env)[0]}: an error still comes with its hint`, () => {
      const cfg = tempDir("fledge-cli-quiet-");
      try {
        const r = runFledge(["plugins", "remove", "nope"], { env: { ...env, FLEDGE_CONFIG_DIR: cfg.path } });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("no plugins are installed");
        expect(r.stderr).toContain("install one with 'fledge plugins install <source>'");
      } finally {
        cfg.cleanup();
      }
    });
  }
});
