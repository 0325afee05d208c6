/**
 * The memory guard (src/wasm/memory-guard.ts): in the CLI, fledge's whole process stays
 * under the run's memory limit plus HOST_MEMORY_ALLOWANCE while it loads and runs a
 * module. Each case is a real fledge process; the hostile modules are generated
 * (tests/helpers/loop-modules.ts): code made of tiny loops, whose instrumenting and
 * compiling take memory that grows with the module (without the guard, ~1 GB for the
 * runs below), far past `--max-memory 1MiB` plus the allowance. The child's peak RSS
 * is its own rusage, taken by a small launcher (tests/helpers/peak-rss.ts says why).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/index.ts";
import { HOST_MEMORY_ALLOWANCE } from "../../src/wasm/memory-guard.ts";
import { MAIN, ROOT, tempDir } from "../helpers/cli.ts";
import { addsModule, emptyBlocksModule, SLEEPER } from "../helpers/loop-modules.ts";
import { spawnMeasured } from "../helpers/peak-rss.ts";

const dir = tempDir("fledge-memory-guard-");
afterAll(() => dir.cleanup());

const MiB = 2 ** 20;
/**
 * How far past its limit the process may get before the stop: one sample interval
 * (5 ms) of the fastest allocation measured (the engine's compile) plus the thread's
 * wake-up and the report; measured 1-22 MiB on a loaded 2-core machine.
 */
const SLACK = 64 * MiB;
const LIMIT = 1 * MiB + HOST_MEMORY_ALLOWANCE;

// An accepted module whose compile takes ~1 GB, and one whose preparing alone (the
// engine's validation of it) takes ~880 MB.
const ADDS = join(dir.path, "adds.wasm");
const EMPTY = join(dir.path, "empty-blocks.wasm");
const SLEEP = join(dir.path, "sleep.wasm");

beforeAll(() => {
  writeFileSync(ADDS, addsModule());
  writeFileSync(EMPTY, emptyBlocksModule());
  writeFileSync(SLEEP, SLEEPER);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak RSS of the child, in bytes. */
  peak: number;
}

let n = 0;
/** A fledge child with its own HOME and config folder (`config` written as config.toml first). */
function fledge(args: string[], home = join(dir.path, `home-${n++}`), config?: string): Run & { home: string } {
  mkdirSync(join(home, "cfg"), { recursive: true });
  if (config !== undefined) writeFileSync(join(home, "cfg", "config.toml"), config);
  const r = spawnMeasured([process.execPath, MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, "cfg"), NO_COLOR: "1" },
  });
  return { ...r, home };
}

function expectStoppedWithin(r: Run, limit: number): void {
  expect(r.code).toBe(EXIT.memoryLimit);
  expect(r.peak).toBeLessThanOrEqual(limit + SLACK);
}

describe("loading a module that passes the limit ends the run", () => {
  test("wasm run: exit 123, what happened and the flag to raise, within the limit", () => {
    const r = fledge(["wasm", "run", "--no-cache", "--max-memory", "1MiB", ADDS]);
    expectStoppedWithin(r, LIMIT);
    expect(r.stderr).toContain("ERROR  memory limit: fledge's memory passed 1 MiB (--max-memory) + 512 MiB for its own work while loading the module");
    expect(r.stderr).toContain("--max-memory SIZE");
    expect(r.stdout).toBe("");
  }, 120_000);

  test("wasm prepare: the same stop", () => {
    const r = fledge(["wasm", "prepare", "--max-memory", "1MiB", EMPTY]);
    expectStoppedWithin(r, LIMIT);
    expect(r.stderr).toContain("memory limit: fledge's memory passed 1 MiB (--max-memory) + 512 MiB for its own work while loading the module");
    expect(r.stdout).toBe("");
  }, 120_000);

  test("--json: the error envelope on stdout and nothing else", () => {
    const r = fledge(["wasm", "prepare", "--json", "--max-memory", "1MiB", EMPTY]);
    expectStoppedWithin(r, LIMIT);
    const env = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
    expect(env.error.code).toBe("memory_limit");
    expect(env.error.message).toBe("memory limit: fledge's memory passed 1 MiB (--max-memory) + 512 MiB for its own work while loading the module");
    expect(env.error.hint).toContain("--max-memory");
    expect(r.stderr).not.toContain("memory limit");
  }, 120_000);
});

/** A local wasm plugin `name` whose one command is `module`. */
function pluginDir(name: string, module: string): string {
  const d = join(dir.path, `src-${name}`);
  mkdirSync(d, { recursive: true });
  cpSync(module, join(d, "hog.wasm"));
  const toml = readFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "plugin.toml"), "utf8")
    .replace(/^name = "hello-wasm"$/gm, `name = "${name}"`)
    .replace('binary = "hello.wasm"', 'binary = "hog.wasm"');
  writeFileSync(join(d, "plugin.toml"), toml);
  return d;
}

describe("plugins", () => {
  test("a plugin run: names the plugin and [limits] memory", () => {
    // Installed under the default limits (its prepare fits), run under [limits] memory = "1MiB".
    const inst = fledge(["plugins", "install", pluginDir("hog", ADDS), "--copy", "--yes"]);
    expect(inst.stderr).not.toContain("memory limit");
    expect(inst.code).toBe(0);
    writeFileSync(join(inst.home, "cfg", "config.toml"), '[limits]\nmemory = "1MiB"\n');
    const r = fledge(["hog"], inst.home);
    expectStoppedWithin(r, LIMIT);
    expect(r.stderr).toContain("ERROR  Plugin 'hog': memory limit: fledge's memory passed 1 MiB ([limits] memory) + 512 MiB for its own work while loading the plugin");
    expect(r.stderr).toContain(`${join(inst.home, "cfg", "config.toml")}: [limits] memory`);
  }, 120_000);

  test("install: preparing the command's module is held to [limits] memory too", () => {
    const r = fledge(["plugins", "install", pluginDir("hog-empty", EMPTY), "--copy", "--yes"], undefined, '[limits]\nmemory = "1MiB"\n');
    expectStoppedWithin(r, LIMIT);
    expect(r.stderr).toContain("memory limit: fledge's memory passed 1 MiB ([limits] memory) + 512 MiB for its own work while loading command 'hog-empty' (hog.wasm)");
    expect(r.stderr).toContain("[limits] memory");
    // The stop ends the process inside the install's commit: the next command rolls it back, as after a crash.
    const list = fledge(["plugins", "list", "--json"], r.home);
    expect(list.stdout).not.toContain("hog-empty");
    expect(existsSync(join(r.home, "cfg", "plugins", "hog-empty"))).toBe(false);
  }, 120_000);
});

describe("a run within the limit is unaffected", () => {
  test("a normal guest prints and exits 0", () => {
    const r = fledge(["wasm", "run", join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm")]);
    expect(r.stdout).toBe("hello from wasm\n");
    expect(r.code).toBe(0);
  });

  test("a guest that runs for many samples exits with its own code", () => {
    const r = fledge(["wasm", "run", "--max-memory", "1MiB", SLEEP]);
    expect(r.stdout).toBe("slept\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(7);
  });
});

/**
 * A script that holds a run's memory guard as the CLI does (or, `enable` false, as an
 * in-process caller would), marks the guest started and/or releases the hold as told,
 * then allocates and touches 768 MiB, past 1 MiB + the allowance, and prints "survived".
 */
function holder(opts: { enable: boolean; started: boolean; release: boolean }): Run {
  const file = join(dir.path, `hold-${opts.enable}-${opts.started}-${opts.release}.ts`);
  writeFileSync(
    file,
    `import { enableHardLoadWatchdog } from ${JSON.stringify(join(ROOT, "src/wasm/load-watchdog.ts"))};
import { holdRunMemory, memoryGuardError } from ${JSON.stringify(join(ROOT, "src/wasm/memory-guard.ts"))};
if (${opts.enable}) enableHardLoadWatchdog();
const hold = holdRunMemory(${MiB}, (phase) => memoryGuardError(${MiB}, phase));
if (${opts.started}) hold.started();
if (${opts.release}) hold.release();
// Room for the thread to take the messages (a released hold never samples).
await Bun.sleep(100);
const kept = [];
for (let i = 0; i < 48; i++) kept.push(new Uint8Array(16 * 2 ** 20).fill(1));
console.log("survived", kept.length);
`,
  );
  const home = join(dir.path, "holder");
  return spawnMeasured([process.execPath, file], { cwd: ROOT, timeout: 60_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, "cfg"), NO_COLOR: "1" } });
}

describe("the hold", () => {
  test("once the guest started, the stop says the run, not the load, passed the limit", () => {
    const r = holder({ enable: true, started: true, release: false });
    expectStoppedWithin(r, LIMIT);
    expect(r.stderr).toContain("memory limit: fledge's memory passed 1 MiB (--max-memory) + 512 MiB for its own work while running the module");
    expect(r.stdout).not.toContain("survived");
  });

  test("released: nothing is sampled and the process goes on", () => {
    const r = holder({ enable: true, started: false, release: true });
    expect(r.stdout).toContain("survived 48");
    expect(r.code).toBe(0);
  });

  test("not enabled (in-process callers, embedders): holding is a no-op", () => {
    const r = holder({ enable: false, started: false, release: false });
    expect(r.stdout).toContain("survived 48");
    expect(r.code).toBe(0);
  });
});
