import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERRNO } from "../../../src/wasi/errno.ts";
import { OFLAGS, RIGHTS, FDFLAGS } from "../../../src/wasi/types.ts";
import { Guest, link, makeTree } from "./harness.ts";

let tree: ReturnType<typeof makeTree>;
let rw: string;
let g: Guest;
const RW = 3;
const RO = 4;
const READ = BigInt(RIGHTS.fd_read);
const WRITE = BigInt(RIGHTS.fd_write);

beforeEach(() => {
  tree = makeTree();
  rw = join(tree.tmp, "rw");
  mkdirSync(rw);
  link(join(tree.tmp, "outside", "new"), join(rw, "dangling-abs"));
  link("../outside/new", join(rw, "dangling-rel"));
  link("../outside", join(rw, "outdir"));
  g = new Guest([
    { hostPath: rw, guestPath: "/rw", readOnly: false },
    { hostPath: tree.root, guestPath: "/project", readOnly: true },
  ]);
});

afterEach(() => {
  g.close();
  tree.cleanup();
});

const outsideNew = () => join(tree.tmp, "outside", "new");

describe("dangling symlinks pointing outside create nothing outside", () => {
  for (const name of ["dangling-abs", "dangling-rel"]) {
    test(`${name}: O_CREAT, O_CREAT|O_EXCL, mkdir, symlink, link, rename`, () => {
      expect(g.open(RW, name, { oflags: OFLAGS.creat, rights: WRITE })[0]).toBe(ERRNO.loop);
      expect(g.open(RW, name, { oflags: OFLAGS.creat, rights: WRITE, follow: true })[0]).toBe(ERRNO.notcapable);
      expect(g.open(RW, name, { oflags: OFLAGS.creat | OFLAGS.excl, rights: WRITE, follow: true })[0]).toBe(ERRNO.exist);
      expect(g.path("path_create_directory", RW, name)).toBe(ERRNO.exist);
      expect(g.path("path_create_directory", RW, `${name}/`)).toBe(ERRNO.notcapable);
      const [t, tl] = g.put("x");
      const [n, nl] = g.put(name);
      expect(g.call("path_symlink", t, tl, RW, n, nl)).toBe(ERRNO.exist);
      writeFileSync(join(rw, "src.txt"), "s");
      const [s, sl] = g.put("src.txt");
      expect(g.call("path_link", RW, 0, s, sl, RW, n, nl)).toBe(ERRNO.exist);
      // rename replaces the link itself, never its target
      expect(g.call("path_rename", RW, s, sl, RW, n, nl)).toBe(0);
      expect(lstatSync(join(rw, name)).isFile()).toBe(true);
      expect(existsSync(outsideNew())).toBe(false);
    });
  }
  test("opening a final symlink without the follow flag is ELOOP", () => {
    link("dir", join(tree.root, "dl"));
    expect(g.open(RO, "dl", { rights: READ })[0]).toBe(ERRNO.loop);
  });
  test("a link to an outside dir cannot be used as an intermediate or with a trailing slash", () => {
    expect(g.open(RW, "outdir/secret.txt", { rights: READ })[0]).toBe(ERRNO.notcapable);
    expect(g.open(RW, "outdir/", { rights: READ })[0]).toBe(ERRNO.notcapable);
    expect(g.path("path_unlink_file", RW, "outdir/secret.txt")).toBe(ERRNO.notcapable);
    expect(readFileSync(join(tree.tmp, "outside", "secret.txt"), "utf8")).toBe("OUTSIDE");
  });
  test("guest-created symlinks: absolute targets refused, escaping ones fail when used", () => {
    const [t, tl] = g.put("/etc/passwd");
    const [n, nl] = g.put("p");
    expect(g.call("path_symlink", t, tl, RW, n, nl)).toBe(ERRNO.perm);
    const [t2, t2l] = g.put("../../secret.txt");
    expect(g.call("path_symlink", t2, t2l, RW, n, nl)).toBe(0);
    expect(g.open(RW, "p", { rights: READ, follow: true })[0]).toBe(ERRNO.notcapable);
    const [l1, l1l] = g.put(".");
    const [l1n, l1nl] = g.put("L1");
    expect(g.call("path_symlink", l1, l1l, RW, l1n, l1nl)).toBe(0);
    const [up, upl] = g.put("L1/..");
    const [upn, upnl] = g.put("up");
    expect(g.call("path_symlink", up, upl, RW, upn, upnl)).toBe(0);
    expect(g.open(RW, "up/secret.txt", { rights: READ })[0]).toBe(ERRNO.notcapable);
  });
});

describe("path_open basics", () => {
  test("create, write, read back, readdir sees it", () => {
    const [e, fd] = g.open(RW, "hello.txt", { oflags: OFLAGS.creat, rights: READ | WRITE | BigInt(RIGHTS.fd_seek) });
    expect(e).toBe(0);
    expect(g.write(fd, "hi there")).toEqual([0, 8]);
    expect(readFileSync(join(rw, "hello.txt"), "utf8")).toBe("hi there");
    const ret = g.alloc(8);
    expect(g.call("fd_seek", fd, 3n, 0, ret)).toBe(0);
    expect(g.read(fd, 100)).toEqual([0, "there"]);
    expect(g.call("fd_close", fd)).toBe(0);
  });
  test("'.' opens the directory; a directory with write rights is EISDIR", () => {
    expect(g.open(RW, ".", { rights: READ })[0]).toBe(0);
    expect(g.open(RW, ".", { rights: WRITE })[0]).toBe(ERRNO.isdir);
  });
  test("O_DIRECTORY on a file is ENOTDIR; a file with a trailing slash is ENOTDIR", () => {
    expect(g.open(RO, "file.txt", { oflags: OFLAGS.directory, rights: READ })[0]).toBe(ERRNO.notdir);
    expect(g.open(RO, "file.txt/", { rights: READ })[0]).toBe(ERRNO.notdir);
  });
  test("path calls on a file fd are ENOTDIR, on unknown fds EBADF", () => {
    const [, fd] = g.open(RO, "file.txt", { rights: READ });
    expect(g.open(fd, "x", { rights: READ })[0]).toBe(ERRNO.notdir);
    expect(g.open(99, "x", { rights: READ })[0]).toBe(ERRNO.badf);
  });
  test("path_remove_directory, unlink and rename of '.' fail", () => {
    expect(g.path("path_remove_directory", RW, ".")).toBe(ERRNO.inval);
    const [d, dl] = g.put(".");
    const [n, nl] = g.put("x");
    expect(g.call("path_rename", RW, d, dl, RW, n, nl)).toBe(ERRNO.busy);
    expect(g.path("path_unlink_file", RW, ".")).toBe(ERRNO.isdir);
  });
  test("mkdir with a trailing slash, rmdir, unlink", () => {
    expect(g.path("path_create_directory", RW, "sub/")).toBe(0);
    expect(g.path("path_create_directory", RW, "sub")).toBe(ERRNO.exist);
    expect(g.path("path_unlink_file", RW, "sub")).toBe(ERRNO.isdir);
    expect(g.path("path_remove_directory", RW, "sub/")).toBe(0);
    writeFileSync(join(rw, "f"), "");
    expect(g.path("path_remove_directory", RW, "f")).toBe(ERRNO.notdir);
    expect(g.path("path_unlink_file", RW, "f/")).toBe(ERRNO.notdir);
    expect(g.path("path_unlink_file", RW, "f")).toBe(0);
  });
  test("path_readlink truncates to the buffer; absolute targets are not revealed", () => {
    link("some/target", join(rw, "rl"));
    const [p, l] = g.put("rl");
    const buf = g.alloc(16);
    const ret = g.alloc(4);
    expect(g.call("path_readlink", RW, p, l, buf, 4, ret)).toBe(0);
    expect(g.u32(ret)).toBe(4);
    expect(new TextDecoder().decode(g.bytes(buf, 4))).toBe("some");
    const [a, al] = g.put("dangling-abs");
    expect(g.call("path_readlink", RW, a, al, buf, 16, ret)).toBe(ERRNO.notcapable);
  });
});

describe("read-only preopens refuse every mutation at one gate", () => {
  const before = () => readFileSync(join(tree.root, "file.txt"), "utf8");
  test("O_TRUNC with only read rights, O_CREAT, write rights, append, sync flags", () => {
    expect(g.open(RO, "file.txt", { oflags: OFLAGS.trunc, rights: READ })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "new.txt", { oflags: OFLAGS.creat, rights: READ })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "file.txt", { rights: READ | WRITE })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "file.txt", { rights: READ | BigInt(RIGHTS.fd_filestat_set_size) })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "file.txt", { rights: READ | BigInt(RIGHTS.fd_allocate) })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "file.txt", { rights: READ, fdflags: FDFLAGS.append })[0]).toBe(ERRNO.rofs);
    expect(g.open(RO, "file.txt", { rights: READ, fdflags: FDFLAGS.sync })[0]).toBe(ERRNO.rofs);
    expect(before()).toBe("inside");
    expect(existsSync(join(tree.root, "new.txt"))).toBe(false);
  });
  test("an fd opened read-only refuses write, pwrite, allocate, set_size, set_times, append", () => {
    const [e, fd] = g.open(RO, "file.txt", { rights: 0x1fffffffn & ~(WRITE | BigInt(RIGHTS.fd_allocate | RIGHTS.fd_filestat_set_size | RIGHTS.fd_datasync)) });
    expect(e).toBe(0);
    expect(g.write(fd, "x")[0]).toBe(ERRNO.rofs);
    const [p, l] = g.put("x");
    const iov = g.alloc(8);
    new DataView(g.memory.buffer).setUint32(iov, p, true);
    new DataView(g.memory.buffer).setUint32(iov + 4, l, true);
    expect(g.call("fd_pwrite", fd, iov, 1, 0n, g.alloc(4))).toBe(ERRNO.rofs);
    expect(g.call("fd_allocate", fd, 0n, 100n)).toBe(ERRNO.rofs);
    expect(g.call("fd_filestat_set_size", fd, 0n)).toBe(ERRNO.rofs);
    expect(g.call("fd_filestat_set_times", fd, 0n, 0n, 2 | 8)).toBe(ERRNO.rofs);
    expect(g.call("fd_fdstat_set_flags", fd, FDFLAGS.append)).toBe(ERRNO.rofs);
    expect(g.call("fd_filestat_set_times", RO, 0n, 0n, 2)).toBe(ERRNO.rofs);
    expect(before()).toBe("inside");
    // and rights never widen back
    const st = g.alloc(24);
    expect(g.call("fd_fdstat_get", fd, st)).toBe(0);
    expect(g.u64(st + 8) & WRITE).toBe(0n);
    expect(g.call("fd_fdstat_set_rights", fd, 0x3fffffffn, 0n)).toBe(ERRNO.notcapable);
  });
  test("directory mutations", () => {
    expect(g.path("path_create_directory", RO, "newdir")).toBe(ERRNO.rofs);
    expect(g.path("path_remove_directory", RO, "a/b/c")).toBe(ERRNO.rofs);
    expect(g.path("path_unlink_file", RO, "file.txt")).toBe(ERRNO.rofs);
    const [t, tl] = g.put("file.txt");
    const [n, nl] = g.put("ln");
    expect(g.call("path_symlink", t, tl, RO, n, nl)).toBe(ERRNO.rofs);
    expect(g.call("path_filestat_set_times", RO, 0, t, tl, 0n, 0n, 2)).toBe(ERRNO.rofs);
    expect(readdirSync(join(tree.root, "a", "b"))).toEqual(["c"]);
  });
  test("link and rename out of, into and within the read-only preopen (CVE-2026-58494 class)", () => {
    const [f, fl] = g.put("file.txt");
    const [x, xl] = g.put("x");
    expect(g.call("path_link", RO, 0, f, fl, RW, x, xl)).toBe(ERRNO.rofs);
    expect(g.call("path_rename", RO, f, fl, RW, x, xl)).toBe(ERRNO.rofs);
    writeFileSync(join(rw, "x"), "rw");
    expect(g.call("path_rename", RW, x, xl, RO, x, xl)).toBe(ERRNO.rofs);
    expect(g.call("path_link", RW, 0, x, xl, RO, x, xl)).toBe(ERRNO.rofs);
    expect(g.call("path_link", RO, 0, f, fl, RO, x, xl)).toBe(ERRNO.rofs);
    expect(readFileSync(join(rw, "x"), "utf8")).toBe("rw");
    expect(existsSync(join(tree.root, "x"))).toBe(false);
  });
  test("reading still works", () => {
    const [e, fd] = g.open(RO, "dir/nested/file", { rights: READ });
    expect(e).toBe(0);
    expect(g.read(fd, 100)).toEqual([0, "nested"]);
  });
});

describe("trailing slashes through symlinks act on the link, never its target", () => {
  test("rmdir, rename, unlink, mkdir with 'link/'", () => {
    mkdirSync(join(rw, "realdir"));
    link("realdir", join(rw, "dl"));
    link("not-yet", join(rw, "dangle"));
    expect(g.path("path_remove_directory", RW, "dl/")).toBe(ERRNO.notdir);
    expect(g.path("path_unlink_file", RW, "dl/")).toBe(ERRNO.notdir);
    const [s, sl] = g.put("dl/");
    const [d, dl] = g.put("moved");
    expect(g.call("path_rename", RW, s, sl, RW, d, dl)).toBe(ERRNO.notdir);
    expect(g.path("path_create_directory", RW, "dangle/")).toBe(ERRNO.exist);
    expect(existsSync(join(rw, "realdir"))).toBe(true);
    expect(existsSync(join(rw, "not-yet"))).toBe(false);
    expect(g.path("path_unlink_file", RW, "dl")).toBe(0); // the link itself, without the slash
    expect(existsSync(join(rw, "realdir"))).toBe(true);
  });
});
