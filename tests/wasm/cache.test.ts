import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeEntry, encodeEntry, entryPath, loadPrepared, maxEntryBytes, pruneCache, sha256Hex, type CacheOptions, type PreparedModule } from "../../src/wasm/cache.ts";
import { hostVersionString } from "../../src/wasm/prepared.ts";
import { preparedFor } from "../../src/wasm/prepare.ts";
import { hostTag } from "../../src/core/index.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";

// The prepared-module cache: entries only in <config>/cache/wasm, each
// authenticated with HMAC-SHA256 under a per-user key; a bad entry is rebuilt.
const HELLO = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm");
const t = tempDir("fledge-cache-");
afterAll(() => t.cleanup());

let n = 0;
function fresh(): string {
  const dir = join(t.path, `case-${n++}`);
  mkdirSync(dir);
  const wasm = join(dir, "hello.wasm");
  copyFileSync(HELLO, wasm);
  return wasm;
}

let prepares = 0;
const prepare = (b: Uint8Array): PreparedModule => ({ bytes: b, analysis: { calls: ++prepares } });
const KEY = randomBytes(32);
const CACHE = join(t.path, "cache", "wasm");
/** Options with a fresh host version per call site, so the in-process map never answers. */
function opts(extra: Partial<CacheOptions> = {}): CacheOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { hostVersion: `v-${n}-${Math.random()}`, cacheDir: CACHE, key: () => KEY, warn: (m) => warnings.push(m), warnings, ...extra };
}
const PWNED = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wasi", "pwned.wasm")));
const source = (wasm: string) => new Uint8Array(readFileSync(wasm));

/** Plant something at the entry's path, run the loader again, and require a warned rebuild into a valid entry. */
function expectRebuilt(plant: (path: string, src: Uint8Array, hostVersion: string) => void, why: RegExp): void {
  const wasm = fresh();
  const src = source(wasm);
  const o = opts();
  const path = entryPath(CACHE, sha256Hex(src), o.hostVersion);
  mkdirSync(CACHE, { recursive: true });
  plant(path, src, o.hostVersion);
  const r = loadPrepared(src, prepare, o);
  expect(r.status).toBe("miss");
  expect(o.warnings.join("\n")).toMatch(why);
  const st = lstatSync(path);
  expect(st.isFile()).toBe(true);
  expect(decodeEntry(KEY, sha256Hex(src), o.hostVersion, new Uint8Array(readFileSync(path))).bytes).toEqual(src);
}

describe("prepared-module cache: location", () => {
  test("a cold run writes one entry in the cache folder and nothing beside the module; the next load reads it", () => {
    const wasm = fresh();
    const src = source(wasm);
    const o = opts();
    const first = loadPrepared(src, prepare, o);
    expect(first.status).toBe("miss");
    expect(first.cachePath).toBe(entryPath(CACHE, sha256Hex(src), o.hostVersion));
    expect(readdirSync(join(wasm, ".."))).toEqual(["hello.wasm"]);
    expect(statSync(first.cachePath!).mode & 0o777).toBe(0o600);
    expect(loadPrepared(src, prepare, o).status).toBe("memory");
  });

  test("a fresh process hits the cache `fledge wasm prepare` filled, and the module folder stays as it was", () => {
    const wasm = fresh();
    const cfg = join(t.path, "cfg-prepare");
    const env = { FLEDGE_CONFIG_DIR: cfg };
    const p1 = runFledge(["wasm", "prepare", wasm, "--json"], { env });
    expect(p1.code, p1.stderr).toBe(0);
    const j1 = JSON.parse(p1.stdout);
    expect(j1).toMatchObject({ schema_version: 1, action: "prepare", status: "miss" });
    expect(j1.cache.startsWith(join(cfg, "cache", "wasm") + "/")).toBe(true);
    const p2 = runFledge(["wasm", "prepare", wasm, "--json"], { env });
    expect(JSON.parse(p2.stdout).status).toBe("hit");
    expect(readdirSync(join(wasm, ".."))).toEqual(["hello.wasm"]);
    expect(statSync(join(cfg, "cache.key")).mode & 0o777).toBe(0o600);
  });

  test("source edited, host version changed: a different entry, prepared quietly", () => {
    const wasm = fresh();
    let src = source(wasm);
    const o = opts();
    expect(loadPrepared(src, prepare, o).status).toBe("miss");
    src = new Uint8Array([...src, 0, 4, 110, 97, 109, 101]); // append a custom section
    expect(loadPrepared(src, prepare, o).status).toBe("miss");
    expect(loadPrepared(src, prepare, { ...o, hostVersion: `${o.hostVersion}-b` }).status).toBe("miss");
    expect(o.warnings).toEqual([]);
  });

  test("--no-cache writes nothing: not beside the module, not in the cache folder, no key", () => {
    const wasm = fresh();
    const cfg = join(t.path, "cfg-nocache");
    const r = runFledge(["wasm", "run", "--no-cache", wasm], { env: { FLEDGE_CONFIG_DIR: cfg } });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(wasm, ".."))).toEqual(["hello.wasm"]);
    expect(existsSync(cfg)).toBe(false);
  });

  test("the memory cap and the cache format are part of the key", () => {
    expect(hostVersionString(1 << 20)).not.toBe(hostVersionString(2 << 20));
    expect(hostVersionString(1 << 20)).toContain("cache-format 2");
    const wasm = fresh();
    const src = source(wasm);
    const configDir = join(t.path, "cfg-cap");
    const a = preparedFor(src, { maxMemoryBytes: 64 << 20, configDir });
    const b = preparedFor(src, { maxMemoryBytes: 128 << 20, configDir });
    expect(a.status).toBe("miss");
    expect(b.status).toBe("miss");
    expect(a.cachePath).not.toBe(b.cachePath);
  });
});

describe("prepared-module cache: a bad entry is rebuilt, never used, never fatal", () => {
  const wrongKey = randomBytes(32);
  test("forged: a well-formed entry for this very source and host version, under another key", () => {
    expectRebuilt((p, src, hv) => writeFileSync(p, encodeEntry(wrongKey, sha256Hex(src), hv, { bytes: PWNED, analysis: {} })), /authentication failed/);
  });

  test("moved: a genuine entry (right key) of another module, copied to this module's name", () => {
    expectRebuilt((p, _src, hv) => writeFileSync(p, encodeEntry(KEY, sha256Hex(PWNED), hv, { bytes: PWNED, analysis: {} })), /authentication failed/);
  });

  test("re-labelled: a genuine entry of this module for another host version (e.g. another memory cap)", () => {
    expectRebuilt((p, src, hv) => writeFileSync(p, encodeEntry(KEY, sha256Hex(src), `${hv} max-memory none`, { bytes: PWNED, analysis: {} })), /authentication failed/);
  });

  test("garbage, empty and truncated entries", () => {
    expectRebuilt((p) => writeFileSync(p, "garbage garbage garbage garbage garbage garbage garbage"), /bad magic/);
    expectRebuilt((p) => writeFileSync(p, ""), /truncated/);
    expectRebuilt((p) => writeFileSync(p, "FLEDGECW2\n" + "x".repeat(20)), /truncated/);
  });

  test("a genuine entry with one byte flipped (in the MAC, the analysis or the code), or cut short", () => {
    const damages: ((b: Uint8Array) => Uint8Array)[] = [
      (b) => ((b[12] = b[12]! ^ 1), b),
      (b) => ((b[46] = b[46]! ^ 1), b),
      (b) => ((b[b.length - 1] = b[b.length - 1]! ^ 1), b),
      (b) => b.subarray(0, b.length - 3),
    ];
    for (const damage of damages) {
      expectRebuilt((p, src, hv) => writeFileSync(p, damage(encodeEntry(KEY, sha256Hex(src), hv, { bytes: src, analysis: {} }))), /authentication failed|truncated/);
    }
  });

  test("a directory in the entry's place (it used to break the module for good)", () => {
    expectRebuilt((p) => {
      mkdirSync(join(p, "sub"), { recursive: true });
      writeFileSync(join(p, "sub", "f"), "x");
    }, /directory/);
  });

  test("a symlink in the entry's place, even to a genuine entry; the link's target is left alone", () => {
    const decoy = join(t.path, "decoy.cwasm");
    let genuine: Uint8Array | undefined;
    expectRebuilt((p, src, hv) => {
      genuine = encodeEntry(KEY, sha256Hex(src), hv, { bytes: src, analysis: {} });
      writeFileSync(decoy, genuine);
      symlinkSync(decoy, p);
    }, /symbolic link/);
    expect(sha256Hex(readFileSync(decoy))).toBe(sha256Hex(genuine!));
  });

  test("a FIFO in the entry's place does not block the load", () => {
    expectRebuilt((p) => {
      const r = Bun.spawnSync(["mkfifo", p]);
      expect(r.exitCode).toBe(0);
    }, /not a regular file/);
  });

  test("an entry owned by another user, even a genuine one (checked when the test can chown, i.e. as root)", () => {
    if (process.getuid?.() !== 0) return console.warn("not root: cannot give an entry to another user; skipped");
    expectRebuilt((p, src, hv) => {
      writeFileSync(p, encodeEntry(KEY, sha256Hex(src), hv, { bytes: src, analysis: {} }));
      chownSync(p, 12345, 12345);
    }, /owned by uid 12345/);
  });

  test("an entry bigger than any module of this size may produce", () => {
    expectRebuilt((p) => {
      writeFileSync(p, "");
      truncateSync(p, maxEntryBytes(readFileSync(HELLO).length) + 1); // sparse: costs no disk
    }, /more than/);
  });

  test("an unwritable cache folder warns and runs without the cache", () => {
    const wasm = fresh();
    const blocker = join(t.path, "blocked");
    writeFileSync(blocker, "a file where the cache folder should be");
    const o = opts({ cacheDir: join(blocker, "wasm") });
    const r = loadPrepared(source(wasm), prepare, o);
    expect(r.status).toBe("miss");
    expect(o.warnings.join("\n")).toMatch(/could not write the module cache/);
  });

  test("no usable key: prepared every time, nothing written", () => {
    const wasm = fresh();
    const o = opts({ key: () => undefined, cacheDir: join(t.path, "never") });
    expect(loadPrepared(source(wasm), prepare, o).status).toBe("miss");
    expect(existsSync(join(t.path, "never"))).toBe(false);
  });
});

describe("prepared-module cache: the folder stays bounded", () => {
  test("beyond the entry count or the byte budget the oldest entries go; temp files of dead writers go; live writers' stay", () => {
    const dir = join(t.path, "prune");
    mkdirSync(dir, { recursive: true });
    const now = Date.now() / 1000;
    for (let i = 0; i < 6; i++) {
      const p = join(dir, `${String(i).repeat(64)}-0000000000000000.cwasm`);
      writeFileSync(p, "x".repeat(100));
      utimesSync(p, now - i * 60, now - i * 60); // entry 0 newest
    }
    const dead = Bun.spawnSync(["true"]).pid;
    const here = hostTag();
    const there = hostTag("another-machine.example"); // a shared home: its pid means nothing here
    writeFileSync(join(dir, `.a.cwasm.tmp-${dead}-${here}-abcdef`), "half");
    writeFileSync(join(dir, `.b.cwasm.tmp-${process.pid}-${here}-abcdef`), "in progress");
    writeFileSync(join(dir, `.c.cwasm.tmp-${dead}-${there}-abcdef`), "in progress over there");
    writeFileSync(join(dir, "unrelated.txt"), "kept");
    pruneCache(dir, { entries: 4, bytes: 1 << 20 });
    const left = readdirSync(dir).sort();
    expect(left.filter((f) => f.endsWith(".cwasm")).map((f) => f[0])).toEqual(["0", "1", "2", "3"]);
    expect(left).toContain(`.b.cwasm.tmp-${process.pid}-${here}-abcdef`);
    expect(left).toContain(`.c.cwasm.tmp-${dead}-${there}-abcdef`);
    expect(left).not.toContain(`.a.cwasm.tmp-${dead}-${here}-abcdef`);
    expect(left).toContain("unrelated.txt");
    pruneCache(dir, { entries: 100, bytes: 250 });
    expect(readdirSync(dir).filter((f) => f.endsWith(".cwasm")).map((f) => f[0])).toEqual(["0", "1"]);
  });
});

describe("install fills the cache (its last step before the commit)", () => {
  test("a copied wasm plugin is prepared into <config>/cache/wasm; its folder holds no .cwasm; the first run hits", () => {
    const cfg = join(t.path, "cfg-install");
    const env = { FLEDGE_CONFIG_DIR: cfg };
    const r = runFledge(["plugins", "install", join(ROOT, "tests", "fixtures", "plugins", "hello-wasm"), "--copy", "--yes", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const dir = join(cfg, "plugins", "hello-wasm");
    expect(readdirSync(dir).filter((f) => f.includes(".cwasm"))).toEqual([]);
    const entries = readdirSync(join(cfg, "cache", "wasm"));
    expect(entries.length).toBe(1);
    expect(entries[0]!.startsWith(sha256Hex(readFileSync(join(dir, "hello.wasm"))))).toBe(true);
    const p = runFledge(["wasm", "prepare", join(dir, "hello.wasm"), "--json"], { env });
    expect(JSON.parse(p.stdout).status).toBe("hit");
  });
});
