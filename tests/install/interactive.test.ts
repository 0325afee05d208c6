/**
 * Consent on a real terminal: `script` gives fledge a pty, so canPrompt() is true and
 * the native-risk question is asked. Skipped where util-linux `script` is missing.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { HELLO_NATIVE, baseEnv, pluginsState, readReg, sandbox } from "./helpers.ts";

setDefaultTimeout(60_000);
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

/**
 * Run `fledge install` on a pty, typing `answer` + Enter once the question is on screen
 * (keys typed before it are discarded as typeahead: see prompt-pty.test.ts).
 */
async function onTerminal(answer: string): Promise<{ code: number; output: string }> {
  const cmd = `${process.execPath} ${MAIN} plugins install ${HELLO_NATIVE}`;
  const r = await answerOnPty(cmd, { env: baseEnv(sb.env), cwd: sb.root, answer: `${answer}\r` });
  return { code: r.code, output: r.screen };
}

describe.skipIf(!SCRIPT)("interactive consent", () => {
  test("declining the native-risk question cancels and leaves nothing", async () => {
    const r = await onTerminal("n");
    // Confined where the kernel has Landlock, unsandboxed elsewhere: either way the risk is shown.
    expect(r.output).toMatch(/runs unsandboxed as an ordinary program|runs as an ordinary program, confined by the kernel/);
    expect(r.code).toBe(1);
    expect(r.output).toContain("native plugin not approved");
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
  });

  test("answering yes on the terminal installs without --trust-native", async () => {
    const r = await onTerminal("y");
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["hello-native"]);
    expect(existsSync(join(sb.config, "plugins/bin/fledge-hello-native"))).toBe(true);
  });
});
