/**
 * Prompts answered on a real terminal: the harness runs under `script` (util-linux),
 * which gives it a pty; the test types an answer each time a question appears.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

const FIXTURES = join(ROOT, "tests", "fixtures", "host");
const hasScript = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0 && process.platform === "linux";

let dir: { path: string; cleanup: () => void };
let base: string;
beforeAll(() => {
  dir = tempDir("fledge-tty-");
  base = realpathSync(dir.path);
  for (const d of ["project", "plugin", "bin"]) mkdirSync(join(base, d));
  symlinkSync(process.execPath, join(base, "bin", "bun"));
});
afterAll(() => dir.cleanup());

/** Run `inner` (a shell command) on a pty, typing each answer once its question fragment shows. */
async function drive(inner: string, answers: Array<[string, string]>): Promise<{ code: number; screen: string }> {
  const p = Bun.spawn(["script", "-qfec", inner, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "dumb", HOME: base },
  });
  let screen = "";
  const pending = [...answers];
  const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    screen += new TextDecoder().decode(value);
    const next = pending[0];
    if (next && screen.includes(next[0])) {
      pending.shift();
      screen += "\n--typed--\n";
      p.stdin.write(next[1]);
      p.stdin.flush();
    }
  }
  return { code: await p.exited, screen };
}

/** Run the `ask` scenario on a pty; `answers` maps a question fragment to what to type. */
async function onTty(answers: Array<[string, string]>): Promise<{ code: number; screen: string; stdout: string }> {
  const cfg = {
    entry: { name: "demo", dir: join(base, "plugin"), version: "1.0.0", protocol: "fledge-v1", capabilities: NO_CAPABILITIES },
    binaryPath: join(FIXTURES, "plugin.ts"),
    args: ["ask"],
    projectRoot: join(base, "project"),
    stateFile: join(base, "state.json"),
    env: { PATH: `${join(base, "bin")}:/usr/bin:/bin` },
    cancelGraceMs: 200,
  };
  const outFile = join(base, `stdout-${answers.length}-${Math.random()}`);
  const inner = `'${process.execPath}' '${join(FIXTURES, "run-native.ts")}' '${JSON.stringify(cfg)}' > '${outFile}'`;
  const { code, screen } = await drive(inner, answers);
  return { code, screen, stdout: readFileSync(outFile, "utf8") };
}

describe.skipIf(!hasScript)("prompts on a TTY", () => {
  test("prompt (with validation retry), confirm and select are answered by the user", async () => {
    const r = await onTty([
      ["How many?", "abc\r"],
      ["Must be an integer", "12\r"],
      ["Proceed? [y/N]", "y\r"],
      ["Choose 1-3 (1)", "3\r"],
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'RESP p {"type":"response","id":"p","value":"12"}',
        'RESP c {"type":"response","id":"c","value":true}',
        'RESP s {"type":"response","id":"s","value":"three"}',
        "",
      ].join("\n"),
    );
  }, 30_000);

  test("Ctrl+C inside a prompt cancels the run: the plugin gets cancel", async () => {
    const r = await onTty([["How many?", "\u0003"]]);
    expect(r.stdout).toContain('RESP p {"type":"cancel","reason":"user_interrupt"}');
    // The question fails closed and the run stops as Ctrl+C does: exit 130, saying so
    // (not the cancel grace's SIGTERM, 143, after seconds of silence).
    expect(r.code).toBe(130);
    expect(r.screen).toContain("Plugin 'demo' stopped: interrupted (Ctrl+C) at its prompt");
    expect(r.stdout).not.toContain('RESP c');
  }, 30_000);

  test("the synchronous driver (wasm path) reads the TTY directly", async () => {
    const out = join(base, "sync-answers.json");
    const r = await drive(`'${process.execPath}' '${join(FIXTURES, "ask-sync.ts")}' '${out}'`, [
      ["Port? (80)", "http\r"],
      ["Must be an integer", "8080\r"],
      ["Choose numbers", "3 1\r"],
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual(["8080", ["z", "x"]]);
  }, 30_000);
});
