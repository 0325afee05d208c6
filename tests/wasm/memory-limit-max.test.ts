/**
 * A memory limit above 4 GiB (the most a 32-bit wasm memory can be) is refused wherever
 * one is given, naming the value and the maximum: a larger limit would only lift the
 * memory guard's bound on fledge's whole process (limit + allowance) past any use.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseMemory } from "../../src/cli/wasm-run.ts";
import { MAX_MEMORY_LIMIT_BYTES, pluginLimits } from "../../src/wasm/limits.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";

const dir = tempDir("fledge-memory-max-");
afterAll(() => dir.cleanup());
const HELLO = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm");

describe("--max-memory", () => {
  test("4GiB is the largest accepted", () => {
    expect(MAX_MEMORY_LIMIT_BYTES).toBe(4 * 2 ** 30);
    expect(parseMemory("4GiB")).toBe(4 * 2 ** 30);
    expect(() => parseMemory("4294967297")).toThrow("bad --max-memory '4294967297': more than the maximum of 4 GiB");
  });

  for (const cmd of ["run", "prepare"]) {
    test(`wasm ${cmd} --max-memory 100GiB: a usage error naming the value and the maximum`, () => {
      const r = runFledge(["wasm", cmd, "--max-memory", "100GiB", join(HELLO, "hello.wasm")], { env: { FLEDGE_CONFIG_DIR: join(dir.path, `cfg-${cmd}`) } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("bad --max-memory '100GiB': more than the maximum of 4 GiB");
      expect(r.stdout).toBe("");
    });
  }
});

describe("[limits] memory", () => {
  test("over 4 GiB, as a size or a number of bytes: refused naming both", () => {
    expect(() => pluginLimits({ memory: "100GiB" })).toThrow('config.toml [limits] memory = "100GiB" is more than the maximum of 4 GiB');
    expect(() => pluginLimits({ memory: 2 ** 33 })).toThrow("config.toml [limits] memory = 8589934592 is more than the maximum of 4 GiB");
    expect(pluginLimits({ memory: "4GiB" }).maxMemoryBytes).toBe(4 * 2 ** 30);
  });

  test("a plugin install under it is refused with that message", () => {
    const home = join(dir.path, "home");
    mkdirSync(join(home, "cfg"), { recursive: true });
    writeFileSync(join(home, "cfg", "config.toml"), '[limits]\nmemory = "100GiB"\n');
    const src = join(dir.path, "hello-wasm");
    cpSync(HELLO, src, { recursive: true });
    const r = runFledge(["plugins", "install", src, "--copy", "--yes"], { env: { HOME: home, FLEDGE_CONFIG_DIR: join(home, "cfg") } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[limits] memory = "100GiB" is more than the maximum of 4 GiB');
  });
});
