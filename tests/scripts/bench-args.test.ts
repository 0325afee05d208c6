import { expect, test } from "bun:test";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "..", "..", "scripts", "bench-metering.ts");

test("the metering bench refuses a --procs that is not a whole number from 1 to 100, naming it, before any work", () => {
  for (const bad of [["--procs", "abc"], ["--procs"], ["--procs", "0"], ["--procs", "2.5"], ["--procs", "1000"]]) {
    const r = Bun.spawnSync([process.execPath, SCRIPT, ...bad], { stdout: "pipe", stderr: "pipe" });
    expect({ bad, code: r.exitCode }).toEqual({ bad, code: 2 });
    expect(r.stderr.toString()).toContain("--procs takes a whole number of processes from 1 to 100");
    expect(r.stdout.toString()).toBe("");
  }
});
