/**
 * The launcher cannot be bypassed: plugin code (commands, protocol plugins, hooks,
 * exec) is started only by src/confine/spawn.ts. A new Bun.spawn or child_process
 * call anywhere else fails this test until it is either routed through spawnPlugin or
 * listed below with the reason it does not start plugin code.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../helpers/cli.ts";

/** Files that start processes which are not plugin code, and why. */
const NOT_PLUGIN_CODE: Record<string, string> = {
  "src/confine/spawn.ts": "THE launcher: the one place plugin code starts",
  "src/host/project.ts": "git, for the project info fledge reports (fledge's own query)",
  "src/install/sources.ts": "git clone of a plugin source (fledge's own download, no plugin code runs)",
  "src/install/update.ts": "git ls-remote for update checks (fledge's own query)",
  "src/install/publish.ts": "git for `plugins publish` of the user's own folder",
  "src/install/githook.ts": "git rev-parse / config for `fledge hooks install`",
  "src/registry/config.ts": "`gh auth token`, fledge's own credential lookup",
  "src/wasm/watchdog-thread.ts": "a Worker thread inside fledge (deadline timers and the memory guard's sampling), not a process",
  "src/wasm/validate-async.ts": "a Worker thread inside fledge validating a wasm module, not a process",
  "src/host/sync-worker.ts": "Worker threads inside fledge for the blocking wasm imports: fledge.http (checked hosts) and fledge.exec (whose worker runs runExec, which goes through spawnPlugin), not a process",
  "src/host/path-command.ts": "git-style `fledge-<cmd>` on PATH: the user's own program, never installed by fledge; runs unconfined and says so every time",
};

const SPAWN = /\bBun\.spawn(Sync)?\s*\(|from\s+"node:child_process"|require\(\s*"(node:)?child_process"\s*\)|\bnew\s+Worker\s*\(/;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe("no native start bypasses the launcher", () => {
  test("process starts appear only in the launcher and the listed non-plugin places", () => {
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, "src"))) {
      const rel = relative(ROOT, file);
      const text = readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => !/^\s*(\/\/|\*|\/\*\*)/.test(l))
        .join("\n");
      if (!SPAWN.test(text)) continue;
      if (!(rel in NOT_PLUGIN_CODE)) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });

  test("every plugin-starting path calls spawnPlugin and waits until the run is settled", () => {
    for (const rel of ["src/host/native.ts", "src/host/exec.ts", "src/install/hooks.ts", "src/canary/native-confined.ts"]) {
      const text = readFileSync(join(ROOT, rel), "utf8");
      expect(text).toContain("spawnPlugin(");
      // settled: the plugin and everything it left running are gone (src/confine/reaper.ts).
      expect(text).toMatch(/await settled|settled\.then\(/);
      expect(text).not.toMatch(/\bBun\.spawn\(|node:child_process/);
    }
  });
});
