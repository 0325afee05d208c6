/**
 * Every read of a module file goes through src/wasm/module-file.ts: a file over the
 * 64 MiB module size cap is refused with the cap's error before it is read, whichever
 * command reads it. The big files here are sparse (a `\0asm` header, then a hole), so
 * they take no disk; reading one whole took its size in memory (a 3 GiB one peaked at
 * 6 GiB in a plugin run, before the memory guard was armed). Each command is a real
 * fledge process; its peak RSS is its own rusage, taken by a small launcher
 * (tests/helpers/peak-rss.ts says why).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, cpSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MODULE_CAPS } from "../../src/wasm/caps.ts";
import { openModuleFile, readModuleFile } from "../../src/wasm/module-file.ts";
import { MAIN, ROOT, tempDir } from "../helpers/cli.ts";
import { spawnMeasured } from "../helpers/peak-rss.ts";

const dir = tempDir("fledge-module-file-");
afterAll(() => dir.cleanup());

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** Far below what reading any of the big files would take, far above a refusal's ~60 MiB. */
const SMALL_PEAK = 200 * MiB;
const CAP_ERROR = `module exceeds fledge's module size cap of ${MODULE_CAPS.moduleBytes.toLocaleString("en-US")}: found `;
const HELLO = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm");

/** A sparse file of `size` bytes that starts like a module. */
function sparseModule(path: string, size: number): string {
  writeFileSync(path, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  truncateSync(path, size);
  return path;
}

let n = 0;
function fledge(args: string[], home: string): { code: number; stdout: string; stderr: string; peak: number } {
  mkdirSync(join(home, "cfg"), { recursive: true });
  return spawnMeasured([process.execPath, MAIN, ...args], {
    cwd: ROOT,
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, "cfg"), NO_COLOR: "1" },
  });
}

function home(): string {
  return join(dir.path, `home-${n++}`);
}

/** A local copy of the hello-wasm plugin named `name`. */
function plugin(name: string): string {
  const d = join(dir.path, name);
  cpSync(HELLO, d, { recursive: true });
  writeFileSync(join(d, "plugin.toml"), readFileSync(join(HELLO, "plugin.toml"), "utf8").replace(/hello-wasm/g, name));
  return d;
}

function expectRefused(r: { code: number; stderr: string; peak: number }, found: number): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`${CAP_ERROR}${found.toLocaleString("en-US")} (bytes)`);
  expect(r.peak).toBeLessThan(SMALL_PEAK);
}

describe("the one reader", () => {
  test("a file over the cap is refused unread; one at the cap is read", () => {
    const over = sparseModule(join(dir.path, "over.wasm"), MODULE_CAPS.moduleBytes + 1);
    expect(() => readModuleFile(over)).toThrow(`${CAP_ERROR}${(MODULE_CAPS.moduleBytes + 1).toLocaleString("en-US")}`);
    const at = sparseModule(join(dir.path, "at.wasm"), MODULE_CAPS.moduleBytes);
    expect(readModuleFile(at).length).toBe(MODULE_CAPS.moduleBytes);
  });

  test("a file that grows after the check is read only up to the size it was checked at", () => {
    const f = join(dir.path, "grows.wasm");
    writeFileSync(f, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    const m = openModuleFile(f);
    try {
      appendFileSync(f, Buffer.alloc(4096, 1));
      expect(m.read().length).toBe(8);
    } finally {
      closeSync(m.fd);
    }
  });

  test("a FIFO is refused as not a regular file, without waiting for a writer", () => {
    const fifo = join(dir.path, "fifo.wasm");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    expect(() => readModuleFile(fifo)).toThrow("is not a regular file");
  });
});

describe("a 3 GiB module is refused with the cap error, peak RSS small", () => {
  const huge = sparseModule(join(dir.path, "huge.wasm"), 3 * GiB);

  test("wasm run (with a limit large enough that the memory guard would not stop the read)", () => {
    expectRefused(fledge(["wasm", "run", "--max-memory", "4GiB", huge], home()), 3 * GiB);
  }, 60_000);

  test("wasm prepare", () => {
    expectRefused(fledge(["wasm", "prepare", huge], home()), 3 * GiB);
  }, 60_000);

  test("a live-linked plugin whose binary became huge: `fledge <command>` and `plugins run`", () => {
    const h = home();
    const src = plugin("grows");
    const inst = fledge(["plugins", "install", src, "--yes"], h);
    expect(inst.code).toBe(0);
    expect(fledge(["grows"], h).stdout).toBe("hello from wasm\n");
    sparseModule(join(src, "hello.wasm"), 3 * GiB);
    for (const args of [["grows"], ["plugins", "run", "grows"]]) {
      const r = fledge(args, h);
      expectRefused(r, 3 * GiB);
      expect(r.stderr).toContain("Plugin 'grows': hello.wasm: module exceeds");
      expect(r.stdout).toBe("");
    }
  }, 60_000);

  test("plugins install of a plugin whose binary is huge", () => {
    const src = plugin("huge-install");
    sparseModule(join(src, "hello.wasm"), 3 * GiB);
    const r = fledge(["plugins", "install", src, "--yes"], home());
    expectRefused(r, 3 * GiB);
    expect(r.stderr).toContain("command 'huge-install': hello.wasm cannot be run by fledge: module exceeds");
  }, 60_000);

  test("reinstalling a copied plugin whose source binary grew past the cap (what update does for a copy)", () => {
    const h = home();
    const src = plugin("huge-update");
    expect(fledge(["plugins", "install", src, "--copy", "--yes"], h).code).toBe(0);
    // Just over the cap: --copy copies the file, and a copy need not stay sparse.
    sparseModule(join(src, "hello.wasm"), MODULE_CAPS.moduleBytes + 1);
    const r = fledge(["plugins", "install", src, "--copy", "--force", "--yes"], h);
    expectRefused(r, MODULE_CAPS.moduleBytes + 1);
    // The installed copy is untouched and still runs.
    expect(fledge(["huge-update"], h).stdout).toBe("hello from wasm\n");
  }, 60_000);
});
