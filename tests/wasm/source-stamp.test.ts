/**
 * The cached-start fast path recognises an unchanged source by an authenticated stamp
 * (device, inode, size, mtime, ctime) instead of hashing it. As an attacker would try
 * it: every way of putting other bytes behind a stamped path (same size, mtime set
 * back with utimes, through a hard link, a file moved into place, a file deleted and
 * recreated, a forged stamp, a tampered entry of the same size) must end with the
 * prepared module of the bytes that are there now, never the stamped one.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { forgetPreparedInMemory, type CacheResult } from "../../src/wasm/cache.ts";
import { forgetCacheKeys } from "../../src/wasm/cache-key.ts";
import { encodeStamp, fingerprintOf, SETTLED_MS, stampable, stampPath } from "../../src/wasm/source-stamp.ts";
import { hostVersionString, userCacheDir } from "../../src/wasm/prepared.ts";
import { preparedForFile } from "../../src/wasm/prepare.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

const t = tempDir("fledge-stamp-");
afterAll(() => t.cleanup());
const CFG = join(t.path, "cfg");
const DIR = join(t.path, "mods");
const MAX = 64 << 20;
const HV = hostVersionString(MAX);
const CACHE = userCacheDir(CFG);

const hello = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm")));
/** The same module with other text of the same length: same size, different bytes. */
const other = (() => {
  const b = Buffer.from(hello);
  const at = b.indexOf("hello from wasm");
  expect(at).toBeGreaterThan(0);
  b.write("HACKED from wasm".slice(0, 15), at);
  return new Uint8Array(b);
})();
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const warnings: string[] = [];

function load(path: string): CacheResult {
  // Each call starts as a new process would: nothing remembered in memory.
  forgetPreparedInMemory();
  forgetCacheKeys();
  return preparedForFile(path, { maxMemoryBytes: MAX, configDir: CFG, warn: (m) => warnings.push(m) });
}

/** The prepared module used is the one for the bytes on disk now. */
function expectCurrent(path: string, r: CacheResult): void {
  expect(r.sourceHash).toBe(sha(new Uint8Array(readFileSync(path))));
}

const NAMES = ["same", "utimes", "hardlink", "moved", "recreated", "forged", "entry", "symlink", "link-same"];
const file = (n: string): string => join(DIR, `${n}.wasm`);

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  for (const n of NAMES) writeFileSync(file(n), hello);
  writeFileSync(join(DIR, "other.wasm"), other);
  // Stamps are written only for files that have not changed for SETTLED_MS.
  await Bun.sleep(SETTLED_MS + 200);
  for (const n of NAMES) {
    const first = load(file(n));
    expect(first.stamped).toBeFalsy(); // the first start hashes and stamps
    const second = load(file(n));
    expect(second.stamped).toBe(true); // the next is recognised by the stamp
    expect(second.status).toBe("hit");
    expectCurrent(file(n), second);
  }
}, 60_000);

beforeEach(() => {
  warnings.length = 0;
});

/** Give `path` exactly the (nanosecond) atime and mtime of `ref`, as `touch -r` does with utimensat. */
function copyTimes(ref: string, path: string): void {
  const r = spawnSync("touch", ["-r", ref, path]);
  expect(r.status).toBe(0);
  expect(statSync(path, { bigint: true }).mtimeNs).toBe(statSync(ref, { bigint: true }).mtimeNs);
}

/** Overwrite `path` in place (same inode) with `bytes`, then set its mtime back to exactly what it was. */
function rewriteKeepingMtime(path: string, bytes: Uint8Array): void {
  const ref = `${path}.times`;
  writeFileSync(ref, "");
  copyTimes(path, ref);
  const size = statSync(path).size;
  const fd = openSync(path, "r+");
  writeSync(fd, bytes, 0, bytes.length, 0);
  closeSync(fd);
  copyTimes(ref, path);
  expect(statSync(path).size).toBe(size);
}

describe("source stamps: an unchanged source is not re-hashed, a changed one always is", () => {
  test("unchanged: the stamp stands for the hash", () => {
    const r = load(file("same"));
    expect(r.stamped).toBe(true);
    expectCurrent(file("same"), r);
  });

  test("same size, mtime set back with utimes: ctime gives it away", () => {
    rewriteKeepingMtime(file("utimes"), other);
    const r = load(file("utimes"));
    expect(r.stamped).toBeFalsy();
    expectCurrent(file("utimes"), r);
    expect(r.sourceHash).toBe(sha(other));
  });

  test("written through a hard link (same inode), mtime set back", () => {
    const link = join(DIR, "hardlink-2.wasm");
    linkSync(file("hardlink"), link);
    rewriteKeepingMtime(link, other);
    for (const p of [file("hardlink"), link]) {
      const r = load(p);
      expect(r.stamped).toBeFalsy();
      expect(r.sourceHash).toBe(sha(other));
    }
  });

  test("another file of the same size and mtime moved into place", () => {
    const evil = join(DIR, "moved-evil.wasm");
    writeFileSync(evil, other);
    copyTimes(file("moved"), evil);
    renameSync(evil, file("moved"));
    const r = load(file("moved"));
    expect(r.stamped).toBeFalsy();
    expect(r.sourceHash).toBe(sha(other));
  });

  test("deleted and recreated (the inode number may be reused), mtime set back", () => {
    const ref = join(DIR, "recreated.times");
    writeFileSync(ref, "");
    copyTimes(file("recreated"), ref);
    rmSync(file("recreated"));
    writeFileSync(file("recreated"), other);
    copyTimes(ref, file("recreated"));
    const r = load(file("recreated"));
    expect(r.stamped).toBeFalsy();
    expect(r.sourceHash).toBe(sha(other));
  });

  test("a forged stamp (made-up key) pointing the file at another module's entry is ignored", () => {
    // An entry for `other` exists (written by the tests above); the forger points
    // forged.wasm's fingerprint at it.
    const fp = fingerprintOf(statSync(file("forged"), { bigint: true }));
    writeFileSync(stampPath(CACHE, fp, HV), encodeStamp(randomBytes(32), HV, fp, sha(other)));
    const r = load(file("forged"));
    expect(r.stamped).toBeFalsy();
    expect(r.sourceHash).toBe(sha(hello));
  });

  test("the entry a valid stamp names, replaced by other bytes of the same size, is refused and rebuilt", () => {
    const r0 = load(file("entry"));
    expect(r0.stamped).toBe(true);
    const entry = r0.cachePath!;
    const data = readFileSync(entry);
    data[data.length - 1] = data[data.length - 1]! ^ 0xff;
    writeFileSync(entry, data);
    expect(statSync(entry).size).toBe(data.length);
    const r = load(file("entry"));
    expect(r.status).toBe("miss");
    expect(warnings.join("\n")).toContain("authentication failed");
    expectCurrent(file("entry"), r);
    // Rebuilt and authentic again.
    expect(load(file("entry")).status).toBe("hit");
  });

  test("a symlink planted where the stamp lives is not followed, and the source is hashed", () => {
    const fp = fingerprintOf(statSync(file("symlink"), { bigint: true }));
    const sp = stampPath(CACHE, fp, HV);
    const decoy = join(t.path, "decoy.stamp");
    writeFileSync(decoy, readFileSync(sp));
    rmSync(sp);
    symlinkSync(decoy, sp);
    const r = load(file("symlink"));
    expect(r.stamped).toBeFalsy();
    expectCurrent(file("symlink"), r);
  });

  test("another hard link to an unchanged file shares its stamp (it is the same content)", () => {
    const link = join(DIR, "link-same-2.wasm");
    linkSync(file("link-same"), link);
    // A new link changes ctime: hashed once more, then stamped again once settled.
    const r = load(link);
    expect(r.stamped).toBeFalsy();
    expectCurrent(link, r);
  });

  test("a file changed less than the settling time ago gets no stamp", () => {
    const fresh = join(DIR, "fresh.wasm");
    copyFileSync(join(DIR, "other.wasm"), fresh);
    const before = readdirSync(CACHE).filter((f) => f.endsWith(".stamp")).length;
    load(fresh);
    expect(load(fresh).stamped).toBeFalsy();
    expect(readdirSync(CACHE).filter((f) => f.endsWith(".stamp")).length).toBe(before);
  });

  test("stampable: only times at least SETTLED_MS in the past, never the future", () => {
    const now = 1_700_000_000_000;
    const ns = (ms: number): string => String(BigInt(ms) * 1_000_000n);
    const fp = (m: number, c: number) => ({ dev: "1", ino: "2", size: "3", mtimeNs: ns(m), ctimeNs: ns(c) });
    expect(stampable(fp(now - SETTLED_MS, now - SETTLED_MS), now)).toBe(true);
    expect(stampable(fp(now - SETTLED_MS, now - SETTLED_MS + 1), now)).toBe(false);
    expect(stampable(fp(now - 10 * SETTLED_MS, now), now)).toBe(false);
    expect(stampable(fp(now + 60_000, now - 10 * SETTLED_MS), now)).toBe(false);
  });
});
