import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { luaBuildProblem } from "../../scripts/bench-lua.ts";

const SCRIPT = join(import.meta.dir, "..", "..", "scripts", "bench-metering.ts");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("without clang or npm the Lua modules cannot be built, and the note says which is missing", () => {
  expect(luaBuildProblem({ clang: null, npm: "/usr/bin/npm" })).toBe("clang not found (scripts/setup.sh installs clang, lld and wasi-libc): Lua row skipped");
  expect(luaBuildProblem({ clang: "/usr/bin/clang", npm: null })).toBe("npm not found, so lua-src@5.3.5 cannot be fetched: Lua row skipped");
  expect(luaBuildProblem({ clang: "/usr/bin/clang", npm: "/usr/bin/npm" })).toBeNull();
});

test("--only lua with no clang skips the Lua rows with that note, runs no other workload, and fetches nothing", () => {
  const home = mkdtempSync(join(tmpdir(), "fledge-bench-lua-"));
  dirs.push(home);
  const cache = join(home, "cache");
  const r = Bun.spawnSync([process.execPath, SCRIPT, "--only", "lua", "--procs", "1"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, HOME: home, FLEDGE_CONFIG_DIR: join(home, "config"), FLEDGE_BENCH_CACHE: cache, FLEDGE_BENCH_CLANG: join(home, "no-such-clang") },
  });
  expect(r.exitCode).toBe(0);
  expect(r.stderr.toString()).toContain("(clang not found (scripts/setup.sh installs clang, lld and wasi-libc): Lua row skipped)");
  // The table has its header and no rows: no other workload matched, and no CLI row ran.
  expect(r.stdout.toString().trim().split("\n")).toEqual(["| part | measurement | result | target |", "|---|---|---|---|"]);
  // Nothing was downloaded or left half-built in the cache.
  expect(readdirSync(cache)).toEqual([]);
});
