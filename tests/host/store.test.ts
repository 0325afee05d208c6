import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkStoreKey, readStore, STORE_LIMITS, storeGet, storeSet } from "../../src/host/store.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

let dir: { path: string; cleanup: () => void };
let state: string;
beforeEach(() => {
  dir = tempDir("fledge-store-");
  state = join(dir.path, "plugin", "state.json");
});
afterEach(() => dir.cleanup());

function rejects(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected a rejection");
}

describe("store round trip", () => {
  test("set then get; absent key is null; values may be any JSON", () => {
    storeSet(state, "greeting", "hello");
    storeSet(state, "obj", { a: [1, 2], b: null });
    expect(storeGet(state, "greeting")).toBe("hello");
    expect(storeGet(state, "obj")).toEqual({ a: [1, 2], b: null });
    expect(storeGet(state, "nope")).toBeNull();
    expect(JSON.parse(readFileSync(state, "utf8"))).toEqual({ greeting: "hello", obj: { a: [1, 2], b: null } });
  });

  test("a key named __proto__ is plain data", () => {
    storeSet(state, "__proto__", "x");
    expect(storeGet(state, "__proto__")).toBe("x");
    expect(readStore(state).get("__proto__")).toBe("x");
  });

  test("no temp files are left behind", () => {
    storeSet(state, "k", "v");
    expect(readdirSync(join(dir.path, "plugin")).sort()).toEqual(["state.json"]);
  });
});

describe("store limits (key and value size, key count, whole store)", () => {
  test("key of 256 bytes is fine, 257 bytes is refused", () => {
    storeSet(state, "k".repeat(256), 1);
    expect(rejects(() => storeSet(state, "k".repeat(257), 1))).toBe("store key exceeds maximum size of 256 bytes");
    // bytes, not characters: 86 three-byte characters = 258 bytes
    expect(rejects(() => storeSet(state, "€".repeat(86), 1))).toContain("256 bytes");
  });

  test("empty keys and control characters in keys are refused", () => {
    expect(rejects(() => storeSet(state, "", 1))).toBe("store key must not be empty");
    for (const bad of ["a\nb", "tab\there", "nul\u0000", "esc\u001b[31m", "del\u007f", "c1\u009b"]) {
      expect(rejects(() => storeSet(state, bad, 1))).toBe("store key contains control characters");
    }
    expect(checkStoreKey("ok key ✓")).toBeUndefined();
    expect(rejects(() => storeGet(state, "a\nb"))).toBe("store key contains control characters");
  });

  test("value of 64 KiB (serialized) is fine, one byte more is refused", () => {
    const fits = "v".repeat(STORE_LIMITS.maxValueBytes - 2); // + 2 quotes = 65536
    storeSet(state, "big", fits);
    expect(rejects(() => storeSet(state, "bigger", `${fits}x`))).toBe("store value exceeds maximum size of 65536 bytes");
    expect(storeGet(state, "bigger")).toBeNull();
  });

  test("the 257th key is refused, but updating an existing key still works", () => {
    for (let i = 0; i < 256; i++) storeSet(state, `k${i}`, i);
    expect(rejects(() => storeSet(state, "k256", 256))).toBe("plugin state exceeds maximum of 256 keys");
    storeSet(state, "k5", "updated");
    expect(storeGet(state, "k5")).toBe("updated");
    expect(readStore(state).size).toBe(256);
  });

  test("the whole store is capped at 1 MiB", () => {
    const value = "x".repeat(60 * 1024);
    let stored = 0;
    let message = "";
    for (let i = 0; i < 40; i++) {
      try {
        storeSet(state, `chunk${i}`, value);
        stored++;
      } catch (e) {
        message = (e as Error).message;
        break;
      }
    }
    expect(message).toBe("plugin state exceeds maximum total size of 1048576 bytes");
    expect(stored).toBe(17);
    expect(readFileSync(state).length).toBeLessThanOrEqual(STORE_LIMITS.maxTotalBytes);
    expect(storeGet(state, `chunk${stored}`)).toBeNull();
  });

  test("a corrupt state file is reported, never silently replaced", () => {
    storeSet(state, "keep", "me");
    writeFileSync(state, "{not json");
    expect(rejects(() => storeSet(state, "k", 1))).toContain("is corrupt");
    expect(readFileSync(state, "utf8")).toBe("{not json");
  });
});

test("concurrent writer processes never lose keys", async () => {
  const writers = 6;
  const perWriter = 25;
  const procs = Array.from({ length: writers }, (_, w) =>
    Bun.spawn([process.execPath, join(ROOT, "tests/fixtures/host/store-writer.ts"), state, `w${w}`, String(perWriter)], {
      stdout: "ignore",
      stderr: "pipe",
    }),
  );
  const codes = await Promise.all(procs.map((p) => p.exited));
  for (const p of procs) expect(await new Response(p.stderr).text()).toBe("");
  expect(codes).toEqual(Array(writers).fill(0));
  const all = readStore(state);
  expect(all.size).toBe(writers * perWriter);
  for (let w = 0; w < writers; w++) for (let i = 0; i < perWriter; i++) expect(all.get(`w${w}-${i}`)).toEqual({ writer: `w${w}`, i });
}, 60_000);

describe("a state.json that is not a plain file is never read", () => {
  test("a symlink (made after install, by anyone) is refused at run time; the target is neither read nor written", () => {
    const victim = join(dir.path, "victim.json");
    writeFileSync(victim, '{"token":"TOPSECRET"}\n');
    mkdirSync(join(dir.path, "plugin"), { recursive: true });
    symlinkSync(victim, state);
    const get = rejects(() => storeGet(state, "token"));
    expect(get).toMatch(/Refusing plugin state .*state\.json: it is a symlink/);
    expect(get).not.toContain("TOPSECRET");
    expect(rejects(() => storeSet(state, "token", "x"))).toMatch(/it is a symlink/);
    expect(readFileSync(victim, "utf8")).toBe('{"token":"TOPSECRET"}\n');
    expect(lstatSync(state).isSymbolicLink()).toBe(true);
  });

  test("a FIFO is refused without blocking", () => {
    mkdirSync(join(dir.path, "plugin"), { recursive: true });
    expect(Bun.spawnSync(["mkfifo", state]).exitCode).toBe(0);
    expect(rejects(() => storeGet(state, "k"))).toMatch(/not a regular file/);
  });
});
