/**
 * The hard half of the deadline (src/wasm/load-watchdog.ts): while a run holds it, a
 * thread of its own ends the process with the run's time-limit message and exit code
 * shortly after the deadline, whatever the main thread is stuck in (synchronous
 * instrumenting, or guest code whose fuel units cost far more than they should). Each
 * case is a real process that holds a run deadline and then keeps its main thread
 * busy in a loop no timer can interrupt, as a runaway guest would.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { HARD_STOP_GRACE_MS } from "../../src/wasm/load-watchdog.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

const dir = tempDir("fledge-hard-deadline-");
afterAll(() => dir.cleanup());

/**
 * A script that (optionally) enables the watchdog as the CLI does, holds a run deadline
 * `deadlineMs` from now with a plugin-style time-limit error, optionally releases it at
 * once, then spins its main thread for `spinMs` and prints "survived".
 */
function script(opts: { enable: boolean; release: boolean; deadlineMs: number; spinMs: number; json?: boolean }): string {
  const file = join(dir.path, `s-${opts.enable}-${opts.release}-${opts.json === true}.ts`);
  writeFileSync(
    file,
    `import { FledgeError } from ${JSON.stringify(join(ROOT, "src/core/index.ts"))};
import { enableHardLoadWatchdog, holdRunDeadline, setHardStopReport } from ${JSON.stringify(join(ROOT, "src/wasm/load-watchdog.ts"))};
if (${opts.enable}) enableHardLoadWatchdog();
if (${opts.json === true}) setHardStopReport((e) => ({ fd: 1, text: JSON.stringify({ error: { code: e.code, message: e.message } }) + "\\n" }));
const err = new FledgeError("Plugin 'spin': time limit reached: the plugin ran past its time limit of 0.1 s", { code: "time_limit", exitCode: ${EXIT.timeLimit}, hint: "raise it: [limits] timeout = SECONDS" });
const release = holdRunDeadline(performance.now() + ${opts.deadlineMs}, err);
if (${opts.release}) release();
const end = performance.now() + ${opts.spinMs};
let x = 0;
while (performance.now() < end) x++;
console.log("survived", x > 0);
`,
  );
  return file;
}

function run(file: string): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync([process.execPath, file], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 60_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir.path, FLEDGE_CONFIG_DIR: join(dir.path, "cfg"), NO_COLOR: "1" } });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

// Spinning this long outlasts the deadline plus the grace by a wide margin.
const SPIN_MS = 100 + HARD_STOP_GRACE_MS + 2_000;

describe("the hard stop holds a run's deadline", () => {
  test("a main thread stuck past the deadline: the run's own message and the time-limit exit code", () => {
    const r = run(script({ enable: true, release: false, deadlineMs: 100, spinMs: 60_000 }));
    expect(r.code).toBe(EXIT.timeLimit);
    expect(r.stderr).toContain("ERROR  Plugin 'spin': time limit reached: the plugin ran past its time limit of 0.1 s");
    expect(r.stderr).toContain("raise it: [limits] timeout = SECONDS");
    expect(r.stdout).not.toContain("survived");
  }, 60_000);

  test("reported as the command reports errors (--json: the envelope on stdout)", () => {
    const r = run(script({ enable: true, release: false, deadlineMs: 100, spinMs: 60_000, json: true }));
    expect(r.code).toBe(EXIT.timeLimit);
    expect(JSON.parse(r.stdout.trim())).toEqual({ error: { code: "time_limit", message: "Plugin 'spin': time limit reached: the plugin ran past its time limit of 0.1 s" } });
    expect(r.stderr).not.toContain("time limit");
  }, 60_000);

  test("released before the deadline: the process goes on and exits on its own", () => {
    const r = run(script({ enable: true, release: true, deadlineMs: 100, spinMs: SPIN_MS }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("survived true");
    expect(r.stderr).not.toContain("time limit");
  }, 60_000);

  test("not enabled (in-process callers, embedders): holding is a no-op", () => {
    const r = run(script({ enable: false, release: false, deadlineMs: 100, spinMs: SPIN_MS }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("survived true");
  }, 60_000);
});
