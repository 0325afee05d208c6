/**
 * The JS side of metering: the `fledge:meter` import module an instrumented module
 * links against. refuel(remaining) is called whenever the guest's fuel counter goes
 * negative; it accounts for the slice used, checks the total budget and the
 * wall-clock deadline, and returns the next slice, or STOP, on which the guest traps
 * (`unreachable`). It never throws: a JS exception thrown by an import can be caught
 * by the guest's `catch_all`, a trap cannot. The host gate (hostCall) must throw to
 * leave a host function; it first halts the guest's counter (HALT_EXPORT), so any
 * handler that catches the exception traps on entry.
 *
 * Slices adapt to the measured speed: each slice aims at SLICE_TARGET_MS of guest
 * time, so a deadline is noticed within a few ms whether a fuel unit costs 0.3 ns
 * (a tight loop) or 100 ns (a loop of host calls). The fuel budget itself is exact
 * at check points: a slice never extends past what is left.
 */
import { FledgeError } from "../core/index.ts";
import { FUEL_EXPORT, GROW_EXPORT, HALT_EXPORT, METER_MODULE, REFUEL_NAME } from "./abi.ts";
import { MAX_PAGES, PAGE_SIZE } from "./limits.ts";
import { limitError, type LimitValues } from "./limits.ts";

/** Aim for a refuel call about this often; bounds how late a deadline fires. */
export const SLICE_TARGET_MS = 5;
export const MIN_SLICE = 1_000;
/**
 * Upper bound on a slice. Adaptation follows the speed of the last slice, so a phase
 * change (a fast arithmetic loop, then a loop of 100 ns host calls at ~20 ns per unit)
 * could otherwise make one slice last far longer than the target. At 1M units that
 * worst case is ~20 ms; the price is one refuel call per ~0.3-1 ms of fast code,
 * which measured below the noise of the overhead benchmark.
 */
export const MAX_SLICE = 1_000_000;
export const INITIAL_SLICE = 100_000;
/**
 * Host calls run the full check (stopped flag, exact budget, deadline) at least every
 * this many calls, and whenever the units they charged since reach what was left of
 * the budget or HOST_UNITS_PER_CHECK. Between, a host call costs an add and two
 * compares. A host call that waits (a read, poll_oneoff) waits with the deadline
 * itself, so the deadline is noticed within 16 non-waiting host calls.
 */
export const HOST_CALLS_PER_CHECK = 16;
export const HOST_UNITS_PER_CHECK = 10_000;
/** What refuel returns to end the run: any negative value makes the guest trap. */
export const STOP = -1n;

export type StopReason = "fuel" | "deadline" | "memory";

/** Import object shape accepted by `new WebAssembly.Instance` (the global lib has no named type). */
export type WasmImports = NonNullable<ConstructorParameters<typeof WebAssembly.Instance>[1]>;
/** Exports of an instance. */
export type WasmExports = WebAssembly.Instance["exports"];

export interface MeterOptions {
  /** Total fuel budget in units; null = unlimited. */
  fuel: bigint | null;
  /** Absolute deadline as a performance.now() timestamp (ms); null = none. */
  deadline: number | null;
  /** The time limit the deadline came from, for the error message. */
  timeoutMs?: number | null;
}

export interface Meter {
  /** Pass to instantiation alongside the guest's imports. */
  imports: WasmImports;
  /** Fuel used so far (exact once `attach` was called, else up to the last refuel). */
  used(): bigint;
  /** Why the run was stopped, or null if the meter has not stopped it. */
  reason(): StopReason | null;
  /**
   * True when `e` ended the run because of a limit: the sentinel thrown by hostCall, or
   * a trap after the meter stopped the guest (refuel returned STOP), or a trap that
   * followed a memory.grow refused by the memory limit (reason() is then "memory").
   * Runners map it to limitError(reason()).
   */
  isStop(e: unknown): boolean;
  /** Bytes the guest asked for when a memory.grow was refused (for the message), if any. */
  requestedBytes(): number | undefined;
  /** Gives the meter the instance's exports so used() can read the live fuel (through the instrumenter's getter export). */
  attach(exports: WasmExports): void;
  /**
   * For host functions: charge `units` of fuel and check the deadline. Throws the
   * sentinel when a limit is hit. Cheap enough to call on every host call.
   */
  hostCall(units?: number): void;
  /**
   * The run is ending from inside a host call by an exception the guest could catch
   * (proc_exit): drive the guest's counter far below zero and refuse every refuel, so
   * any handler traps on entry.
   */
  halt(): void;
  /** Remaining time before the deadline in ms (Infinity when there is none); sleeps should not exceed it. */
  timeLeft(): number;
  /**
   * End the run now (a host call noticed the deadline while waiting): sets the stopped
   * flag, so every later refuel, host call or catch-handler check stops again, and
   * throws the sentinel. Never returns.
   */
  stop(reason: StopReason): never;
  /** True once the meter has stopped the run (same as reason() !== null). */
  readonly stopped: boolean;
}

/**
 * The sentinel that ends a run. It is a FledgeError carrying the limit's own message
 * and exit code, so host-import wrappers that let FledgeErrors through (src/wasi)
 * pass it on, and it reads right even where a caller does not map it. isStop()
 * checks identity, so nothing else can pass for it.
 */
class MeterStop extends FledgeError {
  constructor(
    readonly why: StopReason,
    limits: LimitValues,
  ) {
    const e = limitError(why, limits);
    super(e.message, { code: e.code, exitCode: e.exitCode, hint: e.hint ?? "" });
  }
}

export function createMeter(opts: MeterOptions): Meter {
  const budget = opts.fuel;
  const deadline = opts.deadline;
  let granted = 0n; // total units handed to the guest so far
  let slice = INITIAL_SLICE;
  let lastRefuel = performance.now();
  let hostDebt = 0n;
  let stopped: StopReason | null = null;
  let readFuel: (() => bigint) | null = null;
  let sentinel: MeterStop | null = null;
  let halt: (() => void) | null = null;
  let growRefused: (() => number) | null = null;
  let memory: WebAssembly.Memory | null = null;
  let requested: number | undefined;
  let halted = false;

  /** From inside a host call: halt the guest's counter, then throw (see the header). */
  const stop = (why: StopReason): never => {
    stopped ??= why;
    room = 0;
    sentinel ??= new MeterStop(stopped, { fuel: budget, timeoutMs: opts.timeoutMs ?? null });
    halt?.();
    throw sentinel;
  };

  const refuel = (remaining: bigint): bigint => {
    if (stopped || halted) return STOP;
    hostDebt += BigInt(pending);
    pending = 0;
    room = 0;
    const used = granted - remaining + hostDebt;
    granted += hostDebt;
    hostDebt = 0n;
    if (budget !== null && used > budget) {
      stopped = "fuel";
      return STOP;
    }
    const now = performance.now();
    if (deadline !== null && now >= deadline) {
      stopped = "deadline";
      return STOP;
    }
    // Adapt the slice so the next refuel comes after about SLICE_TARGET_MS.
    const elapsed = now - lastRefuel;
    lastRefuel = now;
    if (elapsed > 0) {
      // Grow at most 4x per slice; shrink as far as the last slice overshot.
      const next = slice * Math.min(4, Math.max(0.001, SLICE_TARGET_MS / elapsed));
      slice = Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.round(next)));
    }
    let next = BigInt(slice);
    if (budget !== null && budget - used < next) next = budget - used;
    granted = used + next;
    return next;
  };

  // Host-call fast path state: units charged since the last full check, the units that
  // may be charged before the next one must run, and calls since it.
  let pending = 0;
  let room = 0;
  let calls = 0;
  /**
   * The full host-call check: moves the pending units into the debt, stops on a
   * stopped run, a budget the guest's live fuel plus the debt exceeds, or the
   * deadline; then sets how many units the next calls may charge on the fast path
   * (what is left of the budget as of now, at most HOST_UNITS_PER_CHECK).
   */
  const hostCheck = (): void => {
    hostDebt += BigInt(pending);
    pending = 0;
    calls = 0;
    room = 0;
    if (stopped) stop(stopped);
    let left = HOST_UNITS_PER_CHECK;
    if (budget !== null) {
      const over = granted - (readFuel ? readFuel() : 0n) + hostDebt - budget;
      if (over > 0n) stop("fuel");
      if (-over < BigInt(left)) left = Number(-over);
    }
    if (deadline !== null && performance.now() >= deadline) stop("deadline");
    room = left;
  };

  /**
   * Did a memory.grow fail only because of the memory limit? The guest recorded the
   * delta it asked for; growth that would also exceed the 4 GiB wasm32 maximum is the
   * guest's own bug, not the limit.
   */
  const memoryRefused = (): boolean => {
    const delta = growRefused ? growRefused() >>> 0 : 0;
    if (delta === 0) return false;
    const pages = memory ? memory.buffer.byteLength / PAGE_SIZE : 0;
    if (pages + delta > MAX_PAGES) return false;
    stopped = "memory";
    requested = (pages + delta) * PAGE_SIZE;
    return true;
  };

  return {
    imports: { [METER_MODULE]: { [REFUEL_NAME]: refuel } },
    used() {
      const live = readFuel ? readFuel() : 0n;
      const u = granted - live + hostDebt + BigInt(pending);
      return u < 0n ? 0n : u;
    },
    reason: () => stopped,
    isStop(e) {
      if (e instanceof MeterStop) return e === sentinel;
      // A trap reaches runners raw or already wrapped by the WASI layer (src/wasi/run.ts).
      const trap = e instanceof WebAssembly.RuntimeError || (e instanceof FledgeError && e.code === "trap");
      if (!trap) return false;
      if (stopped) return true;
      return memoryRefused();
    },
    requestedBytes: () => requested,
    attach(exports) {
      const getter = exports[FUEL_EXPORT];
      if (typeof getter === "function") readFuel = getter as () => bigint;
      const h = exports[HALT_EXPORT];
      if (typeof h === "function") halt = h as () => void;
      const gr = exports[GROW_EXPORT];
      if (typeof gr === "function") growRefused = gr as () => number;
      const mem = exports["memory"];
      if (mem instanceof WebAssembly.Memory) memory = mem;
    },
    hostCall(units = 1) {
      // The fast path is plain-number arithmetic: units owed since the last full check,
      // and the host calls since it. The full check (hostCheck) settles them.
      pending += units;
      if (pending < room && ++calls < HOST_CALLS_PER_CHECK) return;
      hostCheck();
    },
    halt() {
      halted = true;
      halt?.();
    },
    timeLeft: () => (deadline === null ? Infinity : Math.max(0, deadline - performance.now())),
    stop,
    get stopped() {
      return stopped !== null;
    },
  };
}
