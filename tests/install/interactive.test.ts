/**
 * Consent on a real terminal: `script` gives fledge a pty, so canPrompt() is true and
 * the native-risk question is asked. Skipped where util-linux `script` is missing.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { HELLO_NATIVE, baseEnv, pluginsState, readReg, sandbox } from "./helpers.ts";

setDefaultTimeout(60_000);
const SCRIPT = Bun.which("script");
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
  const proc = Bun.spawn([SCRIPT!, "-qfec", cmd, "/dev/null"], { env: baseEnv(sb.env), cwd: sb.root, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let output = "";
  let typed = false;
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    output += decoder.decode(value, { stream: true });
    if (!typed && output.includes("[y/N]")) {
      typed = true;
      proc.stdin.write(`${answer}\r`);
      await proc.stdin.flush();
    }
  }
  const code = await proc.exited;
  proc.stdin.end();
  return { code, output };
}

describe.skipIf(!SCRIPT)("interactive consent", () => {
  test("declining the native-risk question cancels and leaves nothing", async () => {
    const r = await onTerminal("n");
    expect(r.output).toContain("runs unsandboxed as an ordinary program");
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
