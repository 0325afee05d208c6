import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HELLO_WASM, runFledgeAsync, sandbox } from "./helpers.ts";
import { removalVerdict, type CacheEntryInfo } from "../../src/install/cache.ts";

/**
 * Prepared-module cache housekeeping: `remove` drops its plugin's entries (not those a
 * remaining plugin shares), `fledge cache list` says what each entry serves, and
 * `fledge cache clean` removes orphans (everything with --all) but never a file a live
 * writer is filling.
 */

const box = sandbox();
const cacheDir = join(box.config, "cache", "wasm");
// Real processes: what is on disk is the point (an in-process run may reuse a module prepared in memory).
const fledge = (args: string[]) => runFledgeAsync(args, { env: box.env, cwd: box.root, timeoutMs: 60_000, spawn: true });
const entries = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((n) => n.endsWith(".cwasm")).sort() : []);

/** A second plugin with the very same module under another name. */
function twin(name: string): string {
  const dir = join(box.root, name);
  cpSync(HELLO_WASM, dir, { recursive: true });
  const toml = readFileSync(join(dir, "plugin.toml"), "utf8").replaceAll("hello-wasm", name);
  writeFileSync(join(dir, "plugin.toml"), toml);
  return dir;
}

beforeAll(async () => {
  for (const dir of [HELLO_WASM, twin("hello-twin")]) {
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--json"]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
}, 120_000);

afterAll(() => box.cleanup());

describe("fledge cache", () => {
  test("list: the entry install prepared, used by both plugins that ship its module", async () => {
    const r = await fledge(["cache", "list", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.dir).toBe(cacheDir);
    expect(out.entries).toHaveLength(1);
    expect(out.entries[0].plugins.sort()).toEqual(["hello-twin", "hello-wasm"]);
    expect(out.total_bytes).toBe(out.entries[0].size);
    const text = await fledge(["cache", "list"]);
    expect(text.stdout).toMatch(/hello-wasm, hello-twin|hello-twin, hello-wasm/);
  }, 30_000);

  test("clean keeps entries of installed plugins, removes orphans and dead writers' temp files, never a live writer's", async () => {
    mkdirSync(cacheDir, { recursive: true });
    const orphan = `${"ab".repeat(32)}-${"0".repeat(16)}.cwasm`;
    writeFileSync(join(cacheDir, orphan), "stale entry of a module nobody uses");
    // A live writer: this test process. A dead one: a pid that cannot exist.
    const live = `.${orphan}.tmp-${process.pid}-abcdef`;
    const dead = `.${orphan}.tmp-2147483646-abcdef`;
    writeFileSync(join(cacheDir, live), "half written");
    writeFileSync(join(cacheDir, dead), "left by a crash");
    const r = await fledge(["cache", "clean", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.removed.map((e: { file: string }) => e.file).sort()).toEqual([dead, orphan].sort());
    expect(out.kept.map((e: { why: string }) => e.why)).toEqual(expect.arrayContaining([`being written by process ${process.pid}`]));
    expect(existsSync(join(cacheDir, live))).toBe(true);
    expect(entries()).toHaveLength(1);
  }, 30_000);

  test("remove keeps an entry another plugin still uses, and drops it with the last one", async () => {
    const before = entries();
    expect(JSON.parse((await fledge(["plugins", "remove", "hello-twin", "--json"])).stdout).cache).toEqual({ files: 0, bytes: 0 });
    expect(entries()).toEqual(before);
    const r = await fledge(["plugins", "remove", "hello-wasm", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).cache.files).toBe(1);
    expect(entries()).toEqual([]);
  }, 30_000);

  test("clean --all removes installed plugins' entries too; the next run prepares again", async () => {
    expect((await fledge(["plugins", "install", HELLO_WASM, "--copy", "--yes"])).code).toBe(0);
    expect(entries()).toHaveLength(1);
    const text = await fledge(["cache", "clean"]);
    expect(text.stdout).toContain("Removed 0 cache file(s)");
    expect(text.stdout).toContain("used by hello-wasm");
    const all = await fledge(["cache", "clean", "--all"]);
    expect(all.stdout).toMatch(/^Removed 1 cache file\(s\), \d+ B freed\./);
    expect(entries()).toEqual([]);
    const run = await fledge(["hello-wasm"]);
    expect(run.code).toBe(0);
    expect(entries()).toHaveLength(1);
  }, 60_000);
});

describe("removalVerdict", () => {
  const base: CacheEntryInfo = { file: "x", path: "/x", size: 1, written: "", source_sha256: "a".repeat(64), plugins: [], temp: null };
  test("the rules, one by one", () => {
    expect(removalVerdict({ ...base, source_sha256: null, temp: { pid: 1, alive: true } }, { all: true }).remove).toBe(false);
    expect(removalVerdict({ ...base, source_sha256: null, temp: { pid: 1, alive: false } }, {}).remove).toBe(true);
    expect(removalVerdict({ ...base, source_sha256: null }, { all: true }).remove).toBe(false); // not ours
    expect(removalVerdict(base, {}).remove).toBe(true); // orphan
    expect(removalVerdict({ ...base, plugins: ["p"] }, {}).remove).toBe(false);
    expect(removalVerdict({ ...base, plugins: ["p"] }, { all: true }).remove).toBe(true);
    expect(removalVerdict(base, { sources: new Set(["b".repeat(64)]) }).remove).toBe(false);
    expect(removalVerdict({ ...base, plugins: ["other"] }, { sources: new Set(["a".repeat(64)]) }).remove).toBe(false);
    expect(removalVerdict(base, { sources: new Set(["a".repeat(64)]) }).remove).toBe(true);
  });
});
