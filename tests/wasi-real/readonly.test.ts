/**
 * fstool against a read-only preopen (`--dir <tree>::/work:ro`): reading works exactly
 * as on a read-write preopen, and every kind of mutation a real program attempts
 * (create, truncate, append, set-size, set-times, mkdir, symlink, hard link, rename,
 * unlink, rmdir) fails with an error and leaves the tree byte-for-byte and
 * timestamp-for-timestamp unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { FSTOOL_WASM, GUEST_ROOT, SEQUENCE, seedTree, substituteRoot } from "./realprog-lib.ts";

/** Like snapshotTree, but with every mtime: nothing at all may change under :ro. */
function strictSnapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`l ${r} -> ${readlinkSync(p)} mtime=${st.mtimeMs}`);
      else if (st.isDirectory()) {
        out.push(`d ${r} mtime=${st.mtimeMs}`);
        walk(r);
      } else out.push(`f ${r} size=${st.size} nlink=${st.nlink} mtime=${st.mtimeMs} ${readFileSync(p).toString("base64").slice(0, 64)}`);
    }
  };
  walk("");
  return out;
}

const READ_STEPS = [
  "tree-initial",
  "find-data",
  "ls-long-data",
  "cat-readme",
  "head-readme",
  "wc-two-files",
  "sha256-blob",
  "cat-unicode-name",
  "cat-through-symlink",
  "sort",
];

/** Each must fail (exit 1 with an fstool error line) and change nothing. */
const MUTATIONS: string[][] = [
  ["mkdir", "{R}/newdir"],
  ["mkdir", "-p", "{R}/data/x/y"],
  ["write", "{R}/new.txt", "x"],
  ["write", "{R}/data/readme.txt", "overwritten"],
  ["append", "{R}/data/readme.txt", "more"],
  ["truncate", "{R}/data/readme.txt", "0"],
  ["touch", "{R}/data/readme.txt"],
  ["touch", "-t", "1000000000", "{R}/data/readme.txt"],
  ["touch", "-t", "1000000000", "{R}/data/empty-dir"],
  ["gen", "{R}/data/gen.bin", "100", "1"],
  ["seek", "{R}/data/seek.bin"],
  ["ln", "-s", "readme.txt", "{R}/data/new-link"],
  ["ln", "{R}/data/readme.txt", "{R}/data/hard"],
  ["mv", "{R}/data/readme.txt", "{R}/data/renamed.txt"],
  ["mv", "{R}/data/notes", "{R}/notes-moved"],
  ["rm", "{R}/data/readme.txt"],
  ["rm", "{R}/data/readme-link"],
  ["rm", "-r", "{R}/data/notes"],
  ["rmdir", "{R}/data/empty-dir"],
  ["cp", "{R}/data/readme.txt", "{R}/data/copy.txt"],
  ["cp", "{R}/data/readme.txt", "{R}/data/empty.txt"],
];

describe("fstool on a read-only preopen", () => {
  const tmp = tempDir("fledge-realprog-ro-");
  const wasm = join(tmp.path, "fstool.wasm");
  const roTree = join(tmp.path, "ro", "tree");
  const rwTree = join(tmp.path, "rw", "tree");
  const env = { FLEDGE_CONFIG_DIR: join(tmp.path, "config") };
  let before: string[] = [];

  const run = (tree: string, ro: boolean, args: string[]) =>
    runFledge(["wasm", "run", "--dir", `${tree}::${GUEST_ROOT}${ro ? ":ro" : ""}`, wasm, ...substituteRoot(args, GUEST_ROOT)], {
      cwd: tmp.path,
      env,
    });

  beforeAll(() => {
    copyFileSync(FSTOOL_WASM, wasm);
    for (const t of [roTree, rwTree]) {
      mkdirSync(t, { recursive: true });
      seedTree(t);
    }
    before = strictSnapshot(roTree);
  });
  afterAll(() => tmp.cleanup());

  for (const name of READ_STEPS) {
    test(`read step ${name} behaves as on a read-write preopen`, () => {
      const step = SEQUENCE.find((s) => s.name === name)!;
      const ro = run(roTree, true, step.args);
      const rw = run(rwTree, false, step.args);
      expect({ code: ro.code, stdout: ro.stdout }).toEqual({ code: rw.code, stdout: rw.stdout });
      expect(ro.code).toBe(0);
    });
  }

  for (const args of MUTATIONS) {
    test(`refused: fstool ${args.join(" ")}`, () => {
      const r = run(roTree, true, args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`fstool: ${args[0]}: `);
      expect(strictSnapshot(roTree)).toEqual(before);
    });
  }
});
