/**
 * Issue 10, items 3-5: every host call passes one gate (deadline, fuel, the work it
 * causes), host memory a guest drives is bounded, and no host call blocks past the
 * deadline. The attacker: a guest (plugin or `fledge wasm run` module) that spends
 * its time inside host calls (yield, poll, reads of idle pipes and FIFOs, directory
 * listings, 16 MiB sends, metadata floods) hoping the meter never sees it, or that
 * the host allocates for it outside --max-memory.
 *
 * Guests: tests/fixtures/wasi/hostgate.wat (WASI modes) and sendflood.wat (plugin).
 * Bounds like "finished within 30 s instead of hanging" are the only time checks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runWasmPlugin } from "../../src/host/wasm-runner.ts";
import { jsonShapeProblem, MESSAGE_LIMITS, parseMessage } from "../../src/host/messages.ts";
import { boundedExecTimeout, createFledgeImports, FledgeImportError, MAX_METADATA_KEYS } from "../../src/host/wasm-imports.ts";
import { collectMetadata } from "../../src/host/metadata.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { createMeter } from "../../src/wasm/index.ts";
import { createGate, deadlineBudget, HOST_COST, WasiDeadlineExceeded } from "../../src/wasi/index.ts";
import { MAIN, tempDir } from "../helpers/cli.ts";
import { releaseGuests, guest, GUESTS, QUIET_BUN } from "../fixtures/wasi/support.ts";

let tmp: { path: string; cleanup: () => void };
let root: string;
let env: Record<string, string>;

beforeAll(() => {
  tmp = tempDir("fledge-host-gate-");
  root = realpathSync(tmp.path);
  env = { ...QUIET_BUN, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, FLEDGE_CONFIG_DIR: join(root, "config"), NO_COLOR: "1" };
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

/** Run `fledge wasm run` with a stdin pipe that is never written (an idle pipe); resolves with the exit code. */
function runIdle(args: string[], opts: { stdinIdle?: boolean; stdoutUnread?: boolean } = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, "wasm", "run", ...args], { env, cwd: root, stdio: [opts.stdinIdle ? "pipe" : "ignore", "pipe", "pipe"] });
    // An unread stdout pipe fills up; a read one is drained.
    if (!opts.stdoutUnread) child.stdout?.resume();
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(killer);
      child.stdin?.destroy();
      resolve({ code, stderr });
    });
  });
}

describe("the gate", () => {
  test("link wraps every function of every module; values that are not functions pass unchanged", () => {
    const calls: number[] = [];
    const gate = createGate({ hostCall: (u = 1) => void calls.push(u), stop: () => { throw new Error("stop"); }, timeLeft: () => Infinity, stopped: false });
    const mem = new WebAssembly.Memory({ initial: 1 });
    const linked = gate.link({ fledge: { send: () => 7, memory: mem }, other: { anything: () => 1 } });
    expect(linked.fledge.memory).toBe(mem);
    expect((linked.fledge.send as () => number)()).toBe(7);
    expect((linked.other.anything as () => number)()).toBe(1);
    expect(calls).toEqual([HOST_COST.send!.base, 10]);
  });

  test("a stop is final: after the deadline every call stops, and the budget stays stopped", () => {
    const budget = deadlineBudget(performance.now() - 1);
    const gate = createGate(budget);
    const f = gate.link({ m: { f: () => 1 } }).m.f as () => number;
    expect(() => f()).toThrow(WasiDeadlineExceeded);
    expect(budget.stopped).toBe(true);
    expect(() => f()).toThrow(WasiDeadlineExceeded);
  });

  test("the meter's stop sets its stopped flag and throws the same sentinel refuel throws", () => {
    const meter = createMeter({ fuel: null, deadline: null });
    expect(meter.stopped).toBe(false);
    let thrown: unknown;
    try {
      meter.stop("deadline");
    } catch (e) {
      thrown = e;
    }
    expect(meter.isStop(thrown)).toBe(true);
    expect(meter.stopped).toBe(true);
    expect(meter.reason()).toBe("deadline");
    expect(() => meter.hostCall()).toThrow();
  });

  test("bytes are charged at the running import's price", () => {
    let charged = 0;
    const gate = createGate({ hostCall: (u = 1) => void (charged += u), stop: () => { throw new Error("stop"); }, timeLeft: () => Infinity, stopped: false });
    const send = gate.link({ fledge: { send: () => gate.bytes(16 * 1024 * 1024) } }).fledge.send as () => void;
    send();
    expect(charged).toBe(HOST_COST.send!.base + 16 * 1024 * HOST_COST.send!.perKiB);
  });
});

describe("host calls end at the deadline (fledge wasm run --timeout 1)", () => {
  const cases: [string, string[]][] = [
    ["a sched_yield loop", ["y"]],
    ["poll_oneoff with a u64::MAX timeout", ["p"]],
  ];
  for (const [name, args] of cases) {
    test(name, async () => {
      const r = await runIdle(["--timeout", "1", guest("hostgate.wasm"), ...args]);
      expect(r.code, r.stderr).toBe(124);
      expect(r.stderr).toContain("time limit");
    });
  }

  test("fd_read on an idle stdin pipe stops at the deadline", async () => {
    const r = await runIdle(["--timeout", "1", guest("hostgate.wasm"), "r"], { stdinIdle: true });
    expect(r.code, r.stderr).toBe(124);
  });

  test("fd_write to a full stdout pipe nobody reads stops at the deadline", async () => {
    const r = await runIdle(["--timeout", "1", guest("hostgate.wasm"), "w"], { stdoutUnread: true });
    expect(r.code, r.stderr).toBe(124);
  });

  test("a FIFO with a writer that never writes: path_open does not block and fd_read waits only until the deadline", async () => {
    const d = join(root, "fifo-idle");
    mkdirSync(d);
    expect(spawnSync("mkfifo", [join(d, "f")]).status).toBe(0);
    // A writer that holds the FIFO open and writes nothing.
    const writer = spawn("sh", ["-c", `exec sleep 40 3>"${join(d, "f")}"`], { stdio: "ignore" });
    try {
      const r = await runIdle(["--timeout", "1", "--dir", `${d}::/d`, guest("hostgate.wasm"), "o"]);
      expect(r.code, r.stderr).toBe(124);
    } finally {
      writer.kill("SIGKILL");
    }
  });

  test("a FIFO with no writer at all: opens and reads never block", async () => {
    const d = join(root, "fifo-nowriter");
    mkdirSync(d);
    expect(spawnSync("mkfifo", [join(d, "f")]).status).toBe(0);
    const r = await runIdle(["--timeout", "1", "--dir", `${d}::/d`, guest("hostgate.wasm"), "o"]);
    expect(r.code, r.stderr).toBe(124);
  });

  test("a file swapped for a FIFO and back in a loop never blocks path_open or fd_read", async () => {
    const d = join(root, "fifo-swap");
    mkdirSync(d);
    const f = join(d, "f");
    const swapper = spawn("sh", ["-c", `while :; do rm -f "${f}"; mkfifo "${f}"; rm -f "${f}"; echo x > "${f}"; done`], { stdio: "ignore" });
    try {
      const r = await runIdle(["--timeout", "2", "--dir", `${d}::/d`, guest("hostgate.wasm"), "o"]);
      expect(r.code, r.stderr).toBe(124);
    } finally {
      swapper.kill("SIGKILL");
    }
  });

  test("re-listing 80 directory fds forever meets the deadline; listing once each completes", async () => {
    const d = join(root, "many");
    mkdirSync(d);
    for (let i = 0; i < 2000; i++) writeFileSync(join(d, `${"n".repeat(200)}${i}`), "");
    const once = await runIdle(["--timeout", "20", "--dir", `${d}::/d`, guest("hostgate.wasm"), "d", "80"]);
    expect(once.code, once.stderr).toBe(0);
    const loop = await runIdle(["--timeout", "1", "--dir", `${d}::/d`, guest("hostgate.wasm"), "D", "80"]);
    expect(loop.code, loop.stderr).toBe(124);
  }, 60_000);
});

describe("plugin imports pass the same gate", () => {
  test("a zero-capability plugin looping on 16 MiB sends ends at its deadline with the time-limit error", async () => {
    const dir = join(root, "flood");
    mkdirSync(dir);
    const bytes = new Uint8Array(readFileSync(join(GUESTS, "sendflood.wasm")));
    const warnings: string[] = [];
    const run = runWasmPlugin({
      plugin: { name: "flood", version: "1.0.0", dir },
      capabilities: { ...NO_CAPABILITIES },
      wasmPath: join(dir, "sendflood.wasm"),
      bytes,
      args: [],
      projectRoot: dir,
      stateFile: join(dir, "state.json"),
      limits: { fuel: null, maxMemoryBytes: 64 * 1024 * 1024, timeoutMs: 1000 },
      io: { stdout: () => {}, stderr: (t) => void warnings.push(t), interactive: false, color: false },
      noCache: true,
    });
    await expect(run).rejects.toMatchObject({ code: "time_limit", exitCode: 124 });
    // The nested-bracket message was refused by the shape check, never parsed.
    expect(warnings.join("")).toContain(`nests deeper than ${MESSAGE_LIMITS.maxDepth} levels`);
  }, 30_000);

  test("a plugin printing forever to a stdout pipe nobody reads ends at its deadline", async () => {
    const runner = join(GUESTS, "..", "host", "run-wasm-plugin.ts");
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [runner, join(GUESTS, "outflood.wasm"), "1000"], { env, cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("exit", (code) => {
        clearTimeout(killer);
        resolve({ code, stderr });
      });
    });
    expect(r.code, r.stderr).toBe(124);
    expect(r.stderr).toContain("time limit");
  }, 40_000);

  test("host work is charged as fuel: 16 MiB sends exhaust a small fuel budget without any deadline", async () => {
    const dir = join(root, "flood-fuel");
    mkdirSync(dir);
    const run = runWasmPlugin({
      plugin: { name: "flood", version: "1.0.0", dir },
      capabilities: { ...NO_CAPABILITIES },
      wasmPath: join(dir, "sendflood.wasm"),
      bytes: new Uint8Array(readFileSync(join(GUESTS, "sendflood.wasm"))),
      args: [],
      projectRoot: dir,
      stateFile: join(dir, "state.json"),
      limits: { fuel: 100_000_000n, maxMemoryBytes: 64 * 1024 * 1024, timeoutMs: 600_000 },
      io: { stdout: () => {}, stderr: () => {}, interactive: false, color: false },
      noCache: true,
    });
    await expect(run).rejects.toMatchObject({ code: "fuel_exhausted", exitCode: 122 });
  }, 30_000);

  test("metadata: 200,000 copies of one key is one computation; more than 32 distinct keys is refused", () => {
    const seen: string[][] = [];
    const memory = new WebAssembly.Memory({ initial: 64 });
    const imports = createFledgeImports({
      getMemory: () => memory,
      capabilities: { ...NO_CAPABILITIES, metadata: true },
      dispatch: (m) => {
        if (m.type === "metadata") seen.push(m.keys);
        return { id: 0, value: {} };
      },
      init: { type: "init" } as never,
      warn: () => {},
    }).imports;
    const put = (text: string): [number, number] => {
      const b = new TextEncoder().encode(text);
      new Uint8Array(memory.buffer).set(b, 0);
      return [0, b.length];
    };
    imports.metadata!(...put(JSON.stringify(Array(6000).fill("git_log"))));
    expect(seen).toEqual([["git_log"]]);
    const many = Array.from({ length: MAX_METADATA_KEYS + 1 }, (_, i) => `k${i}`);
    expect(() => imports.metadata!(...put(JSON.stringify(many)))).toThrow(FledgeImportError);
    expect(() => imports.metadata!(...put(JSON.stringify(many)))).toThrow(`at most ${MAX_METADATA_KEYS}`);
    // 200,000 names do not even fit the request cap: refused before parsing.
    const huge = JSON.stringify(Array(200_000).fill("git_log"));
    expect(huge.length).toBeGreaterThan(64 * 1024);
    expect(() => imports.metadata!(...put(huge))).toThrow("exceeds the 65536-byte limit");
    expect(seen.length).toBe(1);
  });

  test("collectMetadata computes each distinct key once (the native-plugin path)", () => {
    const out = collectMetadata(Array(200_000).fill("nope"), { projectRoot: root });
    expect(Object.keys(out)).toEqual(["nope"]);
  });

  test("an exec never outlives the run", () => {
    const gate = createGate(deadlineBudget(performance.now() + 2_000));
    expect(boundedExecTimeout(300, gate)).toBeLessThanOrEqual(2);
    expect(boundedExecTimeout(undefined, gate)).toBeLessThanOrEqual(2);
    const over = createGate(deadlineBudget(performance.now() - 1));
    expect(() => boundedExecTimeout(1, over)).toThrow(WasiDeadlineExceeded);
  });
});

describe("a prompt nobody answers", () => {
  const hasScript = spawnSync("sh", ["-c", "command -v script"]).status === 0 && process.platform === "linux";
  test.skipIf(!hasScript)("waits on the terminal only until the run's deadline (real pty)", async () => {
    const out = join(root, "ask-deadline.txt");
    const fixture = join(GUESTS, "..", "host", "ask-deadline.ts");
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn("script", ["-qfec", `'${process.execPath}' '${fixture}' '${out}'`, "/dev/null"], {
        env: { ...env, TERM: "dumb" },
        stdio: ["pipe", "pipe", "pipe"],
      });
      child.stdout?.resume();
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("exit", (c) => {
        clearTimeout(killer);
        child.stdin?.destroy();
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("stopped");
  }, 40_000);
});

describe("messages are sized up before they are parsed", () => {
  test("depth and value count", () => {
    expect(jsonShapeProblem("[".repeat(65))).toContain("deeper than 64");
    expect(jsonShapeProblem(`${"[".repeat(64)}${"]".repeat(64)}`)).toBeNull();
    expect(jsonShapeProblem(`[${"1,".repeat(MESSAGE_LIMITS.maxValues)}1]`)).toContain("more than");
    // Brackets and commas inside strings are text, escapes included.
    expect(jsonShapeProblem(JSON.stringify({ type: "output", text: `\\"${"[,".repeat(200_000)}` }))).toBeNull();
  });

  test("parseMessage refuses a 16 MiB nested message without parsing it", () => {
    const r = parseMessage("[".repeat(16 * 1024 * 1024));
    expect(r).toEqual({ ok: false, problem: "message nests deeper than 64 levels" });
  });
});
