import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ERRNO, WasiErrnoForTests } from "./errno-helper.ts";
import { resolveInPreopen, decodeGuestPath } from "../../../src/wasi/resolve.ts";
import { closeQuietly, hostPathOf, link, makeTree, openDir } from "./harness.ts";
import type { DirHandle } from "../../../src/wasi/hostfs.ts";

let tree: ReturnType<typeof makeTree>;
let root: DirHandle;

beforeAll(() => {
  tree = makeTree();
  const r = tree.root;
  link("/etc", join(r, "etc-link"));
  link("/etc/passwd", join(r, "abs-file"));
  link("../secret.txt", join(r, "up-file"));
  link("../../outside", join(r, "a", "out2"));
  link("../..", join(r, "a", "b", "d")); // -> root: fine
  link("../../..", join(r, "a", "b", "e")); // -> parent of root: escape
  link(".", join(r, "L1"));
  link("L1/..", join(r, "up"));
  link("up/L1/..", join(r, "up2"));
  link("dir", join(r, "dirlink"));
  link("self", join(r, "self"));
  link("loopb", join(r, "loopa"));
  link("loopa", join(r, "loopb"));
  link(join(tree.tmp, "outside", "new"), join(r, "dangling-abs"));
  link("../outside/new", join(r, "dangling-rel"));
  link("missing-inside", join(r, "dangling-in"));
  link("dir/", join(r, "slash-target"));
  link("dir/.", join(r, "dot-target"));
  link("dir/..", join(r, "dotdot-target"));
  link("../outside/", join(r, "out-slash"));
  link("L1/../", join(r, "l1-up-slash"));
  // Chains: c0 -> c1 -> ... -> c41 -> file.txt (c0 is 42 links, c1 41, c2 40).
  for (let i = 0; i < 41; i++) link(`c${i + 1}`, join(r, `c${i}`));
  link("file.txt", join(r, "c41"));
  root = openDir(tree.root);
});

afterAll(() => {
  closeQuietly(root.fd);
  tree.cleanup();
});

type Outcome = { errno: number } | { parent: string; name: string; exists: boolean; mustBeDir: boolean; kind: string };

function res(path: string | Uint8Array, followFinal = false): Outcome {
  try {
    const r = resolveInPreopen(root, path, { followFinal });
    try {
      const kind = !r.stat ? "missing" : r.stat.isSymbolicLink() ? "symlink" : r.stat.isDirectory() ? "dir" : "file";
      return { parent: hostPathOf(r.parent), name: r.name, exists: r.stat !== undefined, mustBeDir: r.mustBeDir, kind };
    } finally {
      r.release();
    }
  } catch (e) {
    if (e instanceof WasiErrnoForTests) return { errno: e.errno };
    throw e;
  }
}

const NOTCAP = { errno: ERRNO.notcapable };

describe("resolveInPreopen: `..` never leaves the preopen", () => {
  for (const p of ["..", "../", "./..", "../.", "../x", "../secret.txt", "a/../../x", "a/b/../../..", "dir/nested/../../../dir/nested/file", "../root/file.txt"]) {
    test(`'${p}' is ENOTCAPABLE`, () => {
      expect(res(p)).toEqual(NOTCAP);
      expect(res(p, true)).toEqual(NOTCAP);
    });
  }

  test("a path that stays inside with dots and slashes resolves", () => {
    const r = res("dir/.//nested/../../dir/nested/../nested///./file");
    expect(r).toMatchObject({ name: "file", kind: "file", parent: join(tree.root, "dir", "nested") });
  });

  test("'a/..' and '.' are the base directory itself", () => {
    expect(res("a/..")).toMatchObject({ name: ".", parent: tree.root, kind: "dir" });
    expect(res(".")).toMatchObject({ name: ".", parent: tree.root, kind: "dir" });
  });
});

describe("resolveInPreopen: absolute and malformed paths", () => {
  for (const p of ["/etc/passwd", "/", "//etc", "/root/file.txt"]) {
    test(`'${p}' is ENOTCAPABLE`, () => expect(res(p)).toEqual(NOTCAP));
  }
  test("the preopen's own host path is ENOTCAPABLE", () => expect(res(tree.root + "/file.txt")).toEqual(NOTCAP));
  test("empty path is ENOENT", () => expect(res("")).toEqual({ errno: ERRNO.noent }));
  test("NUL bytes are EINVAL", () => {
    expect(res("file.txt\0")).toEqual({ errno: ERRNO.inval });
    expect(res("a\0/../../x")).toEqual({ errno: ERRNO.inval });
  });
  test("invalid UTF-8 is EILSEQ (never decoded lossily)", () => {
    expect(res(new Uint8Array([0x66, 0xff, 0x6f]))).toEqual({ errno: ERRNO.ilseq });
    expect(res(new Uint8Array([0xc0, 0xae, 0xc0, 0xae]))).toEqual({ errno: ERRNO.ilseq }); // overlong "."
  });
  test("paths over 4096 bytes and names over 255 bytes are ENAMETOOLONG", () => {
    expect(res("a/".repeat(2049))).toEqual({ errno: ERRNO.nametoolong });
    expect(res("x".repeat(256))).toEqual({ errno: ERRNO.nametoolong });
  });
  test("10 000 components are bounded (4096 bytes) and fail cleanly", () => {
    expect(res("./".repeat(10_000))).toEqual({ errno: ERRNO.nametoolong });
  });
  test("decodeGuestPath accepts ordinary UTF-8", () => expect(decodeGuestPath(new TextEncoder().encode("dé/ü"))).toBe("dé/ü"));
});

describe("resolveInPreopen: symlinks", () => {
  test("absolute target, followed finally or in the middle, is ENOTCAPABLE", () => {
    expect(res("abs-file", true)).toEqual(NOTCAP);
    expect(res("etc-link/passwd")).toEqual(NOTCAP);
    expect(res("etc-link/", false)).toEqual(NOTCAP);
  });
  test("without follow, a final symlink is returned as itself (never read through)", () => {
    expect(res("abs-file")).toMatchObject({ name: "abs-file", kind: "symlink", parent: tree.root });
  });
  test("relative target leaving the preopen is ENOTCAPABLE", () => {
    expect(res("up-file", true)).toEqual(NOTCAP);
    expect(res("a/out2/secret.txt")).toEqual(NOTCAP);
  });
  test("a/b/d -> ../.. stays inside; a/b/e -> ../../.. escapes", () => {
    expect(res("a/b/d/file.txt")).toMatchObject({ name: "file.txt", parent: tree.root, kind: "file" });
    expect(res("a/b/e/secret.txt")).toEqual(NOTCAP);
    expect(res("a/b/e", true)).toEqual(NOTCAP);
  });
  test("the chain L1 -> . and up -> L1/.. then up/secret is ENOTCAPABLE", () => {
    expect(res("up/secret.txt")).toEqual(NOTCAP);
    expect(res("up", true)).toEqual(NOTCAP);
    expect(res("up2/secret.txt")).toEqual(NOTCAP);
    expect(res("L1/L1/L1/file.txt")).toMatchObject({ name: "file.txt", parent: tree.root });
  });
  test("'..' after a symlink is physical: dirlink/../a/red.txt is root/a/red.txt", () => {
    expect(res("dirlink/../a/red.txt")).toMatchObject({ name: "red.txt", parent: join(tree.root, "a"), kind: "file" });
    expect(res("dirlink/nested/../../file.txt")).toMatchObject({ name: "file.txt", parent: tree.root });
  });
  test("loops and chains over 40 hops are ELOOP", () => {
    expect(res("self", true)).toEqual({ errno: ERRNO.loop });
    expect(res("loopa/x")).toEqual({ errno: ERRNO.loop });
    expect(res("c0", true)).toEqual({ errno: ERRNO.loop });
  });
  test("a chain of exactly 40 hops resolves; 41 is ELOOP", () => {
    expect(res("c2", true)).toMatchObject({ name: "file.txt", kind: "file" }); // c2..c41: 40 links
    expect(res("c1", true)).toEqual({ errno: ERRNO.loop });
  });
  test("targets ending in '/', '/.' and '/..' resolve inside and stay directories", () => {
    expect(res("slash-target", true)).toMatchObject({ name: "dir", kind: "dir", mustBeDir: true, parent: tree.root });
    expect(res("dot-target", true)).toMatchObject({ name: "dir", kind: "dir", mustBeDir: true });
    expect(res("dotdot-target", true)).toMatchObject({ name: ".", parent: tree.root });
    expect(res("slash-target/nested/file")).toMatchObject({ name: "file", kind: "file" });
    expect(res("out-slash", true)).toEqual(NOTCAP);
    expect(res("out-slash/secret.txt")).toEqual(NOTCAP);
    expect(res("l1-up-slash", true)).toEqual(NOTCAP);
  });
});

describe("resolveInPreopen: dangling links and trailing slashes", () => {
  test("a dangling link is returned unfollowed by default (callers then create nothing through it)", () => {
    expect(res("dangling-abs")).toMatchObject({ name: "dangling-abs", kind: "symlink" });
    expect(res("dangling-rel")).toMatchObject({ name: "dangling-rel", kind: "symlink" });
  });
  test("following a dangling link that points outside is ENOTCAPABLE", () => {
    expect(res("dangling-abs", true)).toEqual(NOTCAP);
    expect(res("dangling-rel", true)).toEqual(NOTCAP);
    expect(res("dangling-rel/")).toEqual(NOTCAP);
  });
  test("following a dangling link that points inside yields the missing target, inside", () => {
    expect(res("dangling-in", true)).toMatchObject({ name: "missing-inside", exists: false, parent: tree.root });
  });
  test("file/ and file/// are ENOTDIR; dir/ is the dir and must be one", () => {
    expect(res("file.txt/")).toEqual({ errno: ERRNO.notdir });
    expect(res("file.txt///")).toEqual({ errno: ERRNO.notdir });
    expect(res("file.txt/.")).toEqual({ errno: ERRNO.notdir });
    expect(res("dir/")).toMatchObject({ name: "dir", kind: "dir", mustBeDir: true, parent: tree.root });
    expect(res("dir///")).toMatchObject({ name: "dir", mustBeDir: true });
  });
  test("symdir/ follows the link even without the follow flag", () => {
    expect(res("dirlink/")).toMatchObject({ name: "dir", kind: "dir", mustBeDir: true });
  });
  test("a path component that is a file is ENOTDIR", () => {
    expect(res("file.txt/x")).toEqual({ errno: ERRNO.notdir });
    expect(res("file.txt/../file.txt")).toEqual({ errno: ERRNO.notdir });
  });
  test("a missing intermediate is ENOENT; a missing final is returned for creation", () => {
    expect(res("nope/x")).toEqual({ errno: ERRNO.noent });
    expect(res("new.txt")).toMatchObject({ name: "new.txt", exists: false, mustBeDir: false });
    expect(res("newdir/")).toMatchObject({ name: "newdir", exists: false, mustBeDir: true });
  });
});

describe("resolveInPreopen: the held directory survives renames", () => {
  test("a base handle keeps resolving inside the renamed directory", () => {
    const { renameSync, mkdirSync, writeFileSync } = require("node:fs") as typeof import("node:fs");
    const d = join(tree.tmp, "moving");
    mkdirSync(d);
    writeFileSync(join(d, "f"), "x");
    const h = openDir(d);
    try {
      renameSync(d, join(tree.tmp, "moved"));
      const r = resolveInPreopen(h, "f", { followFinal: false });
      expect(hostPathOf(r.parent)).toBe(join(tree.tmp, "moved"));
      expect(r.stat?.isFile()).toBe(true);
      r.release();
      expect(() => resolveInPreopen(h, "../secret.txt", { followFinal: false })).toThrow();
    } finally {
      closeQuietly(h.fd);
    }
  });
});
