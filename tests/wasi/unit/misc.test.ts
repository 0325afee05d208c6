import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERRNO } from "../../../src/wasi/errno.ts";
import { CLOCK, EVENTTYPE } from "../../../src/wasi/types.ts";
import { Guest, makeTree } from "./harness.ts";

let tree: ReturnType<typeof makeTree>;
let g: Guest;
beforeEach(() => {
  tree = makeTree();
  g = new Guest([{ hostPath: tree.root, guestPath: "/p", readOnly: false }], { env: [["A", "1"], ["B", "x=y"]] });
});
afterEach(() => {
  g.close();
  tree.cleanup();
});

function sub(ptr: number, userdata: bigint, tag: number, fields: { id?: number; timeout?: bigint; flags?: number; fd?: number }): void {
  const dv = new DataView(g.memory.buffer);
  dv.setBigUint64(ptr, userdata, true);
  dv.setUint8(ptr + 8, tag);
  if (tag === EVENTTYPE.clock) {
    dv.setUint32(ptr + 16, fields.id ?? CLOCK.monotonic, true);
    dv.setBigUint64(ptr + 24, fields.timeout ?? 0n, true);
    dv.setBigUint64(ptr + 32, 0n, true);
    dv.setUint16(ptr + 40, fields.flags ?? 0, true);
  } else dv.setUint32(ptr + 16, fields.fd ?? 0, true);
}

describe("clocks, random, environ, proc, sock", () => {
  test("clock_time_get / clock_res_get for all four clocks; bad id is EINVAL", () => {
    const ret = g.alloc(8);
    for (const id of [0, 1, 2, 3]) {
      expect(g.call("clock_time_get", id, 1n, ret)).toBe(0);
      expect(g.u64(ret)).toBeGreaterThan(0n);
      expect(g.call("clock_res_get", id, ret)).toBe(0);
      expect(g.u64(ret)).toBeGreaterThan(0n);
    }
    expect(g.call("clock_time_get", 4, 1n, ret)).toBe(ERRNO.inval);
    expect(g.call("clock_res_get", 99, ret)).toBe(ERRNO.inval);
    g.call("clock_time_get", CLOCK.realtime, 1n, ret);
    const wall = Number(g.u64(ret) / 1_000_000n);
    expect(Math.abs(wall - Date.now())).toBeLessThan(60_000);
  });
  test("random_get fills more than 64 KiB", () => {
    const ptr = 4096;
    new Uint8Array(g.memory.buffer, ptr, 100_000).fill(0);
    expect(g.call("random_get", ptr, 100_000)).toBe(0);
    const tail = new Uint8Array(g.memory.buffer, ptr + 90_000, 10_000);
    expect(tail.some((b) => b !== 0)).toBe(true);
    expect(g.call("random_get", 131_070, 10)).toBe(ERRNO.fault);
  });
  test("environ exactly as given", () => {
    expect(g.call("environ_sizes_get", 16, 20)).toBe(0);
    expect(g.u32(16)).toBe(2);
    expect(g.u32(20)).toBe("A=1\0B=x=y\0".length);
    expect(g.call("environ_get", 32, 64)).toBe(0);
    expect(g.u32(32)).toBe(64);
    expect(new TextDecoder().decode(g.bytes(64, 10))).toBe("A=1\0B=x=y\0");
  });
  test("proc_raise is ENOTSUP, sched_yield succeeds, proc_exit throws the WasiExit sentinel", () => {
    expect(g.call("proc_raise", 9)).toBe(ERRNO.notsup);
    expect(g.call("sched_yield")).toBe(0);
    expect(() => g.call("proc_exit", 3)).toThrow("guest exited with code 3");
  });
  test("sock_* are EBADF for unknown fds and ENOTSOCK for others", () => {
    for (const [name, args] of [["sock_accept", [0, 16]], ["sock_recv", [16, 1, 0, 16, 20]], ["sock_send", [16, 1, 0, 16]], ["sock_shutdown", [3]]] as const) {
      expect(g.call(name, 77, ...args)).toBe(ERRNO.badf);
      expect(g.call(name, 1, ...args)).toBe(ERRNO.notsock);
      expect(g.call(name, 3, ...args)).toBe(ERRNO.notsock);
    }
  });
  test("all 46 preview1 functions are provided", () => {
    expect(Object.keys(g.wasi.imports).length).toBe(46);
  });
});

describe("poll_oneoff", () => {
  test("zero subscriptions are EINVAL", () => {
    expect(g.call("poll_oneoff", 1024, 2048, 0, 4000)).toBe(ERRNO.inval);
  });
  test("a relative clock sleep returns one clock event with the userdata", () => {
    sub(1024, 0x12345678n, EVENTTYPE.clock, { timeout: 2_000_000n });
    expect(g.call("poll_oneoff", 1024, 2048, 1, 4000)).toBe(0);
    expect(g.u32(4000)).toBe(1);
    expect(g.u64(2048)).toBe(0x12345678n);
    expect(g.bytes(2048 + 8, 3)).toEqual(new Uint8Array([0, 0, EVENTTYPE.clock]));
  });
  test("an absolute time in the past fires at once; a bad clock id is a per-event EINVAL", () => {
    sub(1024, 1n, EVENTTYPE.clock, { id: CLOCK.realtime, timeout: 1n, flags: 1 });
    sub(1072, 2n, EVENTTYPE.clock, { id: 9, timeout: 1n });
    expect(g.call("poll_oneoff", 1024, 2048, 2, 4000)).toBe(0);
    expect(g.u32(4000)).toBe(2);
    const errs = [g.u64(2048), g.u64(2080)].map(Number);
    expect(errs.sort()).toEqual([1, 2]);
  });
  test("fd subscriptions are ready at once; bad fds report EBADF per event; u64::MAX timeout does not sleep then", () => {
    sub(1024, 7n, EVENTTYPE.clock, { timeout: 0xffffffffffffffffn });
    sub(1072, 8n, EVENTTYPE.fd_write, { fd: 1 });
    sub(1120, 9n, EVENTTYPE.fd_read, { fd: 500 });
    expect(g.call("poll_oneoff", 1024, 2048, 3, 4000)).toBe(0);
    expect(g.u32(4000)).toBe(2);
    const byUser = new Map([[g.u64(2048), new DataView(g.memory.buffer).getUint16(2048 + 8, true)], [g.u64(2080), new DataView(g.memory.buffer).getUint16(2080 + 8, true)]]);
    expect(byUser.get(8n)).toBe(0);
    expect(byUser.get(9n)).toBe(ERRNO.badf);
  });
  test("a sleep past the run's deadline ends the run instead of oversleeping", () => {
    const short = new Guest([], { deadline: performance.now() + 20 });
    try {
      const dv = new DataView(short.memory.buffer);
      dv.setBigUint64(1024, 1n, true);
      dv.setUint8(1032, EVENTTYPE.clock);
      dv.setUint32(1040, CLOCK.monotonic, true);
      dv.setBigUint64(1048, 0xffffffffffffffffn, true);
      expect(() => short.call("poll_oneoff", 1024, 2048, 1, 4000)).toThrow("deadline");
    } finally {
      short.close();
    }
  });
});

describe("fd_readdir cookies and tiny buffers", () => {
  function names(buf: number, used: number): string[] {
    const out: string[] = [];
    const dv = new DataView(g.memory.buffer);
    let o = 0;
    while (o + 24 <= used) {
      const len = dv.getUint32(buf + o + 16, true);
      if (o + 24 + len > used) break;
      out.push(new TextDecoder().decode(g.bytes(buf + o + 24, len)));
      o += 24 + len;
    }
    return out;
  }
  test("lists . and .. and every entry; cookies resume; tiny buffers truncate", () => {
    mkdirSync(join(tree.root, "many"));
    for (let i = 0; i < 50; i++) writeFileSync(join(tree.root, "many", `f${i}`), "");
    const [, fd] = g.open(3, "many", { rights: BigInt(1 << 14) });
    const buf = 8192;
    expect(g.call("fd_readdir", fd, buf, 4096, 0n, 100)).toBe(0);
    const used = g.u32(100);
    expect(used).toBeLessThan(4096);
    const all = names(buf, used);
    expect(all.length).toBe(52);
    expect(all.slice(0, 2)).toEqual([".", ".."]);
    // resume from the 10th entry's d_next
    const dNext10 = new DataView(g.memory.buffer).getBigUint64(buf, true) + 9n;
    expect(g.call("fd_readdir", fd, buf, 4096, dNext10, 100)).toBe(0);
    expect(names(buf, g.u32(100))).toEqual(all.slice(10));
    for (const small of [0, 1, 23, 24, 25]) {
      expect(g.call("fd_readdir", fd, buf, small, 0n, 100)).toBe(0);
      expect(g.u32(100)).toBe(small); // full buffer = "maybe more"
    }
    expect(g.call("fd_readdir", fd, buf, 4096, 0xffffffffffffffffn, 100)).toBe(0);
    expect(g.u32(100)).toBe(0);
    expect(g.call("fd_readdir", 1, buf, 4096, 0n, 100)).toBe(ERRNO.notdir);
  });
});

describe("file position, stat and times", () => {
  test("seek/tell/pread/pwrite/filestat/set_size/allocate", () => {
    const [e, fd] = g.open(3, "f.bin", { oflags: 1, rights: 0x1fffffffn });
    expect(e).toBe(0);
    expect(g.write(fd, "0123456789")).toEqual([0, 10]);
    const ret = g.alloc(8);
    expect(g.call("fd_tell", fd, ret)).toBe(0);
    expect(g.u64(ret)).toBe(10n);
    expect(g.call("fd_seek", fd, -4n, 2, ret)).toBe(0);
    expect(g.u64(ret)).toBe(6n);
    expect(g.read(fd, 10)).toEqual([0, "6789"]);
    expect(g.call("fd_seek", fd, -100n, 1, ret)).toBe(ERRNO.inval);
    expect(g.call("fd_seek", fd, 0n, 7, ret)).toBe(ERRNO.inval);
    expect(g.call("fd_seek", 1, 0n, 0, ret)).toBe(ERRNO.spipe);
    const st = g.alloc(64);
    expect(g.call("fd_filestat_get", fd, st)).toBe(0);
    expect(g.bytes(st + 16, 1)[0]).toBe(4);
    expect(g.u64(st + 32)).toBe(10n);
    expect(g.call("fd_filestat_set_size", fd, 3n)).toBe(0);
    expect(g.call("fd_allocate", fd, 0n, 20n)).toBe(0);
    g.call("fd_filestat_get", fd, st);
    expect(g.u64(st + 32)).toBe(20n);
    expect(g.call("fd_filestat_set_times", fd, 1_000_000_000n, 2_000_000_000n, 1 | 4)).toBe(0);
    g.call("fd_filestat_get", fd, st);
    expect(g.u64(st + 48)).toBe(2_000_000_000n);
    expect(g.call("fd_filestat_set_times", fd, 0n, 0n, 1 | 2)).toBe(ERRNO.inval);
    const [p, l] = g.put("f.bin");
    expect(g.call("path_filestat_get", 3, 0, p, l, st)).toBe(0);
    expect(g.u64(st + 32)).toBe(20n);
  });
});
