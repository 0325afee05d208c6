/**
 * Exact nanosecond file times (issue 10 item 8): fd_filestat_set_times and
 * path_filestat_set_times set what the guest asked for to the nanosecond, leave the
 * time it did not ask for untouched, and the path variant follows a final symlink only
 * with SYMLINK_FOLLOW (and never out of the sandbox). The guest (filetimes.c) checks
 * through WASI's own stat; this file also compares with the host's bigint lstat, so a
 * host that reads and writes times with the same rounding cannot pass by agreeing
 * with itself.
 *
 * An attacker's angle: the path variant takes a path, so it is one more way to reach a
 * file through a symlink; it must act on the link itself without SYMLINK_FOLLOW and
 * refuse to follow one out. Those cases are in the guest (path:symlink_*), and the
 * host file outside the sandbox is checked unchanged here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, constants, lstatSync, mkdirSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { caseReport, guest, releaseGuests, runGuest, type GuestRun } from "../fixtures/wasi/support.ts";
import { setTimesAt } from "../../src/wasi/times.ts";
import { WasiErrno } from "../../src/wasi/errno.ts";

const CASES = [
  "fd:exact", "fd:omit_atim", "fd:omit_mtim", "fd:no_flags", "fd:now", "fd:edges", "fd:huge", "fd:dir",
  "path:exact", "path:dir", "path:symlink_nofollow", "path:symlink_follow", "path:symlink_escape",
  "path:symlink_dangling", "flags:errors",
];

/** A fresh sandbox as filetimes.c expects it; returns its root and the outside file. */
function makeSandbox(root: string): { sandbox: string; outside: string } {
  const sandbox = join(root, "sb");
  mkdirSync(join(sandbox, "d"), { recursive: true });
  for (const f of ["f.txt", "g.txt", "target.txt"]) writeFileSync(join(sandbox, f), f);
  const outside = join(root, "outside.txt");
  writeFileSync(outside, "outside");
  symlinkSync("target.txt", join(sandbox, "ln"));
  symlinkSync("../outside.txt", join(sandbox, "out"));
  symlinkSync("missing", join(sandbox, "dangling"));
  return { sandbox, outside };
}

function times(path: string): [bigint, bigint] {
  const st = lstatSync(path, { bigint: true });
  return [st.atimeNs, st.mtimeNs];
}

function infos(run: GuestRun): Map<string, [bigint, bigint]> {
  const out = new Map<string, [bigint, bigint]>();
  for (const line of run.infos) {
    const [path, a, m] = line.split(" ");
    if (path && a && m) out.set(path, [BigInt(a), BigInt(m)]);
  }
  return out;
}

describe("exact (libc utimensat/futimens through bun:ffi)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let run: GuestRun;
  let sandbox: string;
  let outside: string;
  let outsideBefore: [bigint, bigint];
  beforeAll(() => {
    tmp = tempDir("fledge-filetimes-");
    ({ sandbox, outside } = makeSandbox(tmp.path));
    outsideBefore = times(outside);
    run = runGuest(guest("filetimes.wasm"), { dirs: [`${sandbox}::/sandbox`], fledgeEnv: { HOME: tmp.path, FLEDGE_CONFIG_DIR: join(tmp.path, "cfg") } });
  });
  afterAll(() => {
    tmp.cleanup();
    releaseGuests();
  });

  test("the guest ran every case", () => {
    expect(run.done, run.stderr).toBe(true);
    expect([...run.cases.keys()].sort()).toEqual([...CASES].sort());
  });
  for (const c of CASES) test(c, () => expect(caseReport(run, c)).toBe("ok"));

  test("the host's own nanosecond lstat agrees with what the guest set and read", () => {
    const seen = infos(run);
    // The last values the guest reported for each entry, against the host's view now.
    expect(seen.get("g.txt")).toEqual([1234567890999999999n, 1700000000000000001n]);
    expect(times(join(sandbox, "g.txt"))).toEqual(seen.get("g.txt")!);
    expect(times(join(sandbox, "d"))).toEqual([1600000000987654321n, 1700000000000000001n]);
    // Links: only mtime, since following a link may update its atime.
    expect(times(join(sandbox, "ln"))[1]).toBe(1234567890999999999n);
    expect(times(join(sandbox, "out"))[1]).toBe(1600000000987654321n);
    expect(times(join(sandbox, "dangling"))[1]).toBe(1700000000000000001n);
    expect(times(join(sandbox, "target.txt"))).toEqual([1700000000000000001n, 1500000000123456789n]);
  });

  test("the file outside the sandbox, behind the escaping link, kept its times", () => {
    expect(times(outside)).toEqual(outsideBefore);
  });
});

describe("documented fallback (FLEDGE_NO_FFI_TIMES=1: Node's float-seconds futimes/lutimes)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let run: GuestRun;
  let outside: string;
  let outsideBefore: [bigint, bigint];
  beforeAll(() => {
    tmp = tempDir("fledge-filetimes-fallback-");
    const made = makeSandbox(tmp.path);
    outside = made.outside;
    outsideBefore = times(outside);
    // Within 1 µs: float seconds carry about 238 ns at these dates, and an omitted time
    // is rewritten from its stat with the same rounding.
    run = runGuest(guest("filetimes.wasm"), {
      dirs: [`${made.sandbox}::/sandbox`],
      args: ["*", "--", "1000"],
      fledgeEnv: { HOME: tmp.path, FLEDGE_CONFIG_DIR: join(tmp.path, "cfg"), FLEDGE_NO_FFI_TIMES: "1" },
    });
  });
  afterAll(() => {
    tmp.cleanup();
    releaseGuests();
  });

  test("every case holds within the fallback's stated precision, symlink rules included", () => {
    expect(run.done, run.stderr).toBe(true);
    for (const c of CASES) expect(caseReport(run, c)).toBe("ok");
    expect(times(outside)).toEqual(outsideBefore);
  });
});

describe("setTimesAt takes one name inside the held directory, nothing else", () => {
  test("'..', a path with '/', an empty name and a NUL are refused before any call", () => {
    const tmp = tempDir("fledge-filetimes-unit-");
    try {
      const { sandbox, outside } = makeSandbox(tmp.path);
      const before = times(outside);
      const fd = openSync(sandbox, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        const st = lstatSync(sandbox, { bigint: true });
        for (const name of ["..", "../outside.txt", "d/../../outside.txt", "", "f.txt\0x"]) {
          let errno = 0;
          try {
            setTimesAt({ fd, path: sandbox }, name, st, { ns: 5n }, { ns: 5n });
          } catch (e) {
            errno = e instanceof WasiErrno ? e.errno : -1;
          }
          expect(errno, name).toBeGreaterThan(0);
        }
      } finally {
        closeSync(fd);
      }
      expect(times(outside)).toEqual(before);
    } finally {
      tmp.cleanup();
    }
  });
});
