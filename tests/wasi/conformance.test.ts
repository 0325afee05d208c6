/**
 * Black-box conformance of fledge's WASI preview1 host: every one of the 46
 * functions on its success path and its error paths, driven by our own guest
 * (tests/fixtures/wasi/conformance.c) through `fledge wasm run`.
 *
 * The guest runs all its cases in one process launch and prints one line per case;
 * each case becomes a test here, grouped by the function it exercises. Host-side
 * effects (files the guest created, stdout/stderr pass-through, exit codes) are
 * checked from the outside.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { caseReport, diffSnapshots, guest, releaseGuests, runGuest, snapshot, type Entry, type GuestRun } from "../fixtures/wasi/support.ts";

const WASM = guest("conformance.wasm");

/** Function → the guest cases that exercise it (success first, then error paths). */
const FUNCTIONS: Record<string, string[]> = {
  args_get: ["args_get", "args_get:efault"],
  args_sizes_get: ["args_sizes_get", "args_sizes_get:efault"],
  environ_get: ["environ_get", "environ_get:efault"],
  environ_sizes_get: ["environ_sizes_get", "environ_sizes_get:efault"],
  clock_res_get: ["clock_res_get", "clock_res_get:einval"],
  clock_time_get: ["clock_time_get", "clock_time_get:einval", "clock_time_get:efault"],
  fd_advise: ["fd_advise", "fd_advise:einval", "fd_advise:ebadf"],
  fd_allocate: ["fd_allocate", "fd_allocate:ebadf", "fd:huge_offsets"],
  fd_close: ["fd_close", "fd_close:ebadf"],
  fd_datasync: ["fd_datasync", "fd_datasync:ebadf"],
  fd_fdstat_get: ["fd_fdstat_get", "fd_fdstat_get:ebadf", "fd_fdstat_get:efault"],
  fd_fdstat_set_flags: ["fd_fdstat_set_flags", "fd_fdstat_set_flags:ebadf"],
  fd_fdstat_set_rights: ["fd_fdstat_set_rights", "fd_fdstat_set_rights:widen", "fd_fdstat_set_rights:ebadf"],
  fd_filestat_get: ["fd_filestat_get", "fd_filestat_get:ebadf"],
  fd_filestat_set_size: ["fd_filestat_set_size", "fd_filestat_set_size:ebadf", "fd_filestat_set_size:rights", "fd:huge_offsets"],
  fd_filestat_set_times: ["fd_filestat_set_times", "fd_filestat_set_times:einval", "fd_filestat_set_times:ebadf"],
  fd_pread: ["fd_pread", "fd_pread:ebadf", "fd_pread:dir", "fd:huge_offsets"],
  fd_prestat_get: ["fd_prestat_get", "fd_prestat_get:ebadf"],
  fd_prestat_dir_name: ["fd_prestat_dir_name", "fd_prestat_dir_name:enametoolong", "fd_prestat_dir_name:ebadf"],
  fd_pwrite: ["fd_pwrite", "fd_pwrite:ebadf", "fd_pwrite:rights", "fd:huge_offsets"],
  fd_read: ["fd_read", "fd_read:stdin", "fd_read:ebadf", "fd_read:rights"],
  fd_readdir: ["fd_readdir", "fd_readdir:types", "fd_readdir:ebadf", "fd_readdir:notdir"],
  fd_renumber: ["fd_renumber", "fd_renumber:ebadf"],
  fd_seek: ["fd_seek", "fd_seek:einval", "fd_seek:ebadf", "fd:huge_offsets"],
  fd_sync: ["fd_sync", "fd_sync:ebadf"],
  fd_tell: ["fd_tell", "fd_tell:ebadf"],
  fd_write: ["fd_write", "fd_write:stdio", "fd_write:ebadf", "fd_write:rights"],
  path_create_directory: ["path_create_directory", "path_create_directory:errors"],
  path_filestat_get: ["path_filestat_get", "path_filestat_get:errors"],
  path_filestat_set_times: ["path_filestat_set_times", "path_filestat_set_times:errors"],
  path_link: ["path_link", "path_link:errors"],
  path_open: ["path_open", "path_open:errors"],
  path_readlink: ["path_readlink", "path_readlink:truncate", "path_readlink:errors"],
  path_remove_directory: ["path_remove_directory", "path_remove_directory:errors"],
  path_rename: ["path_rename", "path_rename:errors"],
  path_symlink: ["path_symlink", "path_symlink:errors"],
  path_unlink_file: ["path_unlink_file", "path_unlink_file:errors"],
  poll_oneoff: ["poll_oneoff", "poll_oneoff:abstime", "poll_oneoff:fd", "poll_oneoff:einval", "poll_oneoff:ebadf", "poll_oneoff:badclock"],
  // proc_exit is tested below with its own launches (it ends the run).
  proc_raise: ["proc_raise"],
  sched_yield: ["sched_yield"],
  random_get: ["random_get", "random_get:efault"],
  // No socket can exist in preview1: the error paths are all there is.
  sock_accept: ["sock:ebadf", "sock:enotsock"],
  sock_recv: ["sock:ebadf", "sock:enotsock"],
  sock_send: ["sock:ebadf", "sock:enotsock"],
  sock_shutdown: ["sock:ebadf", "sock:enotsock"],
};

let tmp: { path: string; cleanup: () => void };
let sandbox: string;
let run: GuestRun;
let before: Map<string, Entry>;
// Arguments after the module go to the guest verbatim, including ones that look
// like fledge options and ones that are empty or not ASCII. "*" selects every case
// (the guest treats arguments before "--" as case selectors).
const GUEST_ARGS = ["*", "héllo wörld", "", "--dir", "-x=1", "--", "tab\there"];

beforeAll(() => {
  tmp = tempDir("fledge-wasi-conf-");
  sandbox = join(tmp.path, "sandbox");
  mkdirSync(join(sandbox, "sub"), { recursive: true });
  mkdirSync(join(sandbox, "nonempty"));
  mkdirSync(join(sandbox, "empty_dir"));
  writeFileSync(join(sandbox, "hello.txt"), "hello world\n");
  writeFileSync(join(sandbox, "sub", "a.txt"), "A");
  writeFileSync(join(sandbox, "nonempty", "x"), "x");
  symlinkSync("hello.txt", join(sandbox, "link_hello"));
  writeFileSync(join(tmp.path, "beside.txt"), "not granted");
  before = snapshot(tmp.path);
  run = runGuest(WASM, {
    cwd: tmp.path,
    dirs: [`${sandbox}::/sandbox`],
    env: ["FOO=bar", "EQ=a=b"],
    args: GUEST_ARGS,
    stdin: "stdin-data-123",
    fledgeEnv: { GITHUB_TOKEN: "secret-canary", FOO: "from-fledge-env" },
  });
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

test("the conformance guest ran to completion and exited with its own status", () => {
  expect(run.done, caseReport(run, "done")).toBe(true);
  const failed = [...run.cases.entries()].filter(([, v]) => v !== true);
  expect(run.code, failed.map(([, v]) => v).join("\n")).toBe(failed.length ? 1 : 0);
});

test("the guest imports all 46 preview1 functions, and every one has cases here (proc_exit below)", () => {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(WASM)))
    .filter((i) => i.module === "wasi_snapshot_preview1")
    .map((i) => i.name)
    .sort();
  expect(imports).toHaveLength(46);
  expect(imports).toEqual([...Object.keys(FUNCTIONS), "proc_exit"].sort());
});

for (const [fn, cases] of Object.entries(FUNCTIONS)) {
  describe(fn, () => {
    for (const c of cases) {
      test(c, () => {
        expect(caseReport(run, c)).toBe("ok");
      });
    }
  });
}

describe("host-side effects", () => {
  test("args: argv[0] is the module basename and the rest arrive verbatim", () => {
    const info = run.infos.find((l) => l.startsWith("args "));
    expect(info, caseReport(run, "args_get")).toBeDefined();
    const got = info!
      .slice(5)
      .split(" ")
      .map((h) => (h === "-" ? "" : Buffer.from(h, "hex").toString("utf8")));
    expect(got).toEqual(["conformance.wasm", ...GUEST_ARGS]);
  });

  test("stdout and stderr pass through to the matching streams", () => {
    expect(run.stdout).toContain("stdout-marker\n");
    expect(run.stderr).toContain("stderr-marker\n");
    expect(run.stdout).not.toContain("stderr-marker");
    expect(run.stderr).not.toContain("stdout-marker");
  });

  test("the environment is exactly the --env variables (fledge's own env is not passed)", () => {
    expect(caseReport(run, "environ_sizes_get")).toBe("ok");
    expect(caseReport(run, "environ_get")).toBe("ok");
    expect(run.stdout).not.toContain("secret-canary");
    expect(run.stdout).not.toContain("from-fledge-env");
  });

  test("nothing outside the preopen changed (the guest's cwd is the temp root)", () => {
    expect(diffSnapshots(before, snapshot(tmp.path), (rel) => rel === "sandbox" || rel.startsWith("sandbox/"))).toEqual([]);
  });

  test("files the guest created are on disk with the right contents", () => {
    const w = join(sandbox, "work");
    expect(readFileSync(join(w, "created.txt"), "utf8")).toBe("created by guest");
    expect(readFileSync(join(w, "write.txt"), "utf8")).toBe("gathered write\n");
    expect(readFileSync(join(w, "append.txt"), "utf8")).toBe("abcXYZ");
    expect(readFileSync(join(w, "open_append.txt"), "utf8")).toBe("12345ab");
    expect(readFileSync(join(w, "pwrite.txt"), "utf8")).toBe("abXYef");
    expect(statSync(join(w, "size.txt")).size).toBe(20);
    expect(statSync(join(w, "alloc.bin")).size).toBeGreaterThanOrEqual(100);
    expect(statSync(join(w, "newdir")).isDirectory()).toBe(true);
    expect(readlinkSync(join(w, "sym"))).toBe("../hello.txt");
    expect(lstatSync(join(w, "hard.txt")).ino).toBe(lstatSync(join(w, "orig.txt")).ino);
    expect(readFileSync(join(w, "r2.txt"), "utf8")).toBe("moved");
    expect(statSync(join(w, "rd2")).isDirectory()).toBe(true);
    // set_times: the guest set mtime to 1500000000.987654321 s.
    expect(Math.floor(statSync(join(w, "times.txt")).mtimeMs / 1000)).toBeGreaterThan(1500000000); // then MTIM_NOW
    // Exact to the nanosecond (src/wasi/times.ts; tests/wasi/filetimes.test.ts has the rest). Only
    // mtime: this test reads the file afterwards, which may move its atime.
    expect(lstatSync(join(w, "ptimes.txt"), { bigint: true }).mtimeNs).toBe(1500000000987654321n);
    // Removed things are gone; fixtures the error paths aimed at are intact.
    expect(() => lstatSync(join(w, "rmme"))).toThrow();
    expect(() => lstatSync(join(w, "u.txt"))).toThrow();
    expect(readFileSync(join(sandbox, "hello.txt"), "utf8")).toBe("hello world\n");
    expect(readFileSync(join(sandbox, "nonempty", "x"), "utf8")).toBe("x");
    expect(statSync(join(sandbox, "sub")).isDirectory()).toBe(true);
  });
});

describe("proc_exit", () => {
  test("proc_exit(n) from deep in the call stack ends the run with exit code n", () => {
    for (const code of [0, 7, 42, 255]) {
      const r = runGuest(WASM, { args: ["exit", String(code)] });
      expect(r.code, r.stderr).toBe(code);
      // Output written before the exit is not lost, and nothing ran after it.
      expect(r.stdout).toBe(`exiting ${code}\n`);
    }
  });

  test("proc_exit cannot be caught by a wasm exception handler (catch_all) around it", () => {
    // procexit_eh.wat calls proc_exit(42) inside try/catch_all and would print
    // "escaped ..." (and exit 0) if the host ended the run with a catchable exception.
    // Exception handling runs now; the import wrapper reports the exit to the runner,
    // which halts the guest's fuel counter, so the handler traps on entry and the
    // run ends with the exit code the guest asked for.
    const r = runGuest(guest("procexit_eh.wasm"));
    expect(r.stdout).not.toContain("escaped");
    expect(r.stdout).toBe("before\n");
    expect(r.code).toBe(42);
  });
});
