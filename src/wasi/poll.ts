import { fstatSync } from "node:fs";
import { ERRNO, errnoOf, fail } from "./errno.ts";
import type { WasiContext } from "./context.ts";
import { clockNow } from "./fns-misc.ts";
import { stdinReadiness } from "./readiness.ts";
import { EVENTTYPE, LIMITS, RIGHTS, SIZE, SUBCLOCKFLAGS_ABSTIME } from "./types.ts";

/**
 * poll_oneoff: clock subscriptions sleep synchronously (Atomics.wait on a private
 * SharedArrayBuffer), never past the run's deadline; fd subscriptions are always
 * ready (regular files, directories and stdio never make a guest wait here; a read
 * that then blocks is the guest's own business, bounded by the deadline).
 */

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Sleep until performance.now() reaches `until` ms. Exported for tests. */
export function sleepUntil(until: number): void {
  for (;;) {
    const left = until - performance.now();
    if (left <= 0) return;
    Atomics.wait(cell, 0, 0, Math.min(left, 1_000));
  }
}

interface Ready {
  userdata: bigint;
  error: number;
  type: number;
  nbytes: bigint;
  /** EVENTRWFLAGS: FD_READWRITE_HANGUP at end of input. */
  flags?: number;
}

const EVENTRWFLAGS_FD_READWRITE_HANGUP = 1;

/** Fuel per poll_oneoff subscription (up to 4096 per call), on top of the call's base cost. */
export const POLL_SUBSCRIPTION_COST = 100;

export function pollFunctions(ctx: WasiContext) {
  const m = ctx.mem;
  return {
    poll_oneoff(inPtr: number, outPtr: number, n: number, ret: number): number {
      n = n >>> 0;
      if (n === 0) throw fail(ERRNO.inval);
      if (n > LIMITS.maxPollSubscriptions) throw fail(ERRNO.inval);
      m.check(inPtr, n * SIZE.subscription);
      m.check(outPtr, n * SIZE.event);
      m.check(ret, 4);
      // Each subscription is decoded and, for an fd, its readiness probed: charged per subscription.
      ctx.gate.work(n * POLL_SUBSCRIPTION_COST);

      const ready: Ready[] = [];
      // Earliest clock deadline in performance.now() ms, with the subscriptions it satisfies.
      const clocks: { userdata: bigint; at: number }[] = [];
      const nowMs = performance.now();
      for (let i = 0; i < n; i++) {
        const s = inPtr + i * SIZE.subscription;
        const userdata = m.u64(s);
        const tag = m.u8At(s + 8);
        if (tag === EVENTTYPE.clock) {
          const id = m.u32(s + 16);
          const timeout = m.u64(s + 24);
          const flags = m.u16(s + 40);
          let delayNs: bigint;
          try {
            if (flags & SUBCLOCKFLAGS_ABSTIME) delayNs = timeout - clockNow(id);
            else {
              clockNow(id); // validates the clock id
              delayNs = timeout;
            }
          } catch (e) {
            ready.push({ userdata, error: errnoOf(e), type: EVENTTYPE.clock, nbytes: 0n });
            continue;
          }
          // Clamp before converting: u64::MAX ns must not become Infinity/NaN arithmetic.
          const delayMs = delayNs <= 0n ? 0 : delayNs > 10n ** 15n ? 1e9 : Number(delayNs) / 1e6;
          clocks.push({ userdata, at: nowMs + delayMs });
        } else if (tag === EVENTTYPE.fd_read || tag === EVENTTYPE.fd_write) {
          const fd = m.u32(s + 16);
          const e = ctx.fds.peek(fd);
          let error: number = ERRNO.success;
          let nbytes = 0n;
          let flags = 0;
          if (e === undefined) error = ERRNO.badf;
          else if ((e.rightsBase & RIGHTS.poll_fd_readwrite) === 0 && e.kind !== "stdio") error = ERRNO.notcapable;
          else if (tag === EVENTTYPE.fd_read && e.kind === "file") {
            try {
              const size = fstatSync(e.hostFd, { bigint: true }).size;
              nbytes = size > BigInt(e.pos) ? size - BigInt(e.pos) : 0n;
              // At end of file, as wasmtime reports it.
              if (nbytes === 0n) flags = EVENTRWFLAGS_FD_READWRITE_HANGUP;
            } catch (err) {
              error = errnoOf(err);
            }
          } else if (tag === EVENTTYPE.fd_read && e.kind === "stdio" && (e.rightsBase & RIGHTS.fd_read) !== 0) {
            // End of input on stdin is a hang-up (readiness.ts says when it is known).
            const r = stdinReadiness(e.hostFd);
            nbytes = r.nbytes;
            if (r.hangup) flags = EVENTRWFLAGS_FD_READWRITE_HANGUP;
          }
          ready.push({ userdata, error, type: tag, nbytes, flags });
        } else {
          ready.push({ userdata, error: ERRNO.inval, type: tag, nbytes: 0n });
        }
      }

      if (ready.length === 0 && clocks.length > 0) {
        let earliest = Infinity;
        for (const c of clocks) earliest = Math.min(earliest, c.at);
        const stopAt = performance.now() + ctx.gate.timeLeft();
        if (earliest > stopAt) {
          sleepUntil(stopAt);
          ctx.gate.deadline(); // stops the run through the meter: a guest handler cannot catch it
        }
        sleepUntil(earliest);
      }
      const after = performance.now();
      for (const c of clocks) if (c.at <= after) ready.push({ userdata: c.userdata, error: ERRNO.success, type: EVENTTYPE.clock, nbytes: 0n });

      m.zero(outPtr, ready.length * SIZE.event);
      ready.forEach((r, i) => {
        const o = outPtr + i * SIZE.event;
        m.setU64(o, r.userdata);
        m.setU16(o + 8, r.error);
        m.setU8(o + 10, r.type);
        m.setU64(o + 16, r.nbytes);
        m.setU16(o + 24, r.flags ?? 0);
      });
      m.setU32(ret, ready.length);
      return ERRNO.success;
    },
  };
}
