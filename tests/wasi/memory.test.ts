/**
 * Hostile arguments and guest memory. Black-box through
 * `fledge wasm run` with tests/fixtures/wasi/memory.wat (iovecs at and past the end
 * of memory, huge counts, memory grown between host calls) and
 * tests/fixtures/wasi/memargs.c (readdir with tiny buffers and odd cookies,
 * poll_oneoff edge cases, random_get over 64 KiB).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/exit-codes.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { caseReport, diffSnapshots, guest, releaseGuests, runGuest, snapshot, type Entry, type GuestRun } from "../fixtures/wasi/support.ts";

/** A JS stack trace or an uncaught-error banner in fledge's stderr means a host function threw. */
const CRASH = /RangeError|TypeError|Uncaught|at .*\.ts:\d+:\d+|panic/;

let mem: GuestRun;
let args: GuestRun;
let tmp: { path: string; cleanup: () => void };

let root: string;
let before: Map<string, Entry>;

beforeAll(() => {
  tmp = tempDir("fledge-wasi-mem-");
  root = realpathSync(tmp.path);
  const d = join(root, "d");
  mkdirSync(d);
  for (let i = 0; i < 100; i++) writeFileSync(join(d, `f${String(i).padStart(3, "0")}`), "");
  writeFileSync(join(root, "beside.txt"), "not granted");
  before = snapshot(root);
  // cwd is the temp root: nothing the guests do may land there.
  mem = runGuest(guest("memory.wasm"), { stdin: "OVERLAP!", cwd: root });
  args = runGuest(guest("memargs.wasm"), { dirs: [d], cwd: root });
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

describe("E: arguments and memory", () => {
  test("E.* on the host: only the guest's own new file in the granted dir appeared", () => {
    expect(diffSnapshots(before, snapshot(root))).toEqual(["+ d/zz_new (file)"]);
  });
  test("both guests ran to completion without crashing fledge", () => {
    expect(mem.done, caseReport(mem, "done")).toBe(true);
    expect(args.done, caseReport(args, "done")).toBe(true);
    expect(mem.stderr).not.toMatch(CRASH);
    expect(args.stderr).not.toMatch(CRASH);
  });

  test("E.1 iovs_len of 2^30 and 2^32-1 in fd_write/fd_read is EFAULT/EINVAL", () => {
    expect(caseReport(mem, "e1:iovs_len_huge")).toBe("ok");
  });
  test("E.1 65537 in-bounds iovecs whose lengths sum past 4 GiB: no wrap, no crash", () => {
    expect(caseReport(mem, "e1:sum_over_4g")).toBe("ok");
  });
  test("E.1 a buffer ending exactly at the end of memory is written out in full", () => {
    expect(caseReport(mem, "e1:iov_at_end")).toBe("ok");
    expect(mem.stdout).toContain("endok\n");
  });
  test("E.1 buffers, iovec arrays and result pointers crossing the end of memory are EFAULT", () => {
    for (const c of ["e1:iov_cross_end", "e1:read_cross_end", "e1:iov_array_oob", "e1:result_oob"]) expect(caseReport(mem, c)).toBe("ok");
  });
  test("E.1 an fd_read iovec that overlaps the iovec array itself", () => {
    expect(caseReport(mem, "e1:overlap")).toBe("ok");
  });
  test("E.2 memory grown between host calls: new pages are usable by every call (views refreshed)", () => {
    expect(caseReport(mem, "e2:grow_between")).toBe("ok");
    expect(mem.stdout).toContain("pre-grow\n");
    expect(mem.stdout).toContain("grown-ok\n");
    expect(mem.stdout.indexOf("pre-grow")).toBeLessThan(mem.stdout.indexOf("grown-ok"));
  });
  test("E.3 fd_readdir with buf_len 0/1/23/24/25 never writes past the buffer; 40-byte buffers list every entry once", () => {
    expect(caseReport(args, "e3:readdir_small_buffers")).toBe("ok");
  });
  test("E.3 fd_readdir with arbitrary and huge cookies, resume from any issued cookie, mutation between calls", () => {
    expect(caseReport(args, "e3:readdir_cookies")).toBe("ok");
  });
  test("E.4 poll_oneoff: zero subscriptions is EINVAL, u64::MAX timeouts neither fire nor overflow, huge counts are refused", () => {
    expect(caseReport(args, "e4:poll")).toBe("ok");
  });
  test("E.4 a u64::MAX sleep (Rust's thread::sleep(Duration::MAX)) ends at the run's deadline, not never and not at once", () => {
    const r = runGuest(guest("memargs.wasm"), { args: ["sleep-forever"], extraFlags: ["--timeout", "1"], timeoutMs: 30_000 });
    // The guest prints a FAIL line (and exits 3) only if poll_oneoff returned; -1
    // would be our own 30 s kill, i.e. fledge never stopped it.
    expect(r.stdout).not.toContain("FAIL");
    expect(r.code, r.stderr).toBe(EXIT.timeLimit);
    expect(r.stderr).toMatch(/time limit|deadline/i);
    expect(r.stderr).not.toMatch(CRASH);
  });
  test("E.5 random_get of 1 MiB (over the 64 KiB getRandomValues cap) fills every chunk", () => {
    expect(caseReport(args, "e5:random")).toBe("ok");
  });
  // E.6 (fledge::send) needs the plugin ABI, which `fledge wasm run` does not link:
  // see tests/wasi/plugin-send.test.ts.
});
