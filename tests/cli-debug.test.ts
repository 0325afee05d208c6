import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { FledgeError } from "../src/core/index.ts";
import { stackReport } from "../src/cli/index.ts";
import { runFledge, tempDir } from "./helpers/cli.ts";

// An unexpected error keeps its stack for --debug / FLEDGE_DEBUG, and a FledgeError
// keeps the error it explains (`cause`); without the switch neither is shown.
const t = tempDir("fledge-debug-");
afterAll(() => t.cleanup());
const cfg = join(t.path, "cfg");
mkdirSync(join(cfg, "plugins.toml"), { recursive: true }); // a folder where the registry file belongs: a filesystem error
const env = { FLEDGE_CONFIG_DIR: cfg, HOME: t.path };
const STACK_LINE = /^\s+at /m;

describe("FledgeError keeps its cause", () => {
  test("cause is kept and the stack report walks it", () => {
    const root = new Error("the disk said no");
    const err = new FledgeError("cannot read the registry", { code: "filesystem", cause: root });
    expect(err.cause).toBe(root);
    const report = stackReport(err);
    expect(report).toContain("FledgeError: cannot read the registry");
    expect(report).toContain("caused by: Error: the disk said no");
    expect(report).toMatch(STACK_LINE);
  });

  test("a cause cycle ends", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(stackReport(a).split("caused by:")).toHaveLength(2);
  });
});

describe("--debug and FLEDGE_DEBUG", () => {
  test("without them: message and hint only, no stack", () => {
    const r = runFledge(["plugins", "list"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("plugins.toml");
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  test("--debug prints the stack and what caused it on stderr", () => {
    const r = runFledge(["--debug", "plugins", "list"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(STACK_LINE);
    expect(r.stderr).toContain("caused by:");
  });

  test("--debug after the sub-command works too; FLEDGE_DEBUG=1 the same", () => {
    expect(runFledge(["plugins", "list", "--debug"], { env }).stderr).toMatch(STACK_LINE);
    expect(runFledge(["plugins", "list"], { env: { ...env, FLEDGE_DEBUG: "1" } }).stderr).toMatch(STACK_LINE);
  });

  test("with --json, stdout stays one JSON envelope", () => {
    const r = runFledge(["plugins", "list", "--json", "--debug"], { env });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toMatch(/filesystem|io_error/);
    expect(r.stderr).toMatch(STACK_LINE);
  });
});
