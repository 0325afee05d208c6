/**
 * Issue 10 item 2, as an attacker would try it: a prepared module runs only if this
 * fledge, for this user, wrote it. The hostile guest (tests/fixtures/wasi/cacheforge.c)
 * copies files between its preopens; the payload (pwned.wat) prints PWNED and spins
 * unmetered, so it can only ever run through a forged cache entry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../../src/cli/wasm.ts";
import { encodeEntry, sha256Hex } from "../../src/wasm/cache.ts";
import { hostVersionString } from "../../src/wasm/prepared.ts";
import { ROOT, runFledge, tempDir, type RunResult } from "../helpers/cli.ts";

const FIX = join(ROOT, "tests", "fixtures", "wasi");
const t = tempDir("fledge-cacheforge-");
afterAll(() => t.cleanup());

const T = t.path;
const CFG = join(T, "home", ".config", "fledge");
const MOD = join(T, "mod");
const PAYLOAD = join(T, "payload");
const GUEST = join(MOD, "cacheforge.wasm");
const env = { HOME: join(T, "home"), FLEDGE_CONFIG_DIR: CFG, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };
const HV = hostVersionString(DEFAULT_LIMITS.maxMemoryBytes);
const src = new Uint8Array(readFileSync(join(FIX, "cacheforge.wasm")));
const pwned = new Uint8Array(readFileSync(join(FIX, "pwned.wasm")));

function run(args: string[], extra: string[] = []): RunResult {
  return runFledge(["wasm", "run", "--timeout", "20", ...extra, GUEST, ...args], { env, timeoutMs: 60_000 });
}
/** The real module ran, the payload did not. */
function ranReal(r: RunResult): void {
  expect(r.stdout, r.stderr).toContain("cacheforge ran\n");
  expect(r.stdout).not.toContain("PWNED");
  expect(r.code, r.stderr).toBe(0);
}
const entries = (): string[] => readdirSync(join(CFG, "cache", "wasm")).filter((f) => f.endsWith(".cwasm"));
const digest = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");

beforeAll(() => {
  mkdirSync(MOD, { recursive: true });
  mkdirSync(PAYLOAD, { recursive: true });
  copyFileSync(join(FIX, "cacheforge.wasm"), GUEST);
  // The old layout's forgery: FLEDGECW1 + analysis + the payload, and a stamp anyone can compute.
  const json = new TextEncoder().encode("{}");
  const old = new Uint8Array(10 + 4 + json.length + pwned.length);
  old.set(new TextEncoder().encode("FLEDGECW1\n"), 0);
  new DataView(old.buffer).setUint32(10, json.length, true);
  old.set(json, 14);
  old.set(pwned, 14 + json.length);
  writeFileSync(join(PAYLOAD, "old.cwasm"), old);
  // The stamp as the old layout wrote it (its host version had no cache-format field).
  writeFileSync(join(PAYLOAD, "old.cwasm.sha256"), `${sha256Hex(src)}\n${HV.replace(/; cache-format \d+/, "")}\n${sha256Hex(old)}`);
  // The new layout, under a key the attacker made up.
  writeFileSync(join(PAYLOAD, "new.cwasm"), encodeEntry(randomBytes(32), sha256Hex(src), HV, { bytes: pwned, analysis: {} }));
});

describe("a guest cannot plant a prepared module", () => {
  test("with a read-write preopen over its own folder it plants .cwasm files and stamps beside itself: the next run ignores them", () => {
    const plant = run(["/payload/old.cwasm", "/self/cacheforge.cwasm", "/payload/old.cwasm.sha256", "/self/cacheforge.cwasm.sha256", "/payload/new.cwasm", "/self/cacheforge.wasm.cwasm"], ["--dir", `${MOD}::/self`, "--dir", `${PAYLOAD}::/payload:ro`]);
    ranReal(plant);
    expect(plant.stdout).toContain("copied /self/cacheforge.cwasm.sha256");
    expect(readdirSync(MOD).sort()).toEqual(["cacheforge.cwasm", "cacheforge.cwasm.sha256", "cacheforge.wasm", "cacheforge.wasm.cwasm"]);
    const next = run([], ["--fuel", "100000000"]);
    ranReal(next);
    expect(next.stderr).not.toMatch(/cache/); // never even looked at: nothing to warn about
    expect(entries().length).toBe(1);
  });

  test("anyone who can write beside a module (a shared /tmp folder) plants files in every name the old layouts used: ignored", () => {
    const shared = join(T, "shared");
    mkdirSync(shared, { recursive: true });
    const g = join(shared, "cacheforge.wasm");
    copyFileSync(GUEST, g);
    copyFileSync(join(PAYLOAD, "old.cwasm"), join(shared, "cacheforge.cwasm"));
    copyFileSync(join(PAYLOAD, "old.cwasm.sha256"), join(shared, "cacheforge.cwasm.sha256"));
    const r = runFledge(["wasm", "run", g], { env });
    ranReal(r);
  });

  test("from its preopen it cannot reach fledge's cache folder", () => {
    const [name] = entries();
    const entry = join(CFG, "cache", "wasm", name!);
    const before = digest(entry);
    const r = run(["/payload/new.cwasm", `/self/../home/.config/fledge/cache/wasm/${name}`, "/payload/new.cwasm", "/self/../home/.config/fledge/cache.key"], ["--dir", `${T}/mod::/self`, "--dir", `${PAYLOAD}::/payload:ro`]);
    ranReal(r);
    expect(r.stdout).not.toContain("copied");
    expect(digest(entry)).toBe(before);
  });

  test("a read-write preopen of fledge's config folder, anything inside it or anything containing it is refused before the guest runs", () => {
    for (const dir of [CFG, join(CFG, "cache"), join(CFG, "cache", "wasm"), join(T, "home"), T]) {
      const r = run(["/payload/new.cwasm", "/x/cache/wasm/forged.cwasm"], ["--dir", `${dir}::/x`, "--dir", `${PAYLOAD}::/payload:ro`]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain("cacheforge ran");
      expect(r.stderr).toMatch(/refusing to give the module write access to .*fledge's config folder/);
      expect(r.stderr).toMatch(/:ro/); // the hint names the fix
    }
  }, 120_000); // five real processes: slow on a loaded machine

  test("read-only, the config folder may be mounted, and the guest still cannot write the cache", () => {
    const [name] = entries();
    const entry = join(CFG, "cache", "wasm", name!);
    const before = digest(entry);
    const r = run(["/payload/new.cwasm", `/cfg/cache/wasm/${name}`], ["--dir", `${CFG}::/cfg:ro`, "--dir", `${PAYLOAD}::/payload:ro`]);
    ranReal(r);
    expect(r.stdout).toContain(`failed /cfg/cache/wasm/${name}`);
    expect(digest(entry)).toBe(before);
  });

  test("a plugin's own data folder inside the config folder may still be mounted read-write", () => {
    const data = join(CFG, "plugins", "someplugin", "data");
    mkdirSync(data, { recursive: true });
    const r = run(["/payload/new.cwasm", "/plugin/copy"], ["--dir", `${data}::/plugin`, "--dir", `${PAYLOAD}::/payload:ro`]);
    ranReal(r);
    expect(existsSync(join(data, "copy"))).toBe(true);
  });
});

describe("fledge's own cache folder: a bad entry is rebuilt end to end", () => {
  test("a forged entry (another key) in the cache folder: warned, rebuilt, the real module runs", () => {
    const [name] = entries();
    const entry = join(CFG, "cache", "wasm", name!);
    copyFileSync(join(PAYLOAD, "new.cwasm"), entry);
    const r = run([]);
    ranReal(r);
    expect(r.stderr).toMatch(/authentication failed/);
    const again = run([]);
    ranReal(again);
    expect(again.stderr).not.toMatch(/authentication failed/); // rewritten with this user's key
  });

  test("the entry replaced by a directory, then by a FIFO: each run warns, rebuilds and runs", () => {
    const [name] = entries();
    const entry = join(CFG, "cache", "wasm", name!);
    rmSync(entry);
    mkdirSync(join(entry, "x"), { recursive: true });
    ranReal(run([]));
    rmSync(entry);
    expect(Bun.spawnSync(["mkfifo", entry]).exitCode).toBe(0);
    const r = run([]);
    ranReal(r);
    expect(r.stderr).toMatch(/not a regular file/);
  });

  test("the key deleted, or made readable by others: a new key, every entry rebuilt, nothing fails", () => {
    rmSync(join(CFG, "cache.key"));
    const a = run([]);
    ranReal(a);
    expect(a.stderr).toMatch(/authentication failed/);
    chmodSync(join(CFG, "cache.key"), 0o640);
    const b = run([]);
    ranReal(b);
    expect(b.stderr).toMatch(/permissions are 640, not 600/);
  });

  test("four processes preparing the same module at once on a fresh config all succeed and leave one valid entry", async () => {
    const cfg = join(T, "race-cfg");
    const e = { ...env, FLEDGE_CONFIG_DIR: cfg };
    const cmd = [process.execPath, join(ROOT, "src", "main.ts"), "wasm", "prepare", GUEST, "--json"];
    const procs = Array.from({ length: 4 }, () => Bun.spawn(cmd, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...e }, stdout: "pipe", stderr: "pipe" }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    const errs = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
    expect(codes, errs.join("\n")).toEqual([0, 0, 0, 0]);
    expect(errs.join("")).not.toMatch(/not usable|could not write/);
    const p = runFledge(["wasm", "prepare", GUEST, "--json"], { env: e });
    expect(JSON.parse(p.stdout).status).toBe("hit");
    const left = readdirSync(join(cfg, "cache", "wasm"));
    expect(left.filter((f) => f.endsWith(".cwasm")).length).toBe(1);
    expect(left.filter((f) => !f.endsWith(".cwasm") && !f.endsWith(".stamp"))).toEqual([]); // no temp files left
    expect(readdirSync(cfg).sort()).toEqual(["cache", "cache.key"]);
  }, 120_000); // five real processes: slow on a loaded machine
});
