import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { isStaleLock, withLock, withLockSync } from "../../src/registry/index.ts";
import { bootId, readLockRecord } from "../../src/registry/lock.ts";
import { tempDir } from "../helpers/cli.ts";
import { expectFledgeRejection, expectFledgeError } from "../helpers/errors.ts";

const COUNTER = join(import.meta.dir, "fixtures", "lock-counter.ts");

let dir: { path: string; cleanup: () => void };
let lock: string;
beforeEach(() => {
  dir = tempDir();
  lock = join(dir.path, "plugins.toml.lock");
});
afterEach(() => dir.cleanup());

/** The pid of a process that has already exited. */
function deadPid(): number {
  const p = Bun.spawnSync([process.execPath, "-e", "0"]);
  return p.pid;
}

function writeLock(record: { pid: number; host?: string; token?: string }): void {
  writeFileSync(lock, JSON.stringify({ host: hostname(), token: "someone-else", acquired: "2025-01-01T00:00:00Z", ...record }));
}

const rejection = expectFledgeRejection;

const syncError = expectFledgeError;

function counterProcs(n: number, mode?: string): Promise<number[]> {
  const counter = join(dir.path, "counter");
  return Promise.all(
    Array.from({ length: n }, () => {
      const p = Bun.spawn([process.execPath, COUNTER, lock, counter, ...(mode ? [mode] : [])], { stdout: "inherit", stderr: "inherit" });
      return p.exited;
    }),
  );
}

describe("withLock basics", () => {
  test("runs fn, returns its value, holds the lock file meanwhile and removes it after", async () => {
    const result = await withLock(lock, () => {
      const held = JSON.parse(readFileSync(lock, "utf8")) as { pid: number; host: string; token: string };
      expect(held.pid).toBe(process.pid);
      expect(held.host).toBe(hostname());
      return 42;
    });
    expect(result).toBe(42);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  test("the lock is released when fn throws", async () => {
    await expect(withLock(lock, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(lock)).toBe(false);
    expect(() => withLockSync(lock, () => { throw new Error("sync boom"); })).toThrow("sync boom");
    expect(existsSync(lock)).toBe(false);
  });

  test("withLockSync works and creates the lock's directory", () => {
    const nested = join(dir.path, "deep", "x.lock");
    expect(withLockSync(nested, () => existsSync(nested))).toBe(true);
    expect(existsSync(nested)).toBe(false);
  });

  test("nesting the same lock is an error, not a deadlock", async () => {
    const e = await rejection(withLock(lock, () => withLock(lock, () => 1)));
    expect(e.code).toBe("lock_reentrant");
    expect(syncError(() => withLockSync(lock, () => withLockSync(lock, () => 1))).code).toBe("lock_reentrant");
    // A sync wait while an async holder in this process holds it would block forever.
    const e2 = await rejection(withLock(lock, () => withLockSync(lock, () => 1)));
    expect(e2.code).toBe("lock_reentrant");
    expect(existsSync(lock)).toBe(false);
  });

  test("different locks nest fine", async () => {
    const other = join(dir.path, "other.lock");
    expect(await withLock(lock, () => withLock(other, () => "ok"))).toBe("ok");
  });
});

describe("held locks", () => {
  test("a lock held by a live process times out with a clear error and is left alone", async () => {
    writeLock({ pid: process.pid });
    const before = readFileSync(lock, "utf8");
    let ran = false;
    const e = await rejection(withLock(lock, () => { ran = true; }, { timeoutMs: 150 }));
    expect(ran).toBe(false);
    expect(e.code).toBe("lock_timeout");
    expect(e.message).toContain(lock);
    expect(e.message).toContain(`pid ${process.pid}`);
    expect(e.hint).toContain(`rm "${lock}"`);
    expect(e.hint).toContain("stale");
    expect(readFileSync(lock, "utf8")).toBe(before);

    expect(syncError(() => withLockSync(lock, () => 1, { timeoutMs: 100 })).code).toBe("lock_timeout");
  });

  test("a lock from another host is never presumed stale", async () => {
    const record = { pid: deadPid(), host: "some-other-host", token: "t", acquired: "" };
    expect(isStaleLock(record)).toBe(false);
    writeLock(record);
    expect((await rejection(withLock(lock, () => 1, { timeoutMs: 100 }))).code).toBe("lock_timeout");
  });

  test("a fresh unreadable lock is waited on; an old one is taken over", async () => {
    writeFileSync(lock, "");
    expect((await rejection(withLock(lock, () => 1, { timeoutMs: 100 }))).code).toBe("lock_timeout");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await withLock(lock, () => "taken", { timeoutMs: 5_000 })).toBe("taken");
  });
});

describe("stale locks", () => {
  test("isStaleLock: dead pid on this host only", () => {
    expect(isStaleLock({ pid: deadPid(), host: hostname(), token: "t", acquired: "" })).toBe(true);
    expect(isStaleLock({ pid: process.pid, host: hostname(), token: "t", acquired: "" })).toBe(false);
  });

  test("isStaleLock: a live pid from an earlier boot is stale (pid reused after a power cut)", () => {
    const boot = bootId();
    if (boot === "") return; // no boot id on this platform: the pid rule alone applies
    expect(isStaleLock({ pid: process.pid, host: hostname(), token: "t", acquired: "", boot })).toBe(false);
    expect(isStaleLock({ pid: process.pid, host: hostname(), token: "t", acquired: "", boot: "00000000-0000-0000-0000-000000000000" })).toBe(true);
    // Another host's lock is never presumed dead, whatever its boot id.
    expect(isStaleLock({ pid: process.pid, host: `${hostname()}-other`, token: "t", acquired: "", boot: "x" })).toBe(false);
  });

  test("a lock left by a dead pid is taken over", async () => {
    writeLock({ pid: deadPid() });
    expect(await withLock(lock, () => "mine", { timeoutMs: 5_000 })).toBe("mine");
    expect(existsSync(lock)).toBe(false);
    writeLock({ pid: deadPid() });
    expect(withLockSync(lock, () => "mine too", { timeoutMs: 5_000 })).toBe("mine too");
  });

  test("a process that dies holding the lock does not block the next one", async () => {
    expect(await counterProcs(1, "crash")).toEqual([0]);
    expect(existsSync(lock)).toBe(true); // left behind by the crash
    expect(await withLock(lock, () => readFileSync(join(dir.path, "counter"), "utf8"), { timeoutMs: 5_000 })).toBe("1");
  });

  test("an abandoned takeover guard does not block takeover", async () => {
    writeLock({ pid: deadPid() });
    writeFileSync(`${lock}.takeover`, JSON.stringify({ pid: deadPid(), host: hostname(), token: "g", acquired: "" }));
    expect(await withLock(lock, () => "ok", { timeoutMs: 5_000 })).toBe("ok");
    expect(readdirSync(dir.path)).toEqual([]);
  });

  test("many waiters racing to take over one stale lock still exclude each other", async () => {
    writeLock({ pid: deadPid() });
    const codes = await counterProcs(12);
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(readFileSync(join(dir.path, "counter"), "utf8")).toBe("12");
    expect(readdirSync(dir.path)).toEqual(["counter"]);
  }, 60_000);
});

describe("cross-process exclusion", () => {
  test("20 processes (async) increment a counter without losing an update", async () => {
    const codes = await counterProcs(20);
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(readFileSync(join(dir.path, "counter"), "utf8")).toBe("20");
    expect(readdirSync(dir.path)).toEqual(["counter"]);
  }, 60_000);

  test("20 processes (sync) increment a counter without losing an update", async () => {
    const codes = await counterProcs(20, "sync");
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(readFileSync(join(dir.path, "counter"), "utf8")).toBe("20");
  }, 60_000);
});

describe("a lock file that is not a plain file is never read", () => {
  test("a symlink (even to a valid record) and a FIFO read as unparseable, without following or blocking", () => {
    const real = join(dir.path, "real.lock");
    writeFileSync(real, `${JSON.stringify({ pid: process.pid, host: hostname(), token: "t", acquired: "" })}\n`);
    expect(readLockRecord(real)?.token).toBe("t");
    symlinkSync(real, lock);
    expect(readLockRecord(lock)).toBeNull();
    const fifo = join(dir.path, "fifo.lock");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    expect(readLockRecord(fifo)).toBeNull();
    expect(readLockRecord(join(dir.path, "none.lock"))).toBeUndefined();
  });
});
