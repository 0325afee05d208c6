/**
 * The watchdog thread's stops (memory guard, deadline hard stop) end the process
 * whatever its output does: here stderr is a pipe that is already full and whose reader
 * never reads (a consumer that stopped), so any blocking write of the report would
 * hang the thread, and with it both stops. The report is lost then; the exit code is
 * not. Each case is a real process writing its stderr to such a pipe.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { HOST_MEMORY_ALLOWANCE } from "../../src/wasm/memory-guard.ts";
import { MAIN, ROOT, tempDir } from "../helpers/cli.ts";
import { addsModule } from "../helpers/loop-modules.ts";
import { spawnMeasured } from "../helpers/peak-rss.ts";

const dir = tempDir("fledge-stop-full-pipe-");
const MiB = 2 ** 20;
// As in memory-guard.test.ts: one sample interval of the fastest allocation, and the thread's wake-up.
const SLACK = 64 * MiB;
const ADDS = join(dir.path, "adds.wasm");
const open: number[] = [];

beforeAll(() => writeFileSync(ADDS, addsModule()));
afterAll(() => {
  for (const fd of open) closeSync(fd);
  dir.cleanup();
});

let n = 0;
/**
 * A FIFO whose reader is open but never reads, filled to the brim through a
 * non-blocking opening of its own; returns a blocking write end (a separate open
 * file, as a shell's `2>pipe` would give) for the child's stderr.
 */
function fullPipe(): number {
  const path = join(dir.path, `fifo-${n++}`);
  expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const filler = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const chunk = Buffer.alloc(64 * 1024, 120);
  try {
    for (;;) writeSync(filler, chunk);
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe("EAGAIN");
  }
  const writer = openSync(path, constants.O_WRONLY);
  open.push(reader, filler, writer);
  return writer;
}

function spawn(argv: string[]): { code: number; peak: number } {
  const home = join(dir.path, `home-${n++}`);
  // A stop that blocked would hang until the timeout kills the child (no exit code then).
  const r = spawnMeasured(argv, {
    cwd: ROOT,
    stderr: fullPipe(),
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, "cfg"), NO_COLOR: "1" },
  });
  return { code: r.code, peak: r.peak };
}

function script(name: string, body: string): string {
  const file = join(dir.path, name);
  writeFileSync(file, body);
  return file;
}

describe("stderr is a full pipe nobody reads", () => {
  test("the memory guard still ends a loading run with 123, within its limit", () => {
    const r = spawn([process.execPath, MAIN, "wasm", "run", "--no-cache", "--max-memory", "1MiB", ADDS]);
    expect(r.code).toBe(EXIT.memoryLimit);
    expect(r.peak).toBeLessThanOrEqual(MiB + HOST_MEMORY_ALLOWANCE + SLACK);
  }, 90_000);

  test("the memory guard's stop while running: 123", () => {
    const file = script(
      "hold-memory.ts",
      `import { enableHardLoadWatchdog } from ${JSON.stringify(join(ROOT, "src/wasm/load-watchdog.ts"))};
import { holdRunMemory, memoryGuardError } from ${JSON.stringify(join(ROOT, "src/wasm/memory-guard.ts"))};
enableHardLoadWatchdog();
holdRunMemory(${MiB}, (phase) => memoryGuardError(${MiB}, phase)).started();
await Bun.sleep(100);
const kept = [];
for (let i = 0; i < 48; i++) kept.push(new Uint8Array(16 * 2 ** 20).fill(1));
console.log("survived", kept.length);
`,
    );
    const r = spawn([process.execPath, file]);
    expect(r.code).toBe(EXIT.memoryLimit);
    expect(r.peak).toBeLessThanOrEqual(MiB + HOST_MEMORY_ALLOWANCE + SLACK);
  }, 90_000);

  test("the deadline's hard stop still ends a stuck main thread with 124", () => {
    const file = script(
      "hold-deadline.ts",
      `import { FledgeError } from ${JSON.stringify(join(ROOT, "src/core/index.ts"))};
import { enableHardLoadWatchdog, holdRunDeadline } from ${JSON.stringify(join(ROOT, "src/wasm/load-watchdog.ts"))};
enableHardLoadWatchdog();
holdRunDeadline(performance.now() + 100, new FledgeError("time limit reached", { code: "time_limit", exitCode: ${EXIT.timeLimit} }));
const end = performance.now() + 25_000;
let x = 0;
while (performance.now() < end) x++;
console.log("survived", x > 0);
`,
    );
    const r = spawn([process.execPath, file]);
    expect(r.code).toBe(EXIT.timeLimit);
  }, 90_000);
});
