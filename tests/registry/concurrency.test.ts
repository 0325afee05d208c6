import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readRegistry } from "../../src/registry/index.ts";
import { tempDir } from "../helpers/cli.ts";

const ADD = join(import.meta.dir, "fixtures", "add-entry.ts");

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.cleanup());

test("20 concurrent processes each add a registry entry: all 20 are present", async () => {
  // The config dir does not exist yet: the first writer must create it under contention too.
  const cfg = join(dir.path, "cfg");
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir.path, FLEDGE_CONFIG_DIR: cfg };
  const names = Array.from({ length: 20 }, (_, i) => `plugin-${String(i).padStart(2, "0")}`);
  const procs = names.map((name) => Bun.spawn([process.execPath, ADD, name], { env, stdout: "pipe", stderr: "pipe" }));
  const results = await Promise.all(
    procs.map(async (p) => ({ code: await p.exited, stderr: await new Response(p.stderr).text() })),
  );
  for (const r of results) expect(r).toEqual({ code: 0, stderr: "" });

  const reg = readRegistry({ FLEDGE_CONFIG_DIR: cfg });
  expect(reg.plugins.map((p) => p.name).sort()).toEqual(names);
  // Only the registry remains: no lock, no temp files.
  expect(readdirSync(cfg)).toEqual(["plugins.toml"]);
}, 60_000);
