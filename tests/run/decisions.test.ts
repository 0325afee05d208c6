/**
 * The security decisions of dispatch and the wasm runner, one function each, tested
 * directly: preopens, the data dir, integrity, runtime choice, binary location,
 * limits; plus the in-process runner (cache, init, output routing).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkIntegrity, chooseRunner, locateCommandBinary } from "../../src/host/dispatch.ts";
import { PLUGIN_LIMIT_DEFAULTS, pluginDataDir, pluginLimits, pluginPreopens, runWasmPlugin, sandboxOptions, stderrLines } from "../../src/host/wasm-runner.ts";
import type { Manifest } from "../../src/manifest/types.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import type { RegistryEntry } from "../../src/registry/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { captureIO } from "../host/capture.ts";
import { COMPAT, sha256 } from "./helpers.ts";

let tmp: { path: string; cleanup: () => void };
let base: string;
const savedConfig = process.env.FLEDGE_CONFIG_DIR;
beforeAll(() => {
  tmp = tempDir("fledge-decisions-");
  base = realpathSync(tmp.path);
  // The in-process runner writes fledge's prepared-module cache under the config folder.
  process.env.FLEDGE_CONFIG_DIR = join(base, "config");
});
afterAll(() => {
  if (savedConfig === undefined) delete process.env.FLEDGE_CONFIG_DIR;
  else process.env.FLEDGE_CONFIG_DIR = savedConfig;
  tmp.cleanup();
});

const entry = (over: Partial<RegistryEntry> = {}): RegistryEntry => ({
  name: "p",
  source: "/x",
  version: "1.0.0",
  installed: "2026-01-01",
  commands: ["p"],
  runtime: "wasm",
  capabilities: { ...NO_CAPABILITIES },
  ...over,
});
const manifest = (binary: string, protocol?: "fledge-v1"): Manifest => ({
  plugin: { name: "p", version: "1.0.0", ...(protocol ? { protocol } : {}) },
  commands: [{ name: "p", binary }],
  hooks: {},
  capabilities: { ...NO_CAPABILITIES, exec: true },
  runtime: "wasm",
});
const WASM = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
const SCRIPT = new TextEncoder().encode("#!/bin/sh\n");

describe("pluginPreopens: the filesystem grant", () => {
  const data = () => "/data-dir";
  test('"none" (and anything unknown) preopens nothing and never creates the data dir', () => {
    let made = false;
    const mk = () => ((made = true), "/d");
    expect(pluginPreopens({ filesystem: "none" }, "/proj", mk)).toEqual([]);
    expect(pluginPreopens({ filesystem: "everything" as never }, "/proj", mk)).toEqual([]);
    expect(made).toBe(false);
  });
  test('"project": the project root at /project, read-only', () => {
    expect(pluginPreopens({ filesystem: "project" }, "/proj", data)).toEqual([{ hostPath: "/proj", guestPath: "/project", readOnly: true }]);
  });
  test('"plugin": /project read-only plus the data dir at /plugin read-write', () => {
    expect(pluginPreopens({ filesystem: "plugin" }, "/proj", data)).toEqual([
      { hostPath: "/proj", guestPath: "/project", readOnly: true },
      { hostPath: "/data-dir", guestPath: "/plugin", readOnly: false },
    ]);
  });
  test("sandboxOptions: no argv, no env, empty stdin", () => {
    expect(sandboxOptions({ ...NO_CAPABILITIES }, "/proj", "/plug")).toEqual({ args: [], env: [], preopens: [], stdin: "empty" });
  });
});

describe("pluginDataDir", () => {
  test("creates <plugin dir>/data on demand and returns it", () => {
    const dir = join(base, "plug-a");
    mkdirSync(dir);
    expect(pluginDataDir(dir)).toBe(join(dir, "data"));
    expect(existsSync(join(dir, "data"))).toBe(true);
    expect(pluginDataDir(dir)).toBe(join(dir, "data"));
  });
  test("refuses a data symlink, even one pointing back into the plugin dir", () => {
    const dir = join(base, "plug-b");
    mkdirSync(dir);
    symlinkSync(".", join(dir, "data"));
    expect(() => pluginDataDir(dir)).toThrow("not a plain directory");
  });
  test("refuses a data file", () => {
    const dir = join(base, "plug-c");
    mkdirSync(dir);
    writeFileSync(join(dir, "data"), "x");
    expect(() => pluginDataDir(dir)).toThrow("not a plain directory");
  });
  test("a live-linked plugin dir (a symlink) is resolved; data is inside its target", () => {
    const target = join(base, "plug-src");
    mkdirSync(target);
    symlinkSync(target, join(base, "plug-link"));
    expect(pluginDataDir(join(base, "plug-link"))).toBe(join(target, "data"));
  });
});

describe("checkIntegrity", () => {
  test("matching bytes pass; changed bytes are refused", () => {
    const e = entry({ integrity: { "bin/p.wasm": sha256(WASM) } });
    expect(() => checkIntegrity(e, "bin/p.wasm", WASM)).not.toThrow();
    expect(() => checkIntegrity(e, "bin/p.wasm", SCRIPT)).toThrow("has changed since it was installed");
  });
  test("a binary with no recorded hash is refused when others are recorded", () => {
    const e = entry({ integrity: { "bin/p.wasm": sha256(WASM) } });
    expect(() => checkIntegrity(e, "other.wasm", WASM)).toThrow("was not part of the plugin");
  });
  test("no integrity table (an original-fledge registry): nothing to check", () => {
    expect(() => checkIntegrity(entry(), "bin/p.wasm", SCRIPT)).not.toThrow();
    expect(() => checkIntegrity(entry({ integrity: {} }), "bin/p.wasm", SCRIPT)).not.toThrow();
  });
});

describe("chooseRunner: the registry's runtime decides", () => {
  test("wasm entry + wasm bytes → wasm; + native bytes → refused", () => {
    expect(chooseRunner(entry(), manifest("p.wasm", "fledge-v1"), WASM)).toEqual({ kind: "wasm" });
    expect(() => chooseRunner(entry(), manifest("p.wasm", "fledge-v1"), SCRIPT)).toThrow("not a WebAssembly module");
  });
  test("native entry: protocol from the manifest; wasm bytes refused", () => {
    expect(chooseRunner(entry({ runtime: "native" }), manifest("p"), SCRIPT)).toEqual({ kind: "native", protocol: undefined });
    expect(chooseRunner(entry({ runtime: "native" }), manifest("p", "fledge-v1"), SCRIPT)).toEqual({ kind: "native", protocol: "fledge-v1" });
    expect(() => chooseRunner(entry({ runtime: "native" }), manifest("p"), WASM)).toThrow("is a WebAssembly module");
  });
});

describe("locateCommandBinary", () => {
  test("resolves inside the plugin dir; a symlink out is refused; an undeclared command is refused", () => {
    const dir = join(base, "loc");
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "bin", "p"), "x");
    writeFileSync(join(base, "outside"), "x");
    symlinkSync(join(base, "outside"), join(dir, "bin", "out"));
    expect(locateCommandBinary(entry(), manifest("bin/p"), "p", dir)).toEqual({ binary: "bin/p", path: join(dir, "bin", "p") });
    expect(() => locateCommandBinary(entry(), manifest("bin/out"), "p", dir)).toThrow("outside the plugin directory");
    expect(() => locateCommandBinary(entry(), manifest("bin/p"), "q", dir)).toThrow("no longer declares the command 'q'");
  });
  test("a binary in the plugin's writable data/ folder is refused, also through a symlink and as Data/", () => {
    const dir = join(base, "loc-data");
    mkdirSync(join(dir, "data"), { recursive: true });
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "data", "p.wasm"), "x");
    symlinkSync("../data/p.wasm", join(dir, "bin", "p.wasm"));
    for (const b of ["data/p.wasm", "bin/p.wasm", "./data/p.wasm"]) {
      expect(() => locateCommandBinary(entry(), manifest(b), "p", dir), b).toThrow("lies in the plugin's data/ folder");
    }
  });
});

describe("pluginLimits", () => {
  test("defaults: 10e9 fuel, 256 MiB, 60 s", () => {
    expect(pluginLimits(undefined)).toEqual({ fuel: 1_000_000_000_000n, maxMemoryBytes: 256 * 1024 * 1024, timeoutMs: 60_000 });
    expect(PLUGIN_LIMIT_DEFAULTS.fuel).toBe(1_000_000_000_000n);
  });
  test("config overrides each one", () => {
    expect(pluginLimits({ fuel: "none", memory: "1GiB", timeout: 5 })).toEqual({ fuel: null, maxMemoryBytes: 2 ** 30, timeoutMs: 5000 });
    expect(pluginLimits({ fuel: 1000, memory: 65536 })).toMatchObject({ fuel: 1000n, maxMemoryBytes: 65536 });
    expect(() => pluginLimits({ memory: "lots" })).toThrow("[limits] memory");
  });
});

describe("stderrLines", () => {
  test("splits into prefixed lines across chunks, sanitizes, flushes a last partial line", () => {
    const out: string[] = [];
    const s = stderrLines("demo", (t) => out.push(t));
    const enc = new TextEncoder();
    s.sink(enc.encode("one\ntw"));
    s.sink(enc.encode("o\u001b]0;title\u0007\nthree"));
    s.flush();
    expect(out.join("")).toBe("  [demo] one\n  [demo] two\\x1b]0;title\\x07\n  [demo] three\n");
  });

  test("a line cannot rewrite its prefix: \\r and cursor moves are shown; CRLF endings and colours stay", () => {
    const out: string[] = [];
    const s = stderrLines("demo", (t) => out.push(t));
    const enc = new TextEncoder();
    s.sink(enc.encode("a\r\u001b[2K  INFO [fledge] fake\r"));
    s.sink(enc.encode("\nb\u001b[1A\u001b[31mred\r\n\rc\r"));
    s.flush();
    expect(out.join("")).toBe("  [demo] a\\r\\x1b[2K  INFO [fledge] fake\n  [demo] b\\x1b[1A\u001b[31mred\u001b[0m\n  [demo] \\rc\\r\n");
  });
});

describe("runWasmPlugin in process", () => {
  test("runs a compat guest with a captured console; its prepared module is cached in the config folder, nothing beside it", async () => {
    const dir = join(base, "inproc");
    mkdirSync(dir);
    const wasmPath = join(dir, "compat-basic.wasm");
    const bytes = new Uint8Array(readFileSync(join(COMPAT, "compat-basic.wasm")));
    writeFileSync(wasmPath, bytes);
    const io = captureIO();
    const code = await runWasmPlugin({
      plugin: { name: "inproc", version: "1.0.0", dir },
      capabilities: { ...NO_CAPABILITIES },
      wasmPath,
      bytes,
      args: ["x", "--exit=6"],
      projectRoot: dir,
      stateFile: join(dir, "state.json"),
      io,
    });
    expect(code).toBe(6);
    expect(io.out.join("")).toBe("args: x --exit=6\nwasi stdout line\n");
    expect(io.err.join("")).toContain("  [inproc] wasi stderr line\n");
    // Never beside the module: only in fledge's own cache folder.
    expect(readdirSync(dir)).toEqual(["compat-basic.wasm"]);
    expect(readdirSync(join(base, "config", "cache", "wasm")).some((f) => f.startsWith(sha256(bytes)))).toBe(true);
  });

  test("a module importing an ungranted function is refused before it runs", async () => {
    const bytes = new Uint8Array(readFileSync(join(COMPAT, "compat-exec.wasm")));
    const io = captureIO();
    const run = runWasmPlugin({
      plugin: { name: "x", version: "1", dir: base },
      capabilities: { ...NO_CAPABILITIES },
      wasmPath: join(base, "none.wasm"),
      bytes,
      args: ['{"command":"touch ran"}'],
      projectRoot: base,
      stateFile: join(base, "state.json"),
      io,
      noCache: true,
    });
    await expect(run).rejects.toThrow("capabilities not granted: exec");
    expect(io.out).toEqual([]);
    expect(existsSync(join(base, "ran"))).toBe(false);
  });
});
