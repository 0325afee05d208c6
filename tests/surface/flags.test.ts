/**
 * Global flags as the original spells them: `--ni` (alias of --non-interactive),
 * `--json` before the sub-command (`fledge plugins --json list`), FLEDGE_NON_INTERACTIVE
 * values y/true/yes/on/1 in any case with blanks, and `create -y`.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { envFlag } from "../../src/ui/index.ts";
import { MAIN, runFledgeInProcess, shellQuote as sh } from "../helpers/cli.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { baseEnv, nativePlugin, readReg, sandbox } from "../install/helpers.ts";

setDefaultTimeout(60_000);
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe("FLEDGE_NON_INTERACTIVE values", () => {
  test.each(["1", "y", "Y", "true", "TRUE", "yes", " Yes ", "on", "ON\t", " y\n"])("%j means never prompt", (v) => {
    expect(envFlag("FLEDGE_NON_INTERACTIVE", { FLEDGE_NON_INTERACTIVE: v })).toBe(true);
  });
  test.each(["", "0", "no", "false", "off", "n", "yess", "t"])("%j does not", (v) => {
    expect(envFlag("FLEDGE_NON_INTERACTIVE", { FLEDGE_NON_INTERACTIVE: v })).toBe(false);
  });
});

describe.skipIf(!SCRIPT)("on a real terminal, the non-interactive switches stop the consent question", () => {
  async function installOnPty(extraArgs: string[], env: Record<string, string>): Promise<{ code: number; screen: string }> {
    const plugin = nativePlugin(join(sb.root, "p"), { name: "nat" });
    const cmd = `${[process.execPath, MAIN, ...extraArgs, "plugins", "install", plugin].map(sh).join(" ")}; echo "EXIT=$?"`;
    // answer: null closes the input if a question shows (a "no"); a refusal never shows one.
    const { screen } = await answerOnPty(cmd, { env: baseEnv({ ...sb.env, ...env }), cwd: sb.root, answer: null });
    const m = /EXIT=(\d+)/.exec(screen);
    return { code: m ? Number(m[1]) : -1, screen };
  }

  test("FLEDGE_NON_INTERACTIVE=' Y ' refuses without asking, naming the flag", async () => {
    const r = await installOnPty([], { FLEDGE_NON_INTERACTIVE: " Y " });
    expect(r.code).toBe(1);
    expect(r.screen).not.toContain("[y/N]");
    expect(r.screen).toContain("--trust-native");
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("--ni before the command does the same", async () => {
    const r = await installOnPty(["--ni"], {});
    expect(r.code).toBe(1);
    expect(r.screen).not.toContain("[y/N]");
    expect(r.screen).toContain("cannot ask");
  });

  test("without them the question is asked (and closing the input is a no)", async () => {
    const r = await installOnPty([], { FLEDGE_NON_INTERACTIVE: "0" });
    expect(r.screen).toContain("[y/N]");
    expect(r.code).toBe(1);
  });
});

describe("--ni and --json placement", () => {
  test("--ni is accepted before and after the sub-command", async () => {
    expect((await runFledgeInProcess(["--ni", "plugins", "list"], { env: sb.env })).code).toBe(0);
    expect((await runFledgeInProcess(["plugins", "list", "--ni"], { env: sb.env })).code).toBe(0);
    expect((await runFledgeInProcess(["plugins", "--ni", "list"], { env: sb.env })).code).toBe(0);
  });

  test("fledge plugins --json list prints the list envelope", async () => {
    const r = await runFledgeInProcess(["plugins", "--json", "list"], { env: sb.env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ schema_version: 1, plugins: [] });
  });

  test("fledge plugin --json audit (alias) and a usage error in JSON", async () => {
    const a = await runFledgeInProcess(["plugin", "--json", "audit"], { env: sb.env });
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout).audit).toEqual([]);
    const bad = await runFledgeInProcess(["plugins", "--json", "remove", "nope"], { env: sb.env });
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.stdout).error.code).toBeString();
  });

  test("--json before the group name stays an error at the root", async () => {
    const r = await runFledgeInProcess(["--json", "plugins", "list"], { env: sb.env });
    expect(r.code).toBe(2);
  });
});

describe("create -y", () => {
  test("-y and --yes are accepted and create the scaffold", async () => {
    const r = await runFledgeInProcess(["plugins", "create", "demo", "-y", "-o", sb.root, "--json"], { env: sb.env });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.action).toBe("create");
    expect(existsSync(join(sb.root, "demo", "plugin.toml"))).toBe(true);
    expect((await runFledgeInProcess(["plugins", "create", "demo2", "--yes", "-o", sb.root], { env: sb.env })).code).toBe(0);
  });
});
