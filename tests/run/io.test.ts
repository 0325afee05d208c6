/**
 * What a running wasm plugin can do to the terminal and the user: sanitized output
 * (sanitized, src/ui/sanitize.ts), stderr as prefixed log lines, prompts with and without a
 * TTY, and the limits from config.toml.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, shellQuote } from "../helpers/cli.ts";
import { renderUntrusted as shown } from "../../src/ui/sanitize.ts";
import { addPlugin, compat, makeHome, responses, type Home } from "./helpers.ts";

let home: Home;
beforeAll(async () => {
  home = makeHome();
  await addPlugin(home, { name: "sender", runtime: "wasm", protocol: "fledge-v1", commands: { sender: compat("compat-send") } });
  await addPlugin(home, { name: "basic", runtime: "wasm", protocol: "fledge-v1", commands: { basic: compat("compat-basic") } });
});
afterAll(() => home.cleanup());

const ESC = "\u001b";
const OSC52 = `${ESC}]52;c;ZXZpbA==\u0007`;
const TITLE = `${ESC}]0;pwned title${ESC}\\`;
const DCS = `${ESC}P+q544e${ESC}\\`;
const RED = `${ESC}[31mred${ESC}[0m`;
const output = (text: string): string => JSON.stringify({ type: "output", text });

describe("G.4 terminal escapes in plugin output", () => {
  test("protocol output: OSC 52, OSC 0 and DCS are shown escaped, SGR colours kept", async () => {
    const r = await home.run(["sender", output(`a${OSC52}b${TITLE}c${DCS}d ${RED}\n`)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`a${shown(OSC52)}b${shown(TITLE)}c${shown(DCS)}d ${RED}\n`);
  });

  test("an escape split across two output messages is still caught", async () => {
    const r = await home.run(["sender", output(`x${ESC}]52;c;`), output("ZXZpbA==\u0007y\n")]);
    expect(r.stdout).toBe("x\\x1b]52;c;ZXZpbA==\\x07y\n");
  });

  test("WASI stdout goes through the same sanitizer", async () => {
    const r = await home.run(["sender", `stdout:1${OSC52}2${TITLE}3${DCS}4 ${RED}\n`]);
    expect(r.stdout).toBe(`1${shown(OSC52)}2${shown(TITLE)}3${shown(DCS)}4 ${RED}\n`);
  });

  test("WASI stderr: one log line per line, prefixed with the plugin name, sanitized", async () => {
    const r = await home.run(["sender", `stderr:first${OSC52}\nsecond${TITLE}\nno newline`]);
    expect(r.stderr).toContain(`  [sender] first${shown(OSC52)}\n  [sender] second${shown(TITLE)}\n  [sender] no newline\n`);
    expect(r.stderr).not.toContain(`${ESC}]`);
  });

  test("log messages are prefixed and sanitized too", async () => {
    const r = await home.run(["sender", JSON.stringify({ type: "log", level: "warn", message: `careful${OSC52}` })]);
    expect(r.stderr).toContain(`WARN [sender] careful${shown(OSC52)}\n`);
    expect(r.stderr).not.toContain(`${ESC}]`);
  });

  test("a malformed message is warned about and skipped; the run goes on", async () => {
    const r = await home.run(["sender", "{not json", JSON.stringify({ type: "bogus" }), output("still here\n")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("still here\n");
    expect(r.stderr).toContain("[sender]");
  });
});

const PROMPT = JSON.stringify({ type: "prompt", id: "p", message: "Name?" });
const PROMPT_DEFAULT = JSON.stringify({ type: "prompt", id: "p", message: "Name?", default: "anon" });
const CONFIRM = JSON.stringify({ type: "confirm", id: "c", message: "Sure?" });
const SELECT = JSON.stringify({ type: "select", id: "s", message: "Pick", options: ["a", "b", "c"], default: 2 });
const SELECT_NO_DEFAULT = JSON.stringify({ type: "select", id: "s", message: "Pick", options: ["a", "b"] });
const MULTI = JSON.stringify({ type: "multi_select", id: "m", message: "Some", options: ["a", "b", "c"], defaults: [0, 2, 9] });

describe("prompts without a TTY (default answer, or the run fails naming the prompt)", () => {
  test("defaults are used: prompt default, confirm false, select default, multi_select in-range defaults", async () => {
    const r = await home.run(["sender", PROMPT_DEFAULT, CONFIRM, SELECT, MULTI], { stdin: "" });
    expect(r.code).toBe(0);
    expect(responses(r.stdout)).toEqual(["anon", false, "c", ["a", "c"]]);
  });

  test("a prompt without a default fails clearly, naming the question", async () => {
    const r = await home.run(["sender", PROMPT, output("never\n")], { stdin: "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Name?");
    expect(r.stderr).toContain("not a TTY");
  });

  test("a select without a default fails clearly", async () => {
    const r = await home.run(["sender", SELECT_NO_DEFAULT], { stdin: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Pick");
  });

});

/** Run fledge under a pseudo-terminal (util-linux `script`), typing `input`. */
function underPty(args: string[], input: string): { code: number; stdout: string } {
  const cmd = [process.execPath, MAIN, ...args].map(shellQuote).join(" ");
  const p = Bun.spawnSync(["script", "-qfec", cmd, "/dev/null"], {
    cwd: home.project,
    env: { ...home.env, PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", TERM: "dumb" },
    stdin: new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString().replace(/\r/g, "") };
}

describe.skipIf(Bun.which("script") === null)("prompts on a TTY (pseudo-terminal)", () => {
  test("prompt, confirm, select and multi_select are asked and answered through recv", () => {
    const r = underPty(["sender", PROMPT, CONFIRM, SELECT, MULTI], "Ada\ny\n1\n2 3\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("? Name?");
    expect(r.stdout).toContain("? Sure?");
    expect(responses(r.stdout.split("\n").map((l) => l.replace(/^.*?(response: )/, "$1")).join("\n"))).toEqual(["Ada", true, "a", ["b", "c"]]);
  });

  test("--non-interactive: never prompts even on a TTY; the default is used", () => {
    const r = underPty(["--non-interactive", "sender", PROMPT_DEFAULT], "typed\n");
    expect(r.stdout).not.toContain("? Name?");
    expect(responses(r.stdout.split("\n").map((l) => l.replace(/^.*?(response: )/, "$1")).join("\n"))).toEqual(["anon"]);
  });

  test("an empty answer takes the default", () => {
    const r = underPty(["sender", PROMPT_DEFAULT, SELECT], "\n\n");
    expect(responses(r.stdout.split("\n").map((l) => l.replace(/^.*?(response: )/, "$1")).join("\n"))).toEqual(["anon", "c"]);
  });
});

describe("limits from config.toml [limits]", () => {
  /** Run with this config.toml, then remove it again. */
  const withLimits =
    (toml: string): Home["fledge"] =>
    (args, opts = {}) => {
      const file = join(home.config, "config.toml");
      writeFileSync(file, toml);
      try {
        return home.fledge(args, opts);
      } finally {
        rmSync(file, { force: true });
      }
    };

  test("fuel: a spinning plugin stops with the fuel exit code and a hint naming config.toml", () => {
    const r = withLimits("[limits]\nfuel = 5000000\n")(["basic", "--spin"]);
    expect(r.code).toBe(122);
    expect(r.stderr).toContain("Plugin 'basic'");
    expect(r.stderr).toContain("fuel");
    expect(r.stderr).toContain("config.toml");
  });

  test("wall clock: a spinning plugin stops with the time-limit exit code", () => {
    const r = withLimits("[limits]\nfuel = \"none\"\ntimeout = 0.5\n")(["basic", "--spin"]);
    expect(r.code).toBe(124);
    expect(r.stderr).toContain("time limit");
  });

  test("memory: growth past the cap fails inside the plugin", () => {
    const r = withLimits('[limits]\nmemory = "4MiB"\n')(["basic", "--grow"]);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/out of memory after [0-3] MiB/);
  });

  test("memory: a module declaring more than the cap is refused before it runs (exit 123)", () => {
    const r = withLimits("[limits]\nmemory = 65536\n")(["basic"]);
    expect(r.code).toBe(123);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Plugin 'basic': memory limit");
    expect(r.stderr).toContain("config.toml");
  });

  test("a bad [limits] value is a clear error", () => {
    const r = withLimits('[limits]\nmemory = "lots"\n')(["basic"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("memory");
  });
});
