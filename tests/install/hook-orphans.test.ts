/**
 * A hook's processes end with the hook (src/confine/reaper.ts). The red team's
 * attack: a sandboxed, network-less wasm plugin approved with --yes whose build hook
 * starts `setsid ... &` and exits 0; the orphan kept the build's grants after install
 * returned, beaconed out, and rewrote the installed folder after the tree policy and
 * the integrity hashes had been computed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HELLO_WASM, runFledgeAsync, sandbox, writeTree } from "./helpers.ts";
import { processesWith } from "../helpers/processes.ts";

let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

describe.skipIf(process.platform !== "linux")("a hook's background processes", () => {
  for (const [how, spawn] of [
    ["setsid (a new session)", "setsid sh -c"],
    ["a double fork", "sh -c"],
  ] as const) {
    test(`do not outlive the hook: ${how}`, async () => {
      const token = `orphan-token-${process.pid}-${how.length}`;
      const dir = writeTree(join(sb.root, "p"), {
        "plugin.toml": readFileSync(join(HELLO_WASM, "plugin.toml"), "utf8").replace('name = "hello-wasm"\nversion', 'name = "orphan"\nversion') + '\n[hooks]\nbuild = "sh build.sh"\n',
        "hello.wasm": readFileSync(join(HELLO_WASM, "hello.wasm")),
        // The orphan lets go of the hook's output first, so a missed reap shows as a
        // process left behind (below), not as fledge's output pipe held open.
        "build.sh": `(${spawn} 'exec >/dev/null 2>&1 </dev/null; : ${token}; sleep 2; touch "$FLEDGE_PLUGIN_DIR/late"; sleep 60' &) &\nexit 0\n`,
      });
      const r = await runFledgeAsync(["plugins", "install", dir, "--copy", "--yes"], { env: sb.env, spawn: true });
      expect(r.code).toBe(0);
      await Bun.sleep(3000);
      expect(processesWith(token)).toEqual([]);
      expect(existsSync(join(sb.config, "plugins", "orphan", "late"))).toBe(false);
      for (const p of processesWith(token)) process.kill(p, "SIGKILL");
    }, 120_000);
  }
});
