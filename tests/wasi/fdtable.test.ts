/**
 * The fd table. Black-box through `fledge wasm run` with three
 * preopens and our guest tests/fixtures/wasi/fdtable.c, which renumbers, closes and
 * exhausts fds in one launch (its cases run in a fixed order; later ones tear the
 * preopens down on purpose).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/ui/exit-codes.ts";
import { tempDir } from "../helpers/cli.ts";
import { caseReport, diffSnapshots, guest, releaseGuests, runGuest, snapshot, type Entry, type GuestRun } from "../fixtures/wasi/support.ts";

let tmp: { path: string; cleanup: () => void };
let root: string;
let before: Map<string, Entry>;
let run: GuestRun;

beforeAll(() => {
  tmp = tempDir("fledge-wasi-fd-");
  root = realpathSync(tmp.path);
  for (const [d, f, c] of [
    ["a", "f.txt", "A-file"],
    ["b", "g.txt", "B-file"],
    ["c", "h.txt", "C-file"],
  ] as const) {
    mkdirSync(join(root, d));
    writeFileSync(join(root, d, f), c);
  }
  before = snapshot(root);
  // Default guest paths: /a, /b, /c (the host path's basename).
  run = runGuest(guest("fdtable.wasm"), { dirs: ["a", "b", "c"].map((d) => join(root, d)), stdin: "", cwd: root });
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

const row = (id: string, title: string, cases: string[]) =>
  test(`${id} ${title}`, () => {
    for (const c of cases) expect(caseReport(run, c)).toBe("ok");
    // Whatever the fd games, no file in any of the three preopens (or around them) changed.
    expect(diffSnapshots(before, snapshot(root))).toEqual([]);
  });

describe("D: the fd table", () => {
  test("the guest ran every case and fledge reported its exit status", () => {
    expect(run.done, caseReport(run, "done")).toBe(true);
    const failed = [...run.cases.values()].filter((v) => v !== true);
    expect(run.code, failed.join("\n")).toBe(failed.length ? 1 : 0);
  });
  row("D.1", "fd_renumber(x, x) is a harmless no-op and later path_opens work (CVE-2025-53901)", ["d1:self"]);
  row("D.1", "fd_renumber onto or from a closed fd is EBADF and breaks nothing", ["d1:closed"]);
  row("D.1", "renumbering a file over a preopen: the number is no longer a preopen nor a directory", ["d1:over_preopen"]);
  row("D.1", "renumbering a preopen away: the old number is EBADF, the new one still confines paths", ["d1:preopen_away"]);
  row("D.2", "closing a preopen, then using it, is EBADF; a reused number is not a preopen", ["d2:close_preopen"]);
  row("D.3", "fd_prestat_get / dir_name on stdio, files, closed and huge fds are EBADF and reveal no host path", ["d3:prestat"]);
  row("D.4", "opening thousands of files hits a per-instance limit with EMFILE/ENFILE; closing frees it", ["d4:emfile"]);
  test("D.4 the per-instance fd limit is well below the process's own limit", () => {
    const info = run.infos.find((l) => l.startsWith("fd-limit "));
    expect(info, caseReport(run, "d4:emfile")).toBeDefined();
    const n = Number(info!.split(" ")[1]);
    // The guest may already hold a few fds (stdio, preopens); the host must stop it
    // long before the OS limit so fledge itself never runs out.
    expect(n).toBeGreaterThan(16);
    expect(n).toBeLessThanOrEqual(4096);
  });
  row("D.*", "path calls on a file fd or on stdio are ENOTDIR/EBADF", ["d5:path_on_nondir"]);
  row("D.*", "a directory fd whose directory was removed creates nothing and cannot climb out", ["d6:dangling_dirfd"]);
  row("D.*", "fd_close on stdin is allowed and the number is then EBADF", ["d7:close_stdin"]);

  test("D.2 closing the guest's stdout/stderr never closes fledge's own: a later trap message reaches fledge's stderr", () => {
    const t = tempDir("fledge-wasi-stdio-");
    try {
      const r = runGuest(guest("fdtable.wasm"), { dirs: [`${realpathSync(t.path)}::/a`], args: ["stdio-close"] });
      expect(r.code).toBe(EXIT.trap);
      expect(r.stderr).toMatch(/trap/i);
      for (const f of readdirSync(t.path)) expect(readFileSync(join(t.path, f), "utf8")).toBe("");
    } finally {
      t.cleanup();
    }
  });

  test("D.* on the host: only the guest's own scratch directory came and went; no file changed", () => {
    expect(diffSnapshots(before, snapshot(root))).toEqual([]);
    expect(readFileSync(join(root, "b", "g.txt"), "utf8")).toBe("B-file");
    expect(readdirSync(join(root, "a"))).toEqual(["f.txt"]);
  });
});
