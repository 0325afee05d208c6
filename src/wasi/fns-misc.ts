import { ERRNO, fail } from "./errno.ts";
import type { WasiContext } from "./context.ts";
import { CLOCK } from "./types.ts";
import { WasiExit } from "./exit.ts";

/** args_*, environ_*, clock_*, random_get, proc_*, sched_yield, sock_*. */

function stringsGet(ctx: WasiContext, which: "args" | "env", ptrs: number, buf: number): number {
  const s = ctx[which];
  const m = ctx.mem;
  m.check(ptrs, s.offsets.length * 4);
  // Charged by size: an environment of megabytes copied on every call is host work a loop repeats.
  ctx.gate.bytes(s.buf.length + s.offsets.length * 4);
  m.write(buf, s.buf);
  const base = buf >>> 0;
  for (let i = 0; i < s.offsets.length; i++) m.setU32(ptrs + i * 4, base + s.offsets[i]!);
  return ERRNO.success;
}

function sizesGet(ctx: WasiContext, which: "args" | "env", countPtr: number, sizePtr: number): number {
  const s = ctx[which];
  ctx.mem.check(countPtr, 4);
  ctx.mem.check(sizePtr, 4);
  ctx.mem.setU32(countPtr, s.offsets.length);
  ctx.mem.setU32(sizePtr, s.buf.length);
  return ERRNO.success;
}

const timeOriginNs = BigInt(Math.round(performance.timeOrigin * 1000)) * 1000n;

/** Current time of a WASI clock in ns; EINVAL for unknown clock ids. */
export function clockNow(id: number): bigint {
  switch (id) {
    case CLOCK.realtime:
      return timeOriginNs + BigInt(Math.round(performance.now() * 1e6));
    case CLOCK.monotonic:
      return process.hrtime.bigint();
    case CLOCK.process_cputime_id:
    case CLOCK.thread_cputime_id: {
      // One thread runs the guest, so process CPU time is the best estimate of thread CPU time.
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default:
      throw fail(ERRNO.inval);
  }
}

function clockRes(id: number): bigint {
  switch (id) {
    case CLOCK.realtime:
      return 1000n; // performance.now() is µs-ish; do not claim more
    case CLOCK.monotonic:
      return 1n;
    case CLOCK.process_cputime_id:
    case CLOCK.thread_cputime_id:
      return 1000n; // cpuUsage() is in µs
    default:
      throw fail(ERRNO.inval);
  }
}

const RANDOM_CHUNK = 65536;

export function miscFunctions(ctx: WasiContext) {
  const m = ctx.mem;
  return {
    args_get: (argv: number, buf: number) => stringsGet(ctx, "args", argv, buf),
    args_sizes_get: (c: number, s: number) => sizesGet(ctx, "args", c, s),
    environ_get: (envp: number, buf: number) => stringsGet(ctx, "env", envp, buf),
    environ_sizes_get: (c: number, s: number) => sizesGet(ctx, "env", c, s),

    clock_res_get(id: number, ret: number): number {
      const r = clockRes(id);
      m.setU64(ret, r);
      return ERRNO.success;
    },
    clock_time_get(id: number, _precision: bigint, ret: number): number {
      m.check(ret, 8);
      m.setU64(ret, clockNow(id));
      return ERRNO.success;
    },

    random_get(buf: number, len: number): number {
      const bytes = m.bytes(buf, len);
      // getRandomValues refuses more than 64 KiB per call.
      // Charged chunk by chunk: a multi-GiB request meets the fuel and the deadline midway.
      for (let o = 0; o < bytes.length; o += RANDOM_CHUNK) {
        ctx.gate.bytes(Math.min(RANDOM_CHUNK, bytes.length - o));
        crypto.getRandomValues(bytes.subarray(o, Math.min(o + RANDOM_CHUNK, bytes.length)));
      }
      return ERRNO.success;
    },

    proc_exit(code: number): never {
      throw new WasiExit(code >>> 0);
    },
    // Never signal the host: there is no process to signal.
    proc_raise: (_sig: number) => ERRNO.notsup,
    sched_yield: () => ERRNO.success,

    // No socket can ever exist in this host: unknown fds are EBADF, every other fd ENOTSOCK.
    sock_accept: (fd: number, _flags: number, _ret: number) => notSock(ctx, fd),
    sock_recv: (fd: number, _iovs: number, _n: number, _flags: number, _r0: number, _r1: number) => notSock(ctx, fd),
    sock_send: (fd: number, _iovs: number, _n: number, _flags: number, _ret: number) => notSock(ctx, fd),
    sock_shutdown: (fd: number, _how: number) => notSock(ctx, fd),
  };
}

function notSock(ctx: WasiContext, fd: number): number {
  return ctx.fds.peek(fd) === undefined ? ERRNO.badf : ERRNO.notsock;
}
