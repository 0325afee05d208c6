/**
 * A guest flooding fledge with output that the host must process (sanitize, escape,
 * prefix) cannot make fledge exceed the documented bounds: peak RSS ≤ max-memory +
 * 256 MiB, and the run ends at the deadline (exit 124) or on fuel (122).
 *
 * How an attacker tries: one huge fd_write of control bytes (each shown as 4
 * characters), ESC sequences, newlines only (millions of prefixed lines), one line
 * without end; on stdout and stderr; through `fledge wasm run` on a terminal and
 * piped, and as a plugin (stdout, stderr and a `send` log message). And a terminal
 * whose reader stopped reading (a paused `script … | sleep`), which must not hold
 * fledge past the deadline.
 *
 * Guests: tests/fixtures/wat/output-flood/*.wat (each writes 8 MiB per call, forever).
 * Peak RSS is GNU time's %M of the fledge process (util `time`, scripts/setup.sh).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, ROOT, shellQuote as shq } from "../helpers/cli.ts";
import { baseEnv } from "../install/helpers.ts";
import { addPlugin, makeHome, type Home } from "./helpers.ts";

setDefaultTimeout(90_000);
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;
const SCRIPT = Bun.which("script");
const GUESTS = join(ROOT, "tests", "fixtures", "wat", "output-flood");
const guest = (name: string): string => join(GUESTS, `${name}.wasm`);

const MAX_MEMORY_MIB = 20;
/** The documented bound: peak RSS ≤ max-memory + 256 MiB (in KiB, GNU time's unit). */
const RSS_BOUND_KIB = (MAX_MEMORY_MIB + 256) * 1024;
/** Deadline (124) or fuel (122): either is a bounded end; 0 would mean the flood was not stopped. */
const BOUNDED_END = [122, 124];

let home: Home;
beforeAll(async () => {
  home = makeHome("fledge-flood-");
  const commands: Record<string, { file: string }> = {};
  for (const g of ["ctl-stdout", "ctl-stderr", "esc-stdout", "esc-stderr", "nl-stderr", "line-stdout", "line-stderr", "log-lines", "log-text"]) commands[g] = { file: guest(g) };
  await addPlugin(home, { name: "flood", runtime: "wasm", protocol: "fledge-v1", commands });
  writeFileSync(join(home.config, "config.toml"), `[limits]\nmemory = "${MAX_MEMORY_MIB}MiB"\ntimeout = 1\n`);
});
afterAll(() => home.cleanup());

interface Measured {
  code: number;
  peakKiB: number;
  outBytes: number;
}

/** Run `fledge …args` under GNU time (optionally on a pty via `script`), draining its output. */
async function measure(args: string[], pty: boolean): Promise<Measured> {
  const timeFile = join(home.root, `time-${Math.random().toString(36).slice(2)}`);
  const cmd = [TIME!, "-o", timeFile, "-f", "%M", process.execPath, MAIN, ...args];
  const argv = pty ? [SCRIPT!, "-qefc", cmd.map(shq).join(" "), "/dev/null"] : cmd;
  const proc = Bun.spawn(argv, { env: baseEnv({ ...home.env, TERM: "xterm-256color" }), cwd: home.project, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  let outBytes = 0;
  const drain = async (s: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const c of s) outBytes += c.length;
  };
  const [, , code] = await Promise.all([drain(proc.stdout), drain(proc.stderr), proc.exited]);
  clearTimeout(killer);
  // GNU time writes "Command exited with non-zero status N" before the value.
  const lines = readFileSync(timeFile, "utf8").trim().split("\n");
  return { code, peakKiB: Number(lines[lines.length - 1]), outBytes };
}

function expectBounded(r: Measured): void {
  if (process.env.FLOOD_REPORT) console.error(`RSS ${r.peakKiB} KiB, exit ${r.code}`);
  expect(BOUNDED_END).toContain(r.code);
  expect(r.peakKiB).toBeGreaterThan(0);
  expect(r.peakKiB).toBeLessThan(RSS_BOUND_KIB);
}

const wasmRun = (g: string): string[] => ["wasm", "run", "--timeout", "1", "--max-memory", `${MAX_MEMORY_MIB}MiB`, guest(g)];

describe.skipIf(!TIME || !SCRIPT)("fledge wasm run on a terminal (output sanitized)", () => {
  for (const g of ["ctl-stdout", "ctl-stderr", "esc-stdout", "esc-stderr", "nl-stderr", "line-stdout"]) {
    test(`${g}: peak RSS under the bound, ends at the deadline`, async () => {
      const r = await measure(wasmRun(g), true);
      expectBounded(r);
      expect(r.outBytes).toBeGreaterThan(0);
    });
  }
});

describe.skipIf(!TIME)("fledge wasm run piped (output passed as data)", () => {
  for (const g of ["ctl-stdout", "nl-stderr"]) {
    test(`${g}: peak RSS under the bound, ends at the deadline`, async () => {
      expectBounded(await measure(wasmRun(g), false));
    });
  }
});

describe.skipIf(!TIME)("a wasm plugin's output (no terminal needed)", () => {
  for (const g of ["ctl-stdout", "ctl-stderr", "esc-stdout", "esc-stderr", "nl-stderr", "line-stdout", "line-stderr", "log-lines", "log-text"]) {
    test(`${g}: peak RSS under the bound, ends at the deadline`, async () => {
      const r = await measure([g], false);
      expectBounded(r);
      expect(r.outBytes).toBeGreaterThan(0);
    });
  }
});

describe.skipIf(!SCRIPT)("a terminal nobody reads", () => {
  test("guest output to a stalled terminal does not hold fledge past the deadline", async () => {
    const rcFile = join(home.root, "stalled-rc");
    const sleepPid = join(home.root, "stalled-reader");
    const run = `${[process.execPath, MAIN, ...wasmRun("line-stdout")].map(shq).join(" ")}; echo $? > ${shq(rcFile)}`;
    // The reader of script's output sleeps instead of reading: script stops draining
    // the pty, the pty fills, and fledge's writes to the terminal would block.
    const pipeline = `${shq(SCRIPT!)} -qfc ${shq(run)} /dev/null | { sleep 90 & echo $! > ${shq(sleepPid)}; wait; }`;
    const proc = Bun.spawn(["sh", "-c", pipeline], { env: baseEnv({ ...home.env, TERM: "xterm-256color" }), cwd: home.project, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const done = (): boolean => existsSync(rcFile) && readFileSync(rcFile, "utf8").endsWith("\n");
    let waited = 0;
    while (!done() && waited < 60_000) {
      await Bun.sleep(200);
      waited += 200;
    }
    const ended = done();
    // Let the pipeline go: the sleeping reader ends, script and sh with it.
    if (existsSync(sleepPid)) process.kill(Number(readFileSync(sleepPid, "utf8").trim()), "SIGKILL");
    await proc.exited;
    expect(ended).toBe(true);
    expect(readFileSync(rcFile, "utf8").trim()).toBe("124");
  });
});
