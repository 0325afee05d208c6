/**
 * A slow first prepare is not silent on a terminal: `fledge wasm run` and `fledge wasm
 * prepare` of a large module say what they are doing on stderr (and erase it when
 * done); piped, stderr stays empty; a warm cache shows nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROGRESS_MIN_BYTES } from "../../src/cli/wasm.ts";
import { MAIN, ROOT, runFledge, tempDir } from "../helpers/cli.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";

const t = tempDir("fledge-progress-");
afterAll(() => t.cleanup());
const BIG = join(t.path, "big.wasm");

/** hello.wasm with a custom section appended: a large module that still runs the same. */
function bigModule(): Uint8Array {
  const hello = readFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm"));
  const name = Buffer.from("padding");
  const payload = Buffer.alloc(PROGRESS_MIN_BYTES + 4096, 0x5a);
  const body = Buffer.concat([Buffer.from([name.length]), name, payload]);
  const leb: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    leb.push(b);
  } while (n);
  return new Uint8Array(Buffer.concat([hello, Buffer.from([0, ...leb]), body]));
}

beforeAll(() => writeFileSync(BIG, bigModule()));

const env = (cfg: string): Record<string, string> => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: t.path, FLEDGE_CONFIG_DIR: join(t.path, cfg), TERM: "xterm-256color" });
const onPty = (args: string, cfg: string) => answerOnPty(`${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} ${args}`, { env: env(cfg), cwd: t.path });

describe("progress of a slow first prepare", () => {
  test.skipIf(!SCRIPT)("wasm run on a terminal: shown while preparing and compiling, then erased; not again once cached", async () => {
    const first = await onPty(`wasm run ${JSON.stringify(BIG)}`, "pty-run");
    expect(first.code).toBe(0);
    expect(first.screen).toContain("validating and metering big.wasm (1.0 MiB; first run only, cached for the next)...");
    expect(first.screen).toContain("compiling big.wasm");
    expect(first.screen).toContain("\r\u001b[K");
    expect(first.screen).toContain("hello from wasm");
    const warm = await onPty(`wasm run ${JSON.stringify(BIG)}`, "pty-run");
    expect(warm.code).toBe(0);
    expect(warm.screen).not.toContain("validating");
    expect(warm.screen).not.toContain("compiling");
    expect(warm.screen).toContain("hello from wasm");
  }, 60_000);

  test.skipIf(!SCRIPT)("wasm prepare on a terminal: shown while preparing", async () => {
    const r = await onPty(`wasm prepare ${JSON.stringify(BIG)}`, "pty-prepare");
    expect(r.code).toBe(0);
    expect(r.screen).toContain("validating and metering big.wasm");
    expect(r.screen).toContain("cache written");
  }, 60_000);

  test("piped: nothing on stderr", () => {
    const run = runFledge(["wasm", "run", BIG], { env: { FLEDGE_CONFIG_DIR: join(t.path, "pipe") } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe("hello from wasm\n");
    expect(run.stderr).toBe("");
    const prep = runFledge(["wasm", "prepare", BIG], { env: { FLEDGE_CONFIG_DIR: join(t.path, "pipe2") } });
    expect(prep.code).toBe(0);
    expect(prep.stderr).toBe("");
  }, 60_000);

  test("a small module shows nothing even on a terminal", async () => {
    if (!SCRIPT) return;
    const small = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm");
    const r = await onPty(`wasm run ${JSON.stringify(small)}`, "pty-small");
    expect(r.code).toBe(0);
    expect(r.screen).not.toContain("validating");
    expect(r.screen).toBe("hello from wasm\r\n");
  }, 60_000);
});
