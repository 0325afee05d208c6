/**
 * The reaper ends the plugin's leftovers, and only those: a process fledge itself
 * starts while a confined plugin runs (a helper of its own) is not the plugin's and
 * survives the plugin's end, told apart by no_new_privs, which every confined process
 * carries for good (src/confine/reaper.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi, pluginConfinement, spawnPlugin } from "../../src/confine/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { alive } from "./procs.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
let dir: { path: string; cleanup: () => void };
let home: string;
let pluginDir: string;

beforeAll(() => {
  dir = tempDir("fledge-reaper-");
  const base = realpathSync(dir.path);
  home = join(base, "home");
  pluginDir = join(home, ".config", "fledge", "plugins", "p");
  mkdirSync(pluginDir, { recursive: true });
});
afterAll(() => dir?.cleanup());

/**
 * Prints the plugin's first child's pid as this test sees it: a confined plugin runs in
 * a PID namespace of its own where $! is another number; the plugin's own /proc folder
 * (the host's /proc) names it as the test does.
 */
const HOST_CHILD = "read me rest < /proc/self/stat; read kid rest < /proc/self/task/$me/children; echo $kid";


describe.skipIf(!confinable)("the reaper after a confined run", () => {
  test("ends the plugin's leftover but not a process fledge started meanwhile", async () => {
    const pidFile = join(pluginDir, "stray.pid");
    writeFileSync(join(pluginDir, "run.sh"), `#!/bin/sh\nsetsid sh -c 'exec sleep 30' </dev/null >/dev/null 2>&1 &\n${HOST_CHILD} > ${pidFile}\nsleep 0.5\n`, { mode: 0o755 });
    const env = { PATH: "/usr/bin:/bin", HOME: home, FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") };
    const confinement = pluginConfinement({ name: "p", pluginDir, capabilities: { filesystem: "none", network: false } });
    const { proc, settled } = spawnPlugin({ argv: [join(pluginDir, "run.sh")], cwd: pluginDir, env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "ignore", stderr: "inherit" });
    // fledge's own helper, started while the plugin runs and still running when it ends.
    const own = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    try {
      await proc.exited;
      await settled;
      const stray = Number((await Bun.file(pidFile).text()).trim());
      expect(stray).toBeGreaterThan(0);
      await Bun.sleep(100);
      expect(alive(stray)).toBe(false);
      expect(alive(own.pid)).toBe(true);
      expect(own.exitCode).toBeNull();
    } finally {
      own.kill("SIGKILL");
    }
  }, 30_000);
});
