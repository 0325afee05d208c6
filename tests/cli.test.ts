import { describe, expect, test } from "bun:test";
import { runFledge } from "./helpers/cli.ts";

describe("CLI skeleton", () => {
  test("--version prints name, version and commit on stdout", () => {
    const r = runFledge(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^fledge \d+\.\d+\.\d+ \(\S+\)\n$/);
    expect(r.stderr).toBe("");
  });

  test("--help lists the commands, plain text when piped", () => {
    const r = runFledge(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plugins");
    expect(r.stdout).toContain("trust");
    expect(r.stdout).not.toContain("\u001b[");
  });

  test("unknown command: exit 2 with a did-you-mean on stderr, nothing on stdout", () => {
    const r = runFledge(["trsut", "x"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unknown command 'trsut'");
    expect(r.stderr).toContain("did you mean 'fledge trust'?");
  });

  test("unknown plugins sub-command suggests the close one", () => {
    const r = runFledge(["plugin", "valdate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("did you mean 'fledge plugins validate'?");
  });

  test("unknown flag is a usage error naming the flag", () => {
    const r = runFledge(["trust", "--jsn", "a/b"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--jsn'");
    expect(r.stderr).toContain("'--json'");
  });

  test("usage errors in --json mode print the error envelope on stdout", () => {
    const r = runFledge(["trust", "--json"]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.schema_version).toBe(1);
    expect(out.error.code).toBe("usage");
    expect(out.error.message).toContain("SOURCE");
  });

  test("a group without a sub-command is a usage error", () => {
    const r = runFledge(["plugins"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs a sub-command");
  });

  test("--non-interactive is accepted anywhere before the command's arguments", () => {
    expect(runFledge(["--non-interactive", "--version"]).code).toBe(0);
    expect(runFledge(["plugins", "validate", "--non-interactive", "--help"]).code).toBe(0);
  });
});
