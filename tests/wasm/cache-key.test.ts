import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheKeyPath, forgetCacheKeys, KEY_BYTES, loadCacheKey } from "../../src/wasm/cache-key.ts";
import { MAIN, tempDir } from "../helpers/cli.ts";

// THE cache key (src/wasm/cache-key.ts): 32 random bytes in <config>/cache.key, 0600,
// owned by the user; anything else is replaced, never trusted, never fatal.
const t = tempDir("fledge-cachekey-");
afterAll(() => t.cleanup());

let n = 0;
function cfg(): string {
  const dir = join(t.path, `cfg-${n++}`);
  forgetCacheKeys();
  return dir;
}
function load(dir: string): { key: Buffer | undefined; warnings: string[] } {
  forgetCacheKeys();
  const warnings: string[] = [];
  return { key: loadCacheKey(dir, (m) => warnings.push(m)), warnings };
}

describe("cache key", () => {
  test("created on first use: 32 random bytes, mode 0600, then the same key every time", () => {
    const dir = cfg();
    const a = load(dir);
    expect(a.key?.length).toBe(KEY_BYTES);
    expect(a.warnings).toEqual([]);
    const st = statSync(cacheKeyPath(dir));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(KEY_BYTES);
    expect(load(dir).key).toEqual(a.key!);
    expect(load(cfg()).key).not.toEqual(a.key!); // per config folder, random
    expect(readdirSync(dir)).toEqual(["cache.key"]); // no temp file left behind
  });

  test("a key readable by others is replaced (its old value is treated as known to others)", () => {
    const dir = cfg();
    const a = load(dir).key!;
    chmodSync(cacheKeyPath(dir), 0o644);
    const b = load(dir);
    expect(b.warnings.join("\n")).toMatch(/permissions are 644, not 600/);
    expect(b.key).not.toEqual(a);
    expect(statSync(cacheKeyPath(dir)).mode & 0o777).toBe(0o600);
  });

  test("a key of the wrong size (empty, short, long) is replaced", () => {
    for (const content of ["", "short", "x".repeat(KEY_BYTES + 1)]) {
      const dir = cfg();
      mkdirSync(dir, { recursive: true });
      writeFileSync(cacheKeyPath(dir), content, { mode: 0o600 });
      const r = load(dir);
      expect(r.warnings.join("\n")).toMatch(new RegExp(`it is ${content.length} bytes, not ${KEY_BYTES}`));
      expect(readFileSync(cacheKeyPath(dir)).toString("hex")).toBe(r.key!.toString("hex"));
    }
  });

  test("a key owned by another user is replaced (checked when the test can chown, i.e. as root)", () => {
    const dir = cfg();
    const a = load(dir).key!;
    if (process.getuid?.() !== 0) return console.warn("not root: cannot give the key to another user; skipped");
    chownSync(cacheKeyPath(dir), 12345, 12345);
    const r = load(dir);
    expect(r.warnings.join("\n")).toMatch(/owned by uid 12345/);
    expect(r.key).not.toEqual(a);
    expect(statSync(cacheKeyPath(dir)).uid).toBe(0);
  });

  test("a symlink as the key is not followed: replaced by a file, its target untouched", () => {
    const dir = cfg();
    mkdirSync(dir, { recursive: true });
    const planted = join(t.path, `planted-${n}`);
    writeFileSync(planted, "k".repeat(KEY_BYTES), { mode: 0o600 });
    symlinkSync(planted, cacheKeyPath(dir));
    const r = load(dir);
    expect(r.warnings.join("\n")).toMatch(/symbolic link/);
    expect(r.key).not.toEqual(Buffer.from("k".repeat(KEY_BYTES)));
    expect(readFileSync(planted, "utf8")).toBe("k".repeat(KEY_BYTES));
  });

  test("a directory or a FIFO as the key is replaced without blocking", () => {
    const dir = cfg();
    mkdirSync(join(cacheKeyPath(dir), "sub"), { recursive: true });
    expect(load(dir).key?.length).toBe(KEY_BYTES);
    const dir2 = cfg();
    mkdirSync(dir2, { recursive: true });
    expect(Bun.spawnSync(["mkfifo", cacheKeyPath(dir2)]).exitCode).toBe(0);
    const r = load(dir2);
    expect(r.warnings.join("\n")).toMatch(/not a regular file/);
    expect(statSync(cacheKeyPath(dir2)).isFile()).toBe(true);
  });

  test("no key can be created (a file where the config folder should be): undefined and a warning, no throw", () => {
    const blocker = join(t.path, `blocker-${n++}`);
    writeFileSync(blocker, "");
    const r = load(join(blocker, "fledge"));
    expect(r.key).toBeUndefined();
    expect(r.warnings.join("\n")).toMatch(/running without the prepared-module cache/);
  });

  test("processes racing to create the key all end up with the same one", async () => {
    const dir = cfg();
    const script = `import { loadCacheKey } from ${JSON.stringify(join(MAIN, "..", "wasm", "cache-key.ts"))}; console.log(loadCacheKey(process.argv[2]).toString("hex"));`;
    const file = join(t.path, "race.ts");
    writeFileSync(file, script);
    const procs = Array.from({ length: 6 }, () => Bun.spawn([process.execPath, file, dir], { stdout: "pipe", stderr: "pipe" }));
    const outs = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim()));
    await Promise.all(procs.map((p) => p.exited));
    expect(new Set(outs).size).toBe(1);
    expect(outs[0]).toBe(readFileSync(cacheKeyPath(dir)).toString("hex"));
    expect(readdirSync(dir)).toEqual(["cache.key"]);
    expect(existsSync(dir)).toBe(true);
  });
});
