import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cachePathFor, loadPrepared, sha256Hex, type PreparedModule } from "../../src/wasm/cache.ts";
import { hostVersionString, preparedFor } from "../../src/wasm/prepared.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";

// Contract section 11: foo.cwasm + a three-line foo.cwasm.sha256 beside foo.wasm.
const HELLO = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm");
const t = tempDir("fledge-cache-");
afterAll(() => {
  chmodSync(t.path, 0o755);
  t.cleanup();
});

let n = 0;
function fresh(): string {
  const dir = join(t.path, `case-${n++}`);
  mkdirSync(dir);
  const wasm = join(dir, "hello.wasm");
  copyFileSync(HELLO, wasm);
  return wasm;
}

const prepare = (b: Uint8Array): PreparedModule => ({ bytes: b, analysis: { calls: ++prepares } });
let prepares = 0;
const opts = (extra: Partial<Parameters<typeof loadPrepared>[3]> = {}) => ({ hostVersion: "v1", userCacheDir: join(t.path, "user-cache"), ...extra });

describe("prepared-module cache", () => {
  test("a cold run prepares and writes foo.cwasm and a three-line stamp; the next run is a hit", () => {
    const wasm = fresh();
    const src = new Uint8Array(readFileSync(wasm));
    const first = loadPrepared(wasm, src, prepare, opts({ hostVersion: `v-${n}` }));
    expect(first.status).toBe("miss");
    const cwasm = cachePathFor(wasm);
    expect(cwasm).toBe(wasm.replace(/\.wasm$/, ".cwasm"));
    const stamp = readFileSync(`${cwasm}.sha256`, "utf8").split("\n");
    expect(stamp).toEqual([sha256Hex(src), `v-${n}`, sha256Hex(readFileSync(cwasm))]);
    // A new process would miss the in-memory map; simulate with a different host version then back.
    const again = loadPrepared(wasm, src, prepare, opts({ hostVersion: `v-${n}` }));
    expect(again.status).toBe("memory");
  });

  test("hit from disk in a fresh process: `fledge wasm prepare` then a run uses the cache", () => {
    const wasm = fresh();
    const p1 = runFledge(["wasm", "prepare", wasm, "--json"]);
    expect(p1.code).toBe(0);
    expect(JSON.parse(p1.stdout)).toMatchObject({ schema_version: 1, action: "prepare", status: "miss" });
    const p2 = runFledge(["wasm", "prepare", wasm, "--json"]);
    expect(JSON.parse(p2.stdout).status).toBe("hit");
    expect(existsSync(cachePathFor(wasm))).toBe(true);
  });

  test("source edited, host version changed: re-prepared quietly", () => {
    const wasm = fresh();
    let src = new Uint8Array(readFileSync(wasm));
    const warnings: string[] = [];
    const o = opts({ hostVersion: "vA-src", warn: (m: string) => warnings.push(m) });
    expect(loadPrepared(wasm, src, prepare, o).status).toBe("miss");
    src = new Uint8Array([...src, 0, 4, 110, 97, 109, 101]); // append an (empty-ish) custom section
    expect(loadPrepared(wasm, src, prepare, o).status).toBe("miss");
    expect(loadPrepared(wasm, src, prepare, { ...o, hostVersion: "vB-src" }).status).toBe("miss");
    expect(warnings).toEqual([]);
    expect(readFileSync(`${cachePathFor(wasm)}.sha256`, "utf8").split("\n")[1]).toBe("vB-src");
  });

  test("a tampered cwasm warns and is rebuilt, never used", () => {
    const wasm = fresh();
    const src = new Uint8Array(readFileSync(wasm));
    const warnings: string[] = [];
    const o = opts({ hostVersion: "v-tamper-1", warn: (m: string) => warnings.push(m) });
    loadPrepared(wasm, src, prepare, o);
    const cwasm = cachePathFor(wasm);
    const bytes = readFileSync(cwasm);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(cwasm, bytes);
    const r = loadPrepared(wasm, src, prepare, { ...o, hostVersion: "v-tamper-1" + " " }); // new key: skip the in-memory copy
    expect(r.status).toBe("miss");
    // Same stamp version as on disk → detect the edit.
    writeFileSync(cwasm, bytes);
    writeFileSync(`${cwasm}.sha256`, [sha256Hex(src), "v-tamper-2", sha256Hex(readFileSync(wasm).subarray(0, 1))].join("\n"));
    const r2 = loadPrepared(wasm, src, prepare, { ...o, hostVersion: "v-tamper-2" });
    expect(r2.status).toBe("miss");
    expect(warnings.some((w) => w.includes("does not match its stamp"))).toBe(true);
    // And the rewritten stamp matches again.
    const stamp = readFileSync(`${cwasm}.sha256`, "utf8").split("\n");
    expect(stamp[2]).toBe(sha256Hex(readFileSync(cwasm)));
  });

  test("a corrupt stamp warns and rebuilds, never fails", () => {
    const wasm = fresh();
    const src = new Uint8Array(readFileSync(wasm));
    writeFileSync(cachePathFor(wasm), "garbage");
    writeFileSync(`${cachePathFor(wasm)}.sha256`, "only one line");
    const warnings: string[] = [];
    const r = loadPrepared(wasm, src, prepare, opts({ hostVersion: "v-corrupt", warn: (m: string) => warnings.push(m) }));
    expect(r.status).toBe("miss");
    expect(warnings.length).toBe(1);
  });

  test("a read-only module folder uses the user cache dir keyed by the source hash", () => {
    const wasm = fresh();
    const dir = join(wasm, "..");
    chmodSync(dir, 0o555);
    try {
      const src = new Uint8Array(readFileSync(wasm));
      // root ignores directory permissions: only check when they are enforced.
      let enforced = true;
      try {
        writeFileSync(join(dir, "probe"), "");
        enforced = false;
      } catch {}
      const r = loadPrepared(wasm, src, prepare, opts({ hostVersion: "v-ro" }));
      if (enforced) {
        expect(r.cachePath!.startsWith(join(t.path, "user-cache"))).toBe(true);
        expect(r.cachePath).toContain(sha256Hex(src));
      } else {
        console.warn("running as root: directory permissions are not enforced, checking the key only");
        expect(r.status).toBe("miss");
      }
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  test("--no-cache writes nothing", () => {
    const wasm = fresh();
    const r = runFledge(["wasm", "run", "--no-cache", wasm]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(wasm, ".."))).toEqual(["hello.wasm"]);
  });

  test("the memory cap is part of the key: preparing for another cap does not reuse the bytes", () => {
    expect(hostVersionString(1 << 20)).not.toBe(hostVersionString(2 << 20));
    const wasm = fresh();
    const src = new Uint8Array(readFileSync(wasm));
    const a = preparedFor(wasm, src, { maxMemoryBytes: 64 << 20 });
    const b = preparedFor(wasm, src, { maxMemoryBytes: 128 << 20 });
    expect(a.status).toBe("miss");
    expect(b.status).toBe("miss");
  });
});

describe("install fills the cache (contract section 6 step 6)", () => {
  test("a copied wasm plugin has hello.cwasm and its stamp beside hello.wasm, and the first run hits it", () => {
    const cfg = join(t.path, "cfg-install");
    const env = { FLEDGE_CONFIG_DIR: cfg };
    const r = runFledge(["plugins", "install", join(ROOT, "tests", "fixtures", "plugins", "hello-wasm"), "--copy", "--yes", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const dir = join(cfg, "plugins", "hello-wasm");
    const stamp = readFileSync(join(dir, "hello.cwasm.sha256"), "utf8").split("\n");
    expect(stamp.length).toBe(3);
    expect(stamp[0]).toBe(sha256Hex(readFileSync(join(dir, "hello.wasm"))));
    expect(stamp[2]).toBe(sha256Hex(readFileSync(join(dir, "hello.cwasm"))));
  });
});
