/**
 * Smoke test for scripts/compare-wasi.ts, so the comparison script does not rot: a
 * small run (escape probes only) produces the table and JSON, judges fledge and
 * Node's node:wasi as expected, and leaves no temp dirs behind.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { probeCases, REPO_ROOT } from "./realprog-lib.ts";
import { describeSlow } from "../helpers/tier.ts";

describeSlow("scripts/compare-wasi.ts", () => {
  const tmp = tempDir("fledge-compare-");
  afterAll(() => tmp.cleanup());

  // The script runs every probe under several runtimes (its own child timeout is 180 s).
  test("escape-only run: table, JSON, verdicts, and no leftover temp dirs", () => {
    const hasNode = Bun.which("node") !== null;
    const only = hasNode ? "fledge,node" : "fledge";
    const json = join(tmp.path, "out.json");
    // A private TMPDIR: everything the script creates must be gone when it exits.
    const scratch = join(tmp.path, "scratch");
    mkdirSync(scratch);
    const r = Bun.spawnSync(
      [process.execPath, join(REPO_ROOT, "scripts", "compare-wasi.ts"), "--only", only, "--skip", "guests,fstool", "--json", json],
      {
        cwd: tmp.path,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp.path, TMPDIR: scratch, NO_COLOR: "1" },
        stdout: "pipe",
        stderr: "pipe",
        timeout: 180_000,
      },
    );
    const out = r.stdout.toString();
    expect(r.exitCode).toBe(0);
    const n = probeCases().length;
    expect(out).toMatch(new RegExp(`^escape-probe\\s+${n}/${n}\\b`, "m"));
    expect(out).toContain("Failed cases per host:");
    expect(out).toMatch(/^ {2}fledge: none$/m);

    const data = JSON.parse(readFileSync(json, "utf8")) as { results: Record<string, Record<string, Record<string, { pass: boolean }>>> };
    const escape = data.results["escape-probe"]!;
    expect(Object.keys(escape).sort()).toEqual([...probeCases()].sort());
    for (const byHost of Object.values(escape)) expect(byHost.fledge?.pass).toBe(true);
    if (hasNode) {
      // uvwasi follows intermediate symlinks out of the preopen (documented weakness).
      expect(escape["dir-symlink-up"]?.node?.pass).toBe(false);
      expect(escape["read-dotdot"]?.node?.pass).toBe(true);
    }
    expect(readdirSync(scratch)).toEqual([]);
  }, 240_000);
});
