/**
 * A read-only preopen (what `filesystem = "project"` grants)
 * refuses every mutation. Black-box through `fledge wasm run --dir ...:ro` with our
 * guest tests/fixtures/wasi/readonly.c, which also holds a read-write preopen
 * (/plugin) to try the cross-preopen link/rename routes.
 *
 * Each row checks the errno the guest saw and that the project tree is bit-for-bit
 * unchanged on the host (entries, contents, sizes, modes, mtimes, link counts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { caseReport, diffSnapshots, guest, releaseGuests, runGuest, snapshot, type Entry, type GuestRun } from "../fixtures/wasi/support.ts";

let tmp: { path: string; cleanup: () => void };
let project: string;
let plugin: string;
let before: Map<string, Entry>;
let run: GuestRun;

beforeAll(() => {
  tmp = tempDir("fledge-wasi-ro-");
  const root = realpathSync(tmp.path);
  project = join(root, "project");
  plugin = join(root, "plugin");
  mkdirSync(join(project, "rodir"), { recursive: true });
  mkdirSync(join(project, "rodir_empty"));
  mkdirSync(plugin);
  writeFileSync(join(project, "ro.txt"), "RO-CONTENT");
  writeFileSync(join(project, "rodir", "inner.txt"), "inner");
  symlinkSync("ro.txt", join(project, "ro_link"));
  // Old, distinctive mtimes: any set_times or write would show up in the snapshot.
  for (const p of ["ro.txt", "rodir/inner.txt", "rodir", "rodir_empty", "."]) utimesSync(join(project, p), 1_000_000_000, 1_000_000_000);
  before = snapshot(project);
  run = runGuest(guest("readonly.wasm"), { dirs: [`${project}::/project:ro`, `${plugin}::/plugin`] });
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

function projectUnchanged(): void {
  expect(diffSnapshots(before, snapshot(project))).toEqual([]);
  expect(readFileSync(join(project, "ro.txt"), "utf8")).toBe("RO-CONTENT");
  expect(lstatSync(join(project, "ro.txt")).nlink).toBe(1);
}

const row = (id: string, title: string, cases: string[]) =>
  test(`${id} ${title}`, () => {
    for (const c of cases) expect(caseReport(run, c)).toBe("ok");
    projectUnchanged();
  });

describe("C: read-only preopens", () => {
  test("the guest ran every case", () => {
    expect(run.done, caseReport(run, "done")).toBe(true);
  });
  row("C.0", "reading, listing and stat through the read-only preopen still work", ["c0:reads_work"]);
  row("C.1", "path_open with O_TRUNC and only read rights is refused", ["c1:trunc"]);
  row("C.2", "O_CREAT, the append flag, write/allocate/set-size/sync rights are refused", ["c2:creat_append_write"]);
  row("C.3", "fd_write, fd_pwrite, fd_allocate, fd_filestat_set_size/times, set_flags(APPEND) on a read-only fd are refused", ["c3:fd_writes"]);
  row("C.4", "path_create_directory, path_remove_directory, path_unlink_file, path_symlink, path_filestat_set_times, rename and link inside are refused", [
    "c4:path_mutations",
  ]);
  row("C.5", "path_link / path_rename from the read-only preopen into the read-write one (and back) are refused", ["c5:cross_preopen"]);
  test("C.5 nothing from the project appeared in the read-write preopen, which stays writable", () => {
    expect(caseReport(run, "c5:cross_preopen")).toBe("ok");
    // Only what the guest legitimately made there: rw.txt (still there, since the
    // renames into the project failed), ok.txt and the to_ro symlink.
    expect(readdirSync(plugin).sort()).toEqual(["ok.txt", "rw.txt", "to_ro"]);
    expect(readFileSync(join(plugin, "ok.txt"), "utf8")).toBe("plugin data");
    expect(readFileSync(join(plugin, "rw.txt"), "utf8")).toBe("from plugin");
    projectUnchanged();
  });
  row("C.6", "fd_fdstat_set_rights can only narrow, on files and on the preopen itself", ["c6:widen_rights"]);
  row("C.6", "the read-only preopen has no mutating path rights, and files opened through it report no write rights", ["c6:ro_inheriting"]);
  test("C.* the project tree is unchanged after the whole run", () => {
    projectUnchanged();
  });
  test("C.1/C.4 ':ro' also works with the default guest path (--dir HOST:ro)", () => {
    // The guest path defaults to /<basename>, i.e. /project again, on fd 3.
    const r = runGuest(guest("readonly.wasm"), { dirs: [`${project}:ro`], args: ["c0:reads_work", "c1:trunc", "c2:creat_append_write", "c4:path_mutations"] });
    expect(r.done, caseReport(r, "done")).toBe(true);
    for (const c of ["c0:reads_work", "c1:trunc", "c2:creat_append_write", "c4:path_mutations"]) expect(caseReport(r, c)).toBe("ok");
    projectUnchanged();
  });
});
