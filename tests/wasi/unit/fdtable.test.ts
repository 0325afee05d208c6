import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { ERRNO, WasiErrno } from "../../../src/wasi/errno.ts";
import { FdTable, type StdioEntry } from "../../../src/wasi/fdtable.ts";
import { RIGHTS } from "../../../src/wasi/types.ts";
import { Guest, makeTree } from "./harness.ts";

const stdio = (rights: number): StdioEntry => ({ kind: "stdio", hostFd: undefined, sink: undefined, rightsBase: rights, rightsInheriting: 0, fdflags: 0, filetype: 2 });
const errnoOf = (f: () => unknown): number => {
  try {
    f();
    return 0;
  } catch (e) {
    if (e instanceof WasiErrno) return e.errno;
    throw e;
  }
};

describe("FdTable", () => {
  test("the rights gate: EBADF for unknown fds, ENOTCAPABLE for missing rights", () => {
    const t = new FdTable(8);
    t.set(0, stdio(RIGHTS.fd_read));
    expect(errnoOf(() => t.get(5, 0))).toBe(ERRNO.badf);
    expect(errnoOf(() => t.get(-1, 0))).toBe(ERRNO.badf);
    expect(errnoOf(() => t.get(0, RIGHTS.fd_write))).toBe(ERRNO.notcapable);
    expect(errnoOf(() => t.get(0, RIGHTS.fd_read))).toBe(0);
    expect(errnoOf(() => t.dir(0, 0))).toBe(ERRNO.notdir);
  });

  test("setRights only narrows", () => {
    const t = new FdTable(8);
    t.set(0, stdio(RIGHTS.fd_read | RIGHTS.fd_write));
    expect(errnoOf(() => t.setRights(0, RIGHTS.fd_read | RIGHTS.fd_seek, 0))).toBe(ERRNO.notcapable);
    expect(errnoOf(() => t.setRights(0, RIGHTS.fd_read, RIGHTS.fd_read))).toBe(ERRNO.notcapable);
    expect(errnoOf(() => t.setRights(0, RIGHTS.fd_read, 0))).toBe(0);
    expect(errnoOf(() => t.setRights(0, RIGHTS.fd_read | RIGHTS.fd_write, 0))).toBe(ERRNO.notcapable);
    expect(t.get(0, 0).rightsBase).toBe(RIGHTS.fd_read);
  });

  test("renumber: x -> x is a no-op, onto a closed fd is EBADF, over an open fd replaces it", () => {
    const t = new FdTable(8);
    const a = stdio(1);
    const b = stdio(2);
    t.set(0, a);
    t.set(1, b);
    expect(errnoOf(() => t.renumber(0, 0))).toBe(0);
    expect(t.peek(0)).toBe(a);
    expect(errnoOf(() => t.renumber(0, 7))).toBe(ERRNO.badf);
    expect(errnoOf(() => t.renumber(7, 0))).toBe(ERRNO.badf);
    expect(t.peek(0)).toBe(a);
    expect(errnoOf(() => t.renumber(0, 1))).toBe(0);
    expect(t.peek(1)).toBe(a);
    expect(t.peek(0)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  test("per-instance limit: EMFILE, and closing frees a slot (lowest fd reused)", () => {
    const t = new FdTable(3);
    expect(t.insert(stdio(0))).toBe(0);
    expect(t.insert(stdio(0))).toBe(1);
    expect(t.insert(stdio(0))).toBe(2);
    expect(errnoOf(() => t.insert(stdio(0)))).toBe(ERRNO.mfile);
    t.close(1);
    expect(errnoOf(() => t.close(1))).toBe(ERRNO.badf);
    expect(t.insert(stdio(0))).toBe(1);
  });
});

describe("fd table through the WASI functions", () => {
  let tree: ReturnType<typeof makeTree>;
  let g: Guest;
  beforeEach(() => {
    tree = makeTree();
    g = new Guest([{ hostPath: tree.root, guestPath: "/p", readOnly: false }], { maxFds: 10 });
  });
  afterEach(() => {
    g.close();
    tree.cleanup();
  });

  test("fd_prestat_get: EBADF for stdio, files, closed and huge fds; the virtual name for preopens", () => {
    const ret = g.alloc(8);
    for (const fd of [0, 1, 2, 4, 1024, 0x7fffffff, 0xffffffff]) expect(g.call("fd_prestat_get", fd, ret)).toBe(ERRNO.badf);
    expect(g.call("fd_prestat_get", 3, ret)).toBe(0);
    expect(g.u32(ret + 4)).toBe(2);
    const buf = g.alloc(8);
    expect(g.call("fd_prestat_dir_name", 3, buf, 1)).toBe(ERRNO.nametoolong);
    expect(g.call("fd_prestat_dir_name", 3, buf, 8)).toBe(0);
    expect(new TextDecoder().decode(g.bytes(buf, 2))).toBe("/p");
    expect(g.bytes(buf + 2, 1)[0]).toBe(0); // nothing written past the name
    const [, fd] = g.open(3, "file.txt", { rights: 2n });
    expect(g.call("fd_prestat_get", fd, ret)).toBe(ERRNO.badf);
    expect(g.call("fd_prestat_dir_name", fd, buf, 8)).toBe(ERRNO.badf);
  });

  test("renumber x->x then path_open still works (CVE-2025-53901); onto closed is EBADF", () => {
    expect(g.call("fd_renumber", 3, 3)).toBe(0);
    expect(g.open(3, "file.txt", { rights: 2n })[0]).toBe(0);
    expect(g.call("fd_renumber", 3, 9)).toBe(ERRNO.badf);
    expect(g.open(3, "file.txt", { rights: 2n })[0]).toBe(0);
  });

  test("renumbering a file over the preopen makes it a non-preopen; closing a preopen then using it is EBADF", () => {
    const [, fd] = g.open(3, "file.txt", { rights: 2n });
    expect(g.call("fd_renumber", fd, 3)).toBe(0);
    expect(g.call("fd_prestat_get", 3, g.alloc(8))).toBe(ERRNO.badf);
    expect(g.read(3, 100)).toEqual([0, "inside"]);
    expect(g.call("fd_close", 3)).toBe(0);
    expect(g.open(3, "file.txt", { rights: 2n })[0]).toBe(ERRNO.badf);
    expect(g.call("fd_close", 3)).toBe(ERRNO.badf);
  });

  test("opening files in a loop stops at the per-instance limit with EMFILE", () => {
    let last = 0;
    let opened = 0;
    for (let i = 0; i < 50; i++) {
      const [e] = g.open(3, "file.txt", { rights: 2n });
      last = e;
      if (e !== 0) break;
      opened++;
    }
    expect(last).toBe(ERRNO.mfile);
    expect(opened).toBe(6); // 10 minus stdio and the preopen
  });

  test("fd_fdstat_set_rights narrows through the ABI and refuses widening", () => {
    const [, fd] = g.open(3, "file.txt", { rights: BigInt(RIGHTS.fd_read | RIGHTS.fd_seek) });
    expect(g.call("fd_fdstat_set_rights", fd, BigInt(RIGHTS.fd_read), 0n)).toBe(0);
    expect(g.call("fd_fdstat_set_rights", fd, BigInt(RIGHTS.fd_read | RIGHTS.fd_seek), 0n)).toBe(ERRNO.notcapable);
    expect(g.call("fd_fdstat_set_rights", fd, 1n << 40n, 0n)).toBe(ERRNO.notcapable);
    expect(g.call("fd_seek", fd, 0n, 0, g.alloc(8))).toBe(ERRNO.notcapable);
  });
});
