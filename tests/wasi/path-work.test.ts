/**
 * Path resolution is host work charged by what it does. The attacker: a guest that
 * asks for one path through a chain of symlinks whose targets are long runs of
 * `a/../`, so a single path_filestat_get or path_open makes the host lstat and open
 * thousands of components (40 links of 4 KiB targets: ~32,000, ~150 ms) while being
 * charged only the call's base cost. A plugin with filesystem = "plugin" can build
 * such a tree itself with path_symlink; here the test builds it (10 links of ~1 KiB).
 *
 * Checked: every component (and every symlink read) is charged, so the fuel grows
 * with the walk; a small --fuel stops it; the deadline is checked inside one walk
 * (a budget whose clock runs out mid-call stops the call there, closing what it
 * opened), and an in-process run without a hard stop ends at its time limit.
 * Bounds like "finished within 30 s instead of hanging" are the only time checks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { runModuleFile } from "../../src/wasm/run.ts";
import { createWasi, HOST_COST, POLL_SUBSCRIPTION_COST, RESOLVE_COST, WasiDeadlineExceeded, type HostBudget } from "../../src/wasi/index.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { guest, releaseGuests, QUIET_BUN } from "../fixtures/wasi/support.ts";

const LINKS = 10;
const REPEATS = 200; // "a/../" x 200: 1,000 bytes per target
/** Components the resolver takes off its stack for "s0/zz": s0 and zz, then per link 2*REPEATS + the next name. */
const COMPONENTS = 2 + LINKS * (2 * REPEATS + 1);

let tmp: { path: string; cleanup: () => void };
let tree: string;
let env: Record<string, string>;

beforeAll(() => {
  tmp = tempDir("fledge-path-work-");
  const root = realpathSync(tmp.path);
  tree = join(root, "tree");
  mkdirSync(join(tree, "a"), { recursive: true });
  const prefix = "a/../".repeat(REPEATS);
  for (let i = 0; i < LINKS; i++) symlinkSync(prefix + (i < LINKS - 1 ? `s${i + 1}` : "a"), join(tree, `s${i}`));
  env = { ...QUIET_BUN, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root, FLEDGE_CONFIG_DIR: join(root, "config"), NO_COLOR: "1" };
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

/** A budget that records what is charged, and reaches its "deadline" after `callsBeforeDeadline` checks. */
function recordingBudget(callsBeforeDeadline = Infinity): HostBudget & { units: number; calls: number } {
  let stopped = false;
  const stop = (): never => {
    stopped = true;
    throw new WasiDeadlineExceeded();
  };
  const b = {
    units: 0,
    calls: 0,
    hostCall(units = 1): void {
      b.units += units;
      if (stopped || ++b.calls > callsBeforeDeadline) stop();
    },
    stop,
    timeLeft: () => Infinity,
    get stopped() {
      return stopped;
    },
  };
  return b;
}

/** path_filestat_get(preopen, follow, path) on a bare WASI instance under `budget`; the call returns its errno. */
function statter(budget: HostBudget): (path: string) => number {
  const wasi = createWasi({ args: ["t"], env: [], preopens: [{ hostPath: tree, guestPath: "/t", readOnly: true }], budget });
  const memory = new WebAssembly.Memory({ initial: 1 });
  wasi.bindMemory(memory);
  const st = wasi.imports["path_filestat_get"] as (fd: number, flags: number, ptr: number, len: number, out: number) => number;
  return (path) => {
    const bytes = new TextEncoder().encode(path);
    new Uint8Array(memory.buffer).set(bytes, 1024);
    return st(3, 1, 1024, bytes.length, 4096);
  };
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

describe("path resolution is charged by the components it walks", () => {
  test(`one stat of s0/zz through ${LINKS} links (${COMPONENTS} components) costs at least one unit per component`, () => {
    const long = recordingBudget();
    statter(long)("s0/zz");
    const short = recordingBudget();
    statter(short)("a/zz");
    expect(long.units).toBeGreaterThanOrEqual(COMPONENTS);
    expect(long.units).toBeGreaterThanOrEqual(COMPONENTS * RESOLVE_COST.component + LINKS * RESOLVE_COST.symlink);
    // The plain two-component path pays its base cost and two components, nothing more.
    expect(short.units).toBeLessThan(3 * RESOLVE_COST.component + 1_000);
    expect(long.units - short.units).toBeGreaterThanOrEqual((COMPONENTS - 2) * RESOLVE_COST.component);
  });

  test("the deadline is checked inside one walk: a budget that runs out mid-call stops it there, descriptors closed", () => {
    const budget = recordingBudget(50);
    const stat = statter(budget);
    const before = openFds();
    expect(() => stat("s0/zz")).toThrow(WasiDeadlineExceeded);
    // The stop came from inside the single call (many checks), not at the next host call.
    expect(budget.calls).toBe(51);
    expect(budget.stopped).toBe(true);
    expect(openFds()).toBe(before);
  });

  test("fledge wasm run --fuel 1000000 stops a loop of such stats by fuel (exit 122)", () => {
    const r = runFledge(["wasm", "run", "--no-cache", "--timeout", "none", "--fuel", "1000000", "--dir", `${tree}:ro`, guest("pathwalk.wasm"), "loop"], {
      env,
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(122);
  });

  test("in process (no hard stop) the fuel used by one stat grows with the walk, and a loop ends at the time limit", async () => {
    const base = { env: [] as [string, string][], preopens: [{ hostPath: tree, guestPath: "/t", readOnly: true }], maxMemoryBytes: null };
    const once = await runModuleFile(guest("pathwalk.wasm"), { ...base, args: ["pathwalk.wasm"], fuel: null, timeoutMs: null });
    expect(once.exitCode).toBe(0);
    expect(once.fuelUsed).toBeGreaterThanOrEqual(BigInt(COMPONENTS));

    const loop = runModuleFile(guest("pathwalk.wasm"), { ...base, args: ["pathwalk.wasm", "loop"], fuel: null, timeoutMs: 300 });
    const err = await loop.then(
      () => null,
      (e: unknown) => e as { code?: string; exitCode?: number },
    );
    expect(err?.code).toBe("time_limit");
    expect(err?.exitCode).toBe(124);
  }, 30_000);
});

describe("other host calls whose work grows with their arguments are charged by it", () => {
  test("poll_oneoff with 4096 subscriptions costs per subscription", () => {
    const budget = recordingBudget();
    const wasi = createWasi({ args: ["t"], env: [], preopens: [], budget });
    const memory = new WebAssembly.Memory({ initial: 8 });
    wasi.bindMemory(memory);
    const n = 4096;
    const view = new DataView(memory.buffer);
    // Clock subscriptions (tag 0) on the monotonic clock (id 1) with a zero timeout: all ready at once.
    for (let i = 0; i < n; i++) {
      const s = 65536 + i * 48;
      view.setBigUint64(s, BigInt(i), true);
      view.setUint8(s + 8, 0);
      view.setUint32(s + 16, 1, true);
      view.setBigUint64(s + 24, 0n, true);
    }
    const poll = wasi.imports["poll_oneoff"] as (inPtr: number, outPtr: number, n: number, ret: number) => number;
    expect(poll(65536, 65536 + n * 48, n, 16)).toBe(0);
    expect(view.getUint32(16, true)).toBe(n);
    expect(budget.units).toBeGreaterThanOrEqual(n * POLL_SUBSCRIPTION_COST);
  });

  test("environ_get is charged by the size of the environment it copies", () => {
    const budget = recordingBudget();
    const big = "x".repeat(1024 * 1024);
    const wasi = createWasi({ args: ["t"], env: [["BIG", big]], preopens: [], budget });
    const memory = new WebAssembly.Memory({ initial: 20 });
    wasi.bindMemory(memory);
    const get = wasi.imports["environ_get"] as (ptrs: number, buf: number) => number;
    expect(get(16, 4096)).toBe(0);
    // 1 MiB at environ_get's per-KiB price, on top of its base.
    expect(budget.units).toBeGreaterThanOrEqual(1024 * HOST_COST.environ_get!.perKiB);
  });

  test("fd_sync and fd_datasync are priced like a disk flush, not like a cheap call", () => {
    for (const name of ["fd_sync", "fd_datasync"]) {
      const budget = recordingBudget();
      const wasi = createWasi({ args: ["t"], env: [], preopens: [], budget });
      wasi.bindMemory(new WebAssembly.Memory({ initial: 1 }));
      const sync = wasi.imports[name] as (fd: number) => number;
      expect(sync(1)).toBe(0);
      expect(HOST_COST[name]!.base).toBeGreaterThanOrEqual(100_000);
      expect(budget.units).toBeGreaterThanOrEqual(100_000);
    }
  });
});
