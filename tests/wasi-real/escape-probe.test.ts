/**
 * The escape probes (tests/fixtures/realprog/escape-probe.c) under fledge: every
 * attempt to reach outside the preopen (`..`, planted symlinks, guest-made symlinks,
 * absolute host paths, renames/links/unlinks across the boundary, prestat on a file)
 * must be refused, and nothing outside the preopen may change. Each case runs in its
 * own process on a fresh layout.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runFledge, tempDir } from "../helpers/cli.ts";
import { GUEST_ROOT, PROBE_WASM, probeCases, SECRET, setupProbeLayout, snapshotOutside } from "./realprog-lib.ts";

// Each probe starts fledge and a wasm guest as a child process: seconds under load.
setDefaultTimeout(60_000);

describe("escape probes under fledge wasm run", () => {
  const tmp = tempDir("fledge-escape-");
  const wasm = join(tmp.path, "escape-probe.wasm");
  copyFileSync(PROBE_WASM, wasm);
  afterAll(() => tmp.cleanup());

  const cases = probeCases();

  test("the probe list is read from the guest source", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases).toContain("read-dotdot");
    expect(cases).toContain("guest-symlink-chain");
  });

  for (const name of cases) {
    test(`${name}: refused, nothing outside changes`, () => {
      const base = join(tmp.path, name);
      mkdirSync(base);
      const { root, secretAbs } = setupProbeLayout(base);
      const before = snapshotOutside(base);
      const r = runFledge(["wasm", "run", "--dir", `${root}::${GUEST_ROOT}`, wasm, name, secretAbs], {
        cwd: tmp.path,
        env: { FLEDGE_CONFIG_DIR: join(tmp.path, "config") },
      });
      const lines = r.stdout.split("\n").filter(Boolean);
      expect({ name, lines }).toEqual({ name, lines: [`ok ${name}`] });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("TOP-SECRET");
      expect(snapshotOutside(base)).toBe(before);
      expect(readFileSync(secretAbs, "utf8")).toBe(SECRET);
    });
  }

  test("the probes do detect an escape (Node's node:wasi follows an intermediate symlink out)", () => {
    // Without this, an "ok" could just mean the probe's open() is broken. Node's
    // node:wasi (uvwasi) is documented to follow intermediate symlinks out of the
    // preopen, so there the probe must report FAIL and print nothing secret-free.
    const node = Bun.which("node");
    if (!node) {
      console.log("skipping: node not on PATH");
      return;
    }
    const base = join(tmp.path, "sanity");
    mkdirSync(base);
    const { root } = setupProbeLayout(base);
    const runner = join(import.meta.dir, "..", "..", "scripts", "compare-wasi", "wasi-runner.mjs");
    const r = Bun.spawnSync([node, "--no-warnings", runner, "--dir", `${root}::${GUEST_ROOT}`, wasm, "dir-symlink-up"], {
      cwd: tmp.path,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(r.stdout.toString().trim()).toBe("FAIL dir-symlink-up: read the outside secret");
  });
});
