/**
 * Hostile arguments to `fledge::send`, the plugin ABI import
 * (src/host/wasm-imports.ts). `fledge wasm run` links WASI only, so this row goes through
 * the real plugin path: our guest tests/fixtures/wasi/sendprobe.wat is installed as
 * a local wasm plugin into a temp config dir and run as `fledge sendprobe case-...`.
 *
 * Expected for each bad call: an error naming `send` and the problem, an ordinary
 * exit status, no JS stack trace. Malformed or unknown messages may be skipped with a
 * warning (the run then continues and prints "survived").
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFledge, tempDir, type RunResult } from "../helpers/cli.ts";
import { GUESTS, QUIET_BUN } from "../fixtures/wasi/support.ts";

const CRASH = /RangeError|TypeError|Uncaught|at .*\.ts:\d+:\d+|panic/;

let tmp: { path: string; cleanup: () => void };
let env: Record<string, string>;
let install: RunResult;

function run(...args: string[]): RunResult {
  return runFledge(args, { env, timeoutMs: 30_000 });
}

beforeAll(() => {
  tmp = tempDir("fledge-wasi-send-");
  const root = realpathSync(tmp.path);
  const plug = join(root, "sendprobe");
  mkdirSync(plug);
  copyFileSync(join(GUESTS, "sendprobe.wasm"), join(plug, "sendprobe.wasm"));
  writeFileSync(
    join(plug, "plugin.toml"),
    [
      "[plugin]",
      'name = "sendprobe"',
      'version = "1.0.0"',
      'description = "E.6 probe"',
      'author = "fledge tests"',
      'protocol = "fledge-v1"',
      'runtime = "wasm"',
      "",
      "[[commands]]",
      'name = "sendprobe"',
      'binary = "sendprobe.wasm"',
      "",
    ].join("\n"),
  );
  env = { ...QUIET_BUN, HOME: root, FLEDGE_CONFIG_DIR: join(root, "config"), FLEDGE_NON_INTERACTIVE: "1" };
  install = run("plugins", "install", plug, "--copy", "-y");
});
afterAll(() => tmp.cleanup());

describe("E.6: fledge::send with hostile arguments", () => {
  test("the probe plugin installs and runs normally", () => {
    expect(install.code, install.stderr).toBe(0);
    const r = run("sendprobe", "baseline");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("survived\n");
  });

  const fatal: [string, string, RegExp][] = [
    ["case-huge", "a 100 MiB length is refused before reading", /send: .*(exceed|limit|too large)/i],
    ["case-oob", "a pointer/length crossing the end of memory", /send: .*out[- ]of[- ]bounds/i],
    ["case-neg", "a negative pointer", /send: .*negative/i],
    ["case-utf8", "invalid UTF-8", /send: .*UTF-8/i],
  ];
  for (const [c, title, message] of fatal) {
    test(`E.6 ${title}: reported naming send, no crash`, () => {
      const r = run("sendprobe", c);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(CRASH);
      expect([0, 1]).toContain(r.code);
    });
  }

  const skipped: [string, string, RegExp][] = [
    ["case-malformed", "malformed JSON", /send: .*malformed JSON/i],
    ["case-unknown", "an unknown message type", /send: .*unknown message type/i],
  ];
  for (const [c, title, message] of skipped) {
    test(`E.6 ${title}: reported naming send, fledge stays responsive`, () => {
      const r = run("sendprobe", c);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(CRASH);
      expect([0, 1]).toContain(r.code);
      // If fledge kept the run going, the next (valid) message still arrives.
      if (r.code === 0) expect(r.stdout).toBe("survived\n");
    });
  }
});
