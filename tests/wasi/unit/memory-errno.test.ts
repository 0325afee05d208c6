import { describe, expect, test } from "bun:test";
import { ERRNO, errnoOf, fail, WasiErrno } from "../../../src/wasi/errno.ts";
import { GuestMemory } from "../../../src/wasi/memory.ts";
import { Guest } from "./harness.ts";

describe("errno mapping (one table, one function)", () => {
  test("host error codes map to WASI errnos", () => {
    const cases: [string, number][] = [
      ["ENOENT", ERRNO.noent], ["EACCES", ERRNO.acces], ["ELOOP", ERRNO.loop], ["EEXIST", ERRNO.exist],
      ["ENOTDIR", ERRNO.notdir], ["EISDIR", ERRNO.isdir], ["ENOTEMPTY", ERRNO.notempty], ["EPERM", ERRNO.perm],
      ["EXDEV", ERRNO.xdev], ["EMFILE", ERRNO.mfile], ["ENFILE", ERRNO.nfile], ["ENAMETOOLONG", ERRNO.nametoolong],
      ["EROFS", ERRNO.rofs], ["ENOSPC", ERRNO.nospc], ["EBADF", ERRNO.badf], ["EAGAIN", ERRNO.again],
      ["EOPNOTSUPP", ERRNO.notsup], ["ESPIPE", ERRNO.spipe], ["EINVAL", ERRNO.inval], ["EBUSY", ERRNO.busy],
    ];
    for (const [code, errno] of cases) expect(errnoOf(Object.assign(new Error(code), { code }))).toBe(errno);
  });
  test("Node argument errors (NUL in a path) are EINVAL, stray RangeErrors EFAULT, anything else EIO", () => {
    expect(errnoOf(Object.assign(new TypeError("nul"), { code: "ERR_INVALID_ARG_VALUE" }))).toBe(ERRNO.inval);
    expect(errnoOf(new RangeError("Offset is outside the bounds of the DataView"))).toBe(ERRNO.fault);
    expect(errnoOf(new Error("surprise"))).toBe(ERRNO.io);
    expect(errnoOf("a string")).toBe(ERRNO.io);
    expect(errnoOf(Object.assign(new Error("x"), { code: "EWHATEVER" }))).toBe(ERRNO.io);
  });
  test("WasiErrno keeps its value and fail() reuses instances", () => {
    expect(errnoOf(fail(ERRNO.notcapable))).toBe(76);
    expect(fail(ERRNO.badf)).toBe(fail(ERRNO.badf));
    expect(fail(ERRNO.badf)).toBeInstanceOf(WasiErrno);
  });
  test("spot-check the table against the witx numbering", () => {
    expect([ERRNO.success, ERRNO["2big"], ERRNO.fault, ERRNO.inval, ERRNO.noent, ERRNO.notsup, ERRNO.notcapable]).toEqual([0, 1, 21, 28, 44, 58, 76]);
  });
});

describe("GuestMemory", () => {
  const efault = (f: () => unknown): number => {
    try {
      f();
      return 0;
    } catch (e) {
      return e instanceof WasiErrno ? e.errno : -1;
    }
  };
  test("out-of-bounds pointers and lengths are EFAULT, never a JS exception", () => {
    const m = new GuestMemory();
    expect(efault(() => m.u32(0))).toBe(ERRNO.fault); // unbound
    m.bind(new WebAssembly.Memory({ initial: 1 }));
    expect(efault(() => m.check(65536, 1))).toBe(ERRNO.fault);
    expect(efault(() => m.check(65535, 1))).toBe(0);
    expect(efault(() => m.check(65536, 0))).toBe(0);
    expect(efault(() => m.u32(65533))).toBe(ERRNO.fault);
    expect(efault(() => m.bytes(0, -1))).toBe(ERRNO.fault); // len 0xFFFFFFFF
    expect(efault(() => m.bytes(-8, 4))).toBe(ERRNO.fault); // ptr 0xFFFFFFF8
    expect(efault(() => m.setU64(65530, 1n))).toBe(ERRNO.fault);
  });
  test("views follow memory.grow between calls", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const m = new GuestMemory();
    m.bind(mem);
    m.setU32(100, 7);
    expect(efault(() => m.setU32(70000, 1))).toBe(ERRNO.fault);
    mem.grow(1);
    m.setU32(70000, 42);
    expect(new DataView(mem.buffer).getUint32(70000, true)).toBe(42);
    expect(m.u32(100)).toBe(7);
  });
  test("through the imports: a bad iovec pointer is EFAULT, and growth is seen", () => {
    const g = new Guest([], { args: ["prog", "arg1"] });
    try {
      expect(g.call("fd_write", 1, 0x7ffffff0, 1, 16)).toBe(ERRNO.fault);
      const iov = g.alloc(8);
      new DataView(g.memory.buffer).setUint32(iov, 200_000, true); // beyond 2 pages
      new DataView(g.memory.buffer).setUint32(iov + 4, 10, true);
      expect(g.call("fd_write", 1, iov, 1, g.alloc(4))).toBe(ERRNO.fault);
      expect(g.call("fd_write", 1, iov, 0x40000000, g.alloc(4))).toBe(ERRNO.inval); // huge iovec count
      g.memory.grow(2);
      expect(g.call("fd_write", 1, iov, 1, g.alloc(4))).toBe(0);
      expect(g.call("args_sizes_get", 200_000, 200_008)).toBe(0);
      expect(g.u32(200_000)).toBe(2);
      expect(g.u32(200_008)).toBe("prog\0arg1\0".length);
      expect(g.call("args_get", 0xffffff00, 200_100)).toBe(ERRNO.fault);
      expect(g.call("path_open", 3, 0, 0, -1, 0, 0n, 0n, 0, 0)).toBe(ERRNO.badf);
    } finally {
      g.close();
    }
  });
});
