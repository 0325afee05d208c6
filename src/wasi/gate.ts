/**
 * THE host-call gate: every function a guest imports from the host (all of
 * `wasi_snapshot_preview1`, the plugin `fledge` module, anything else a runner
 * links) goes through {@link createGate}'s `link`, which wraps each function so that
 * before it runs the run's budget is checked (stopped flag first, then fuel, then
 * the wall-clock deadline) and its base cost charged, and while it runs the work it
 * causes (bytes moved, entries listed, processes started) is charged through
 * `bytes`/`work`.
 *
 * Why one gate: the plugin `fledge` imports once bypassed the meter because each
 * runner wired metering by hand, import module by import module. Here the linker
 * (runCommand) hands the whole import table to `link`; there is no other way for a
 * host function to reach the instance. Only the meter's own refuel module (the
 * "engine" imports) is linked beside it, because it IS the budget.
 *
 * A stop is final: the budget's `stop` sets a flag that every later host call,
 * refuel and catch-handler check sees again, so a guest that catches the thrown
 * sentinel with an exception handler is stopped at its next step anyway.
 */
import { FledgeError } from "../core/index.ts";
import { WasiDeadlineExceeded } from "./context.ts";
import { WasiExit } from "./exit.ts";

/** What the gate needs from the run's meter (src/wasm/meter.ts implements it). */
export interface HostBudget {
  /** Charge `units` of fuel and check the stopped flag and the deadline; throws the run's stop sentinel. */
  hostCall(units?: number): void;
  /** End the run for `reason`; sets the stopped flag and throws. */
  stop(reason: "deadline" | "fuel"): never;
  /** Milliseconds left before the deadline (Infinity without one). */
  timeLeft(): number;
  readonly stopped: boolean;
  /**
   * The run is ending by an exception thrown inside a host call (proc_exit, a stop):
   * the guest could catch it with `catch_all`, so the budget halts the guest (every
   * handler then traps on entry). Optional: budgets without a guest counter skip it.
   */
  halt?(): void;
}

/** Fuel a host call costs: `base` on entry, plus `perKiB` for every KiB it moves or handles. */
export interface HostCost {
  readonly base: number;
  readonly perKiB: number;
}

/**
 * The price list, in fuel units (about one unit per wasm instruction of equivalent
 * host work). Calls not listed cost {@link DEFAULT_COST}. A process start is priced
 * like a few milliseconds of guest code; parsing JSON like scanning it byte by byte.
 */
export const HOST_COST: Readonly<Record<string, HostCost>> = Object.freeze({
  fd_read: { base: 20, perKiB: 64 },
  fd_pread: { base: 20, perKiB: 64 },
  fd_write: { base: 20, perKiB: 64 },
  fd_pwrite: { base: 20, perKiB: 64 },
  fd_readdir: { base: 50, perKiB: 256 },
  path_open: { base: 200, perKiB: 0 },
  poll_oneoff: { base: 50, perKiB: 0 },
  args_get: { base: 10, perKiB: 64 },
  environ_get: { base: 10, perKiB: 64 },
  random_get: { base: 10, perKiB: 64 },
  send: { base: 200, perKiB: 1024 },
  recv: { base: 20, perKiB: 64 },
  exec: { base: 5_000_000, perKiB: 1024 },
  store_set: { base: 10_000, perKiB: 1024 },
  store_get: { base: 10_000, perKiB: 1024 },
  metadata: { base: 1_000, perKiB: 1024 },
  http: { base: 1_000_000, perKiB: 1024 },
  // A flush waits for the disk (0.2-0.5 ms each on an ordinary SSD, more under load),
  // the time of some 100,000 guest instructions, and a loop of them flushes the
  // journal of the whole host filesystem once per call.
  fd_sync: { base: 100_000, perKiB: 0 },
  fd_datasync: { base: 100_000, perKiB: 0 },
});
export const DEFAULT_COST: HostCost = Object.freeze({ base: 10, perKiB: 0 });

/**
 * Host garbage a guest may cause between two collections. A loop of 16 MiB sends or
 * of directory listings makes the host allocate and drop hundreds of MiB a second,
 * faster than the collector's own heuristics return it; the gate counts what host
 * calls allocate (`bytes(n, true)`) and collects once this much has gone through, so fledge's
 * RSS tracks what is live, not what a guest churned.
 */
export const GC_CHURN_BYTES = 32 * 1024 * 1024;

function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc?: (sync: boolean) => void } }).Bun;
  bun?.gc?.(true);
}

export interface Gate {
  /**
   * Charge the bytes the current host call moves, at its perKiB price; may stop the
   * run. `hostAllocated`: the host built JS objects of about this size for them
   * (copies, strings, listings), which count toward GC_CHURN_BYTES; bytes moved
   * straight between guest memory and the kernel do not.
   */
  bytes(n: number, hostAllocated?: boolean): void;
  /** Charge `units` of work the current call causes (a process, a directory entry); may stop the run. */
  work(units: number): void;
  /** A wait inside a host call reached the deadline: stop the run for good. */
  deadline(): never;
  /** Milliseconds left before the deadline; waits must not exceed it. */
  timeLeft(): number;
  /**
   * The first exception a host function ended the run with (exit, stop), or null. It
   * decides how the run ended even if the guest caught it and then trapped or returned.
   */
  readonly ending: { e: unknown } | null;
  /** Wrap every function of every module; memories, tables and globals pass unchanged. */
  link<T extends Record<string, Record<string, unknown>>>(modules: T): T;
}

/** A budget with only a deadline (runs without a fuel meter, e.g. tests calling createWasi). */
export function deadlineBudget(deadline: number = Infinity): HostBudget {
  let stopped = false;
  const stop = (): never => {
    stopped = true;
    throw new WasiDeadlineExceeded();
  };
  return {
    hostCall() {
      if (stopped || performance.now() >= deadline) stop();
    },
    stop,
    timeLeft: () => Math.max(0, deadline - performance.now()),
    get stopped() {
      return stopped;
    },
  };
}

/** Exceptions a host function ends the run with (everything else is the function's own error). */
export function endsRun(e: unknown): boolean {
  return e instanceof WasiExit || e instanceof WasiDeadlineExceeded || e instanceof FledgeError;
}

export function createGate(budget: HostBudget): Gate {
  let ending: { e: unknown } | null = null;
  /** A host function is throwing the run's end into the guest: record it and halt the guest first. */
  const ended = (e: unknown): void => {
    if (!endsRun(e)) return;
    ending ??= { e };
    budget.halt?.();
  };
  let current: HostCost = DEFAULT_COST;
  let owed = 0; // fractional units carried between bytes() calls
  let churn = 0; // bytes host calls handled since the last collection

  function wrapFn(name: string, fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
    const cost = HOST_COST[name] ?? DEFAULT_COST;
    // One try for the charge and the call: the host-call fast path is a few operations.
    return function gated(this: unknown): unknown {
      current = cost;
      try {
        budget.hostCall(cost.base);
        // eslint-disable-next-line prefer-rest-params
        return fn.apply(undefined, arguments as unknown as unknown[]);
      } catch (e) {
        ended(e);
        throw e;
      } finally {
        current = DEFAULT_COST;
        if (churn >= GC_CHURN_BYTES) {
          churn = 0;
          collectGarbage();
        }
      }
    };
  }

  const gate: Gate = {
    bytes(n, hostAllocated = false) {
      if (n <= 0) return;
      if (hostAllocated) churn += n;
      // Collected as soon as the churn is reached, also inside one long call: a single
      // 16 MiB write of control bytes, expanded slice by slice, churns far more than this.
      if (churn >= GC_CHURN_BYTES) {
        churn = 0;
        collectGarbage();
      }
      if (current.perKiB === 0) return;
      owed += (n / 1024) * current.perKiB;
      if (owed >= 1) {
        const units = Math.floor(owed);
        owed -= units;
        budget.hostCall(units);
      }
    },
    work(units) {
      if (units > 0) budget.hostCall(Math.ceil(units));
    },
    deadline: () => budget.stop("deadline"),
    get ending() {
      return ending;
    },
    timeLeft: () => budget.timeLeft(),
    link(modules) {
      const out: Record<string, Record<string, unknown>> = {};
      for (const [mod, fns] of Object.entries(modules)) {
        const wrapped: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(fns)) {
          wrapped[name] = typeof value === "function" ? wrapFn(name, value as (...args: unknown[]) => unknown) : value;
        }
        out[mod] = wrapped;
      }
      return out as typeof modules;
    },
  };
  return gate;
}
