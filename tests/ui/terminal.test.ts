import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, tempDir } from "../helpers/cli.ts";
import { openScreen, TMUX, type Screen } from "../helpers/screen.ts";
import { HELLO_NATIVE, HELLO_WASM, FIXTURES, runFledgeAsync } from "../install/helpers.ts";

/**
 * What a user sees in a real 80-column terminal (tmux as the emulator): help, consent
 * and tables are laid out by fledge at word boundaries, so the terminal never has to
 * break a line (its soft wraps would cut words), answering a question leaves no ghost
 * line, tables line up, and colour appears only on a terminal without NO_COLOR.
 */

const work = tempDir("fledge-terminal-");
const config = join(work.path, "config");
const FLEDGE = `'${process.execPath}' '${MAIN}'`;
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work.path, FLEDGE_CONFIG_DIR: config };
const opened: Screen[] = [];

function open(cmd: string, env: Record<string, string> = {}, cols = 80): Screen {
  const s = openScreen(cmd, { cols, env: { ...baseEnv, ...env }, cwd: work.path });
  opened.push(s);
  return s;
}

/** The terminal broke no line: every row is a line fledge wrote, none wider than the screen. */
function expectNoTerminalWraps(s: Screen, cols = 80): void {
  // (trailing blanks aside: consola pads its error banner to the width)
  const rows = s.screen().map((r) => r.trimEnd());
  expect(s.joined().map((r) => r.trimEnd())).toEqual(rows);
  for (const r of rows) expect(Bun.stringWidth(r)).toBeLessThanOrEqual(cols);
}

/** Every word of `text` is on the screen whole (none cut across two rows). */
function expectWordsWhole(rows: string[], text: string): void {
  const onScreen = new Set(rows.join(" ").split(/\s+/));
  for (const word of text.split(/\s+/).filter((w) => w !== "")) expect(onScreen).toContain(word);
}

beforeAll(async () => {
  if (!TMUX) return;
  for (const args of [
    ["plugins", "install", HELLO_WASM, "--copy", "--yes"],
    ["plugins", "install", HELLO_NATIVE, "--copy", "--yes", "--trust-native"],
  ]) {
    const r = await runFledgeAsync(args, { env: { FLEDGE_CONFIG_DIR: config, HOME: work.path }, cwd: work.path, spawn: true });
    if (r.code !== 0) throw new Error(r.stderr);
  }
}, 120_000);

afterAll(() => {
  for (const s of opened) s.close();
  work.cleanup();
});

describe.skipIf(!TMUX)("at 80 columns", () => {
  test("help wraps at word boundaries: no padding, no mid-word breaks, no blank filler rows", async () => {
    const { default: install } = await import("../../src/cli/plugins-install.ts");
    const description = String((install.meta as { description: string }).description).replace(/\s*Example: .*/, "");
    for (const args of ["plugins --help", "plugins install --help", "wasm run --help", "plugins search --help"]) {
      const s = open(`${FLEDGE} ${args}`);
      expect(await s.exited()).toBe(0);
      expectNoTerminalWraps(s);
      const rows = s.screen();
      // No row is padding: nothing ends in a run of spaces.
      for (const r of rows) expect(r).not.toMatch(/ {3,}$/);
      if (args === "plugins install --help") expectWordsWhole(rows, description);
      s.close();
    }
  }, 60_000);

  test("help on a pipe is plain and 80 columns wide; on the terminal it has colour unless NO_COLOR", async () => {
    const piped = open(`${FLEDGE} plugins --help | cat`);
    expect(await piped.exited()).toBe(0);
    expect(piped.colored().join("\n")).not.toContain("\u001b[");
    const tty = open(`${FLEDGE} plugins --help`);
    expect(await tty.exited()).toBe(0);
    expect(tty.colored().join("\n")).toContain("\u001b[");
    const noColor = open(`${FLEDGE} plugins --help`, { NO_COLOR: "1" });
    expect(await noColor.exited()).toBe(0);
    expect(noColor.colored().join("\n")).not.toMatch(/\u001b\[[0-9;]*[1-9][0-9;]*m/);
  }, 60_000);

  test("the consent text wraps at words, and answering leaves one question line and no ghost", async () => {
    const cfg = join(work.path, "consent-config");
    // The fixture's hooks may write /tmp, which holds this test's home (a grant fledge refuses):
    // a copy whose hooks write one folder inside it.
    const src = join(work.path, "src", "native-hooks");
    cpSync(join(FIXTURES, "native-hooks"), src, { recursive: true });
    mkdirSync(join(work.path, "markers"), { recursive: true });
    const manifest = join(src, "plugin.toml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace('write = ["/tmp"]', `write = ["${join(work.path, "markers")}"]`));
    const s = open(`${FLEDGE} plugins install ${src} --copy`, { FLEDGE_CONFIG_DIR: cfg });
    await s.waitFor("[y/N]");
    s.keys("n", true);
    s.keys("Enter");
    expect(await s.exited()).not.toBe(0); // declined: nothing installed
    expectNoTerminalWraps(s);
    const rows = s.screen();
    const questions = rows.filter((r) => r.includes("[y/N]"));
    expect(questions).toEqual(["Grant these capabilities and approve these hooks? [y/N] n (no)"]);
    // No row is drawn twice (a ghost of the question or of the text above it).
    const text = rows.filter((r) => r.trim() !== "" && !/^\[exit/.test(r));
    expect(new Set(text).size).toBe(text.length);
    expectWordsWhole(rows, "reads system and your home except credentials (~/.ssh, ~/.aws, ~/.config/gh, tokens, histories, browser profiles); project read-only; no network");
  }, 60_000);

  test("plugins list: aligned columns, risk in colour; plain with NO_COLOR and on a pipe", async () => {
    const s = open(`${FLEDGE} plugins list`);
    expect(await s.exited()).toBe(0);
    expectNoTerminalWraps(s);
    const rows = s.screen();
    const header = rows.find((r) => r.startsWith("NAME"))!;
    const tierAt = header.indexOf("TIER");
    const riskAt = header.indexOf("RISK");
    for (const name of ["hello-wasm", "hello-native"]) {
      const row = rows.find((r) => r.startsWith(`${name} `))!;
      expect(row.indexOf("local")).toBe(tierAt);
      expect(row.slice(riskAt)).toMatch(/^(wasm, sandboxed|native, )/);
    }
    const colored = s.colored().join("\n");
    expect(colored).toMatch(/\u001b\[31m(\u001b\[[0-9;]*m)*native, /);
    expect(colored).toMatch(/\u001b\[32m(\u001b\[[0-9;]*m)*wasm, sandboxed/);
    for (const plain of [open(`${FLEDGE} plugins list`, { NO_COLOR: "1" }), open(`${FLEDGE} plugins list | cat`)]) {
      expect(await plain.exited()).toBe(0);
      expect(plain.colored().join("\n")).not.toMatch(/\u001b\[3[0-9]m/);
    }
  }, 60_000);

  test("audit and trust wrap to the terminal, tier in colour", async () => {
    const audit = open(`${FLEDGE} plugins audit`);
    expect(await audit.exited()).toBe(0);
    expectNoTerminalWraps(audit);
    expect(audit.colored().join("\n")).toMatch(/\u001b\[31m(\u001b\[[0-9;]*m)*\(native, /);
    const trust = open(`${FLEDGE} trust someone/some-plugin-with-a-long-name`, {}, 60);
    expect(await trust.exited()).toBe(0);
    expectNoTerminalWraps(trust, 60);
    expect(trust.screen()[0]).toStartWith("unverified: ");
    expect(trust.colored().join("\n")).toContain("\u001b[33munverified");
  }, 60_000);
});

test("the screen helper sees a terminal wrap when a line is too long (the check is real)", async () => {
  if (!TMUX) return;
  const s = open(`printf '%0100d\\n' 0`);
  await s.exited();
  expect(s.joined().length).toBeLessThan(s.screen().length);
}, 30_000);
