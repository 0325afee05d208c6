/**
 * A cross-process lock file, used to serialize registry read-modify-write (the
 * original had none and concurrent installs lost entries).
 *
 * Why a lock *file* created with link(): Bun has no flock/fcntl, and the lock must work
 * for 20+ processes on Linux, macOS and Windows. We write our record (pid, host, token,
 * time) to a private temp file and hard-link it to the lock path. link() fails with
 * EEXIST if the lock exists, so exactly one process wins, and the lock file appears
 * with its full content at once (no half-written lock to misjudge). Where hard links
 * are unsupported we fall back to open(O_CREAT|O_EXCL) + write.
 *
 * Stale locks: a holder that dies (SIGKILL, power cut) leaves its file behind. A
 * waiter may take it over only when the holder ran on this host and its pid is dead,
 * or it was taken in an earlier boot of this host (its pid may have been reused).
 * Taking over must not let two waiters both "remove the stale lock" (the second would
 * delete the first one's fresh lock), so removal happens under a short-lived takeover
 * guard (`<lock>.takeover`, created the same way) and re-checks, under the guard, that
 * the lock file still holds the very record that was judged stale. The guard itself is
 * held for microseconds; an abandoned guard (dead pid, or older than GUARD_STALE_MS)
 * is cleared by renaming it aside and checking it was the one judged abandoned.
 *
 * Waiting is bounded (timeoutMs) with jittered exponential backoff; on timeout the
 * error names the lock file, its holder, and how to remove it if it is stale.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { closeSync, constants as fsc, fstatSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { FledgeError, hostTag, isThisHost, pidAlive, randomBytes } from "../core/index.ts";

export { pidAlive };

export interface LockOptions {
  /** Give up after this long. Default 15 s. */
  timeoutMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

/** What a lock file holds. `token` identifies one acquisition, not just one process. */
export interface LockRecord {
  pid: number;
  host: string;
  token: string;
  /** ISO time of acquisition, for humans reading a stuck lock. */
  acquired: string;
  /** The kernel boot id when taken (Linux): a lock from before a reboot is stale even if its pid was reused. */
  boot?: string;
}

/** An unreadable lock file younger than this may be mid-write (fallback path); leave it. */
const UNPARSEABLE_GRACE_MS = 2_000;
/** The takeover guard is held for microseconds; one this old was abandoned. */
const GUARD_STALE_MS = 10_000;
const BACKOFF_MIN_MS = 4;
const BACKOFF_MAX_MS = 100;

let cachedBoot: string | undefined;
/** This boot's id (`/proc/sys/kernel/random/boot_id`), or "" where there is none. */
export function bootId(): string {
  if (cachedBoot === undefined) {
    try {
      cachedBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBoot = "";
    }
  }
  return cachedBoot;
}

function newRecord(): LockRecord {
  const boot = bootId();
  return { pid: process.pid, host: hostname(), token: randomBytes(12).toString("hex"), acquired: new Date().toISOString(), ...(boot ? { boot } : {}) };
}

/** Read a lock record; undefined when missing, null when present but unparseable. */
export function readLockRecord(path: string): LockRecord | null | undefined {
  let text: string;
  let fd: number | undefined;
  try {
    // Never through a symlink, never a FIFO or device (a lock next to a plugin's
    // state.json could be planted as one): such a "lock" is unparseable, not read.
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 64 * 1024) return null;
    text = readFileSync(fd, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (typeof r.pid === "number" && typeof r.host === "string" && typeof r.token === "string") {
      return { pid: r.pid, host: r.host, token: r.token, acquired: typeof r.acquired === "string" ? r.acquired : "", ...(typeof r.boot === "string" && r.boot ? { boot: r.boot } : {}) };
    }
  } catch {
    // fall through
  }
  return null;
}

/**
 * The one place that decides a lock holder is gone and its lock may be taken over:
 * only for a holder on this host whose pid is dead. A holder on another host (shared
 * network home) cannot be checked, so it is never presumed dead.
 */
export function isStaleLock(record: LockRecord): boolean {
  if (!isThisHost(record.host)) return false;
  // Taken before this boot (a power cut): its pid may since belong to someone else.
  const boot = bootId();
  if (record.boot !== undefined && boot !== "" && record.boot !== boot) return true;
  return !pidAlive(record.pid);
}

function fileAgeMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Create `path` holding `record`, atomically and exclusively. false if it already exists. */
function createExclusive(path: string, record: LockRecord): boolean {
  const text = `${JSON.stringify(record)}\n`;
  const temp = `${path}.${record.pid}.${hostTag()}.${record.token}.tmp`;
  try {
    writeFileSync(temp, text, { flag: "wx" });
  } catch (e) {
    throw lockIoError(path, e);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // No hard links here (some FUSE/FAT/SMB mounts): O_EXCL create is still exclusive.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS" || code === "EXDEV") {
      try {
        writeFileSync(path, text, { flag: "wx" });
        return true;
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw lockIoError(path, e2);
      }
    }
    throw lockIoError(path, e);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}

function lockIoError(path: string, e: unknown): FledgeError {
  return new FledgeError(`Cannot create lock file ${path}: ${(e as Error).message}`, {
    cause: e,
    code: "lock_io",
    hint: `Check that ${dirname(path)} exists and is writable.`,
  });
}

/** Remove `path` only if it still holds `token` (read-then-unlink is safe for our own lock: nobody takes over a live holder). */
function removeIfOwned(path: string, token: string): void {
  const r = readLockRecord(path);
  if (r && r.token === token) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}

/** Clear an abandoned takeover guard without ever deleting a fresh one. */
function clearAbandonedGuard(guard: string): void {
  const seen = readLockRecord(guard);
  if (seen === undefined) return;
  const age = fileAgeMs(guard);
  const abandoned = (seen !== null && isStaleLock(seen)) || (age !== undefined && age > GUARD_STALE_MS);
  if (!abandoned) return;
  // Rename aside (atomic), then confirm we moved the guard we judged. If a fresh guard
  // replaced it in between, put that one back with link(), which will not clobber.
  const aside = `${guard}.${process.pid}.${randomBytes(6).toString("hex")}.abandoned`;
  try {
    renameSync(guard, aside);
  } catch {
    return; // someone else cleared it
  }
  const moved = readLockRecord(aside);
  const same = seen === null ? moved === null : moved !== null && moved !== undefined && moved.token === seen.token;
  if (!same) {
    try {
      linkSync(aside, guard);
    } catch {
      // a newer guard exists; the one we moved was already superseded
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // gone
  }
}

/**
 * Remove the lock at `path` if it still holds the stale record `stale` (or, for an
 * unparseable lock, is still unparseable). Runs under the takeover guard so only one
 * waiter at a time can do it. Returns true if the caller should retry at once.
 */
function takeOverStale(path: string, stale: LockRecord | null): boolean {
  const guard = `${path}.takeover`;
  const me = newRecord();
  if (!createExclusive(guard, me)) {
    clearAbandonedGuard(guard);
    return false;
  }
  try {
    const now = readLockRecord(path);
    const stillStale =
      stale === null
        ? now === null && (fileAgeMs(path) ?? 0) > UNPARSEABLE_GRACE_MS
        : now !== null && now !== undefined && now.token === stale.token && isStaleLock(now);
    if (stillStale) {
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
    }
    return true;
  } finally {
    removeIfOwned(guard, me.token);
  }
}

type Attempt = { acquired: true; record: LockRecord } | { acquired: false; holder: LockRecord | null | undefined; retryNow: boolean };

/** One non-blocking acquisition attempt, including stale takeover. */
function tryAcquire(path: string): Attempt {
  const record = newRecord();
  if (createExclusive(path, record)) return { acquired: true, record };
  const holder = readLockRecord(path);
  if (holder === undefined) return { acquired: false, holder, retryNow: true }; // released meanwhile
  if (holder === null) {
    const age = fileAgeMs(path);
    if (age !== undefined && age > UNPARSEABLE_GRACE_MS) return { acquired: false, holder, retryNow: takeOverStale(path, null) };
    return { acquired: false, holder, retryNow: false };
  }
  if (isStaleLock(holder)) return { acquired: false, holder, retryNow: takeOverStale(path, holder) };
  return { acquired: false, holder, retryNow: false };
}

function timeoutError(path: string, timeoutMs: number, holder: LockRecord | null | undefined): FledgeError {
  const who = holder
    ? ` (held by pid ${holder.pid} on ${holder.host}${holder.acquired ? ` since ${holder.acquired}` : ""})`
    : "";
  return new FledgeError(`Timed out after ${(timeoutMs / 1000).toFixed(1)}s waiting for the lock ${path}${who}.`, {
    code: "lock_timeout",
    hint: `Another fledge command is probably still running; wait for it and retry. If none is running, the lock is stale: remove it with \`rm ${JSON.stringify(path)}\` and retry.`,
    details: { lockFile: path, holder },
  });
}

function backoff(attempt: number): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
  // Full jitter: waiters that collided once do not collide again in lockstep.
  return BACKOFF_MIN_MS / 2 + Math.random() * cap;
}

/**
 * After a failed attempt: how long to wait before the next one (0: retry now, the holder
 * was stale and removed), or the timeout error. The deadline is checked even on "retry
 * now" so a takeover that keeps failing (say, no permission to remove the stale file)
 * cannot spin forever. One rule for the async and the sync waiter.
 */
function waitBeforeRetry(a: Extract<Attempt, { acquired: false }>, lockPath: string, deadline: number, timeoutMs: number, attempt: number): number {
  if (Date.now() >= deadline) throw timeoutError(lockPath, timeoutMs, a.holder);
  return a.retryNow ? 0 : backoff(attempt);
}

/** Lock paths this async context already holds, to turn self-deadlock into an error. */
const heldAsync = new AsyncLocalStorage<ReadonlySet<string>>();
/** How many async holders in this process hold each path (a sync waiter would block them forever). */
const asyncHolders = new Map<string, number>();
/** Lock paths held by synchronous callers in this process (sync code cannot interleave, so any re-entry is nesting). */
const heldSync = new Set<string>();

function reentryError(path: string): FledgeError {
  return new FledgeError(`Lock ${path} is already held in this process by an enclosing operation; fledge locks are not re-entrant, so waiting would deadlock.`, {
    code: "lock_reentrant",
    hint: "This is a bug in fledge: acquire the lock once around the whole operation.",
  });
}

/**
 * Run `fn` while holding the lock at `lockPath` (created if needed; its directory too).
 * Not re-entrant: nesting the same path in one call chain throws instead of deadlocking.
 * Concurrent calls from the same process simply queue like separate processes.
 */
export async function withLock<T>(path: string, fn: () => T | Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lockPath = resolve(path); // one key per file for the re-entry checks
  const held = heldAsync.getStore();
  if (held?.has(lockPath) || heldSync.has(lockPath)) throw reentryError(lockPath);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  mkdirSync(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let waits = 0;
  for (;;) {
    const a = tryAcquire(lockPath);
    if (a.acquired) {
      asyncHolders.set(lockPath, (asyncHolders.get(lockPath) ?? 0) + 1);
      try {
        return await heldAsync.run(new Set([...(held ?? []), lockPath]), fn);
      } finally {
        const n = (asyncHolders.get(lockPath) ?? 1) - 1;
        if (n > 0) asyncHolders.set(lockPath, n);
        else asyncHolders.delete(lockPath);
        removeIfOwned(lockPath, a.record.token);
      }
    }
    const wait = waitBeforeRetry(a, lockPath, deadline, timeoutMs, waits++);
    if (wait > 0) await Bun.sleep(wait);
  }
}

/** Synchronous {@link withLock}, for callers that cannot await (it blocks the thread while waiting). */
export function withLockSync<T>(path: string, fn: () => T, opts: LockOptions = {}): T {
  const lockPath = resolve(path);
  // Waiting synchronously for a lock an async task of this same process holds would
  // block the event loop that task needs to finish: fail now instead of timing out.
  if (heldSync.has(lockPath) || asyncHolders.has(lockPath)) throw reentryError(lockPath);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  mkdirSync(dirname(lockPath), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let waits = 0;
  for (;;) {
    const a = tryAcquire(lockPath);
    if (a.acquired) {
      heldSync.add(lockPath);
      try {
        return fn();
      } finally {
        heldSync.delete(lockPath);
        removeIfOwned(lockPath, a.record.token);
      }
    }
    const wait = waitBeforeRetry(a, lockPath, deadline, timeoutMs, waits++);
    if (wait > 0) Bun.sleepSync(wait);
  }
}
