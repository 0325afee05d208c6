/**
 * Build and hooks run at the plugin's FINAL path (plugins/<name>), not in a staging
 * folder that is renamed afterwards: what a build bakes in (a Python venv's absolute
 * paths) keeps working, and post_install's FLEDGE_PLUGIN_DIR is the installed folder.
 * A failure (or a kill during the build) still leaves the previous state: nothing for
 * a new install, the old plugin and its data for --force.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { baseEnv, pluginToml, pluginsState, readReg, runFledgeAsync, sandbox, writeTree } from "./helpers.ts";

setDefaultTimeout(120_000);

let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[]) => runFledgeAsync(args, { env: sb.env, cwd: sb.root, timeoutMs: 110_000 });
const HAVE_VENV = Bun.spawnSync(["python3", "-c", "import venv, ensurepip"]).exitCode === 0;
if (!HAVE_VENV) console.log("final-path: python3 with venv/ensurepip not found; the real venv test is skipped (apt-get install python3-venv)");

function nativeWithHooks(dir: string, name: string, hooks: Record<string, string>, files: Record<string, string>): string {
  const entries: Record<string, { data: string; mode: number }> = {};
  for (const [k, v] of Object.entries(files)) entries[k] = { data: v, mode: 0o755 };
  return writeTree(dir, { "plugin.toml": pluginToml({ name, runtime: "native", protocol: false, commands: [{ name, binary: "bin/run" }], hooks }), ...entries });
}

describe("build at the final path", () => {
  test.skipIf(!HAVE_VENV)("a build hook that makes a Python venv: the installed plugin runs through it", async () => {
    const dir = nativeWithHooks(join(sb.root, "py"), "pyplug", { build: "build.sh" }, {
      "build.sh": '#!/bin/sh\nset -e\npython3 -m venv --without-pip .venv\nmkdir -p bin\nprintf \'#!%s/.venv/bin/python3\\nprint("venv ok")\\n\' "$PWD" > bin/run\nchmod +x bin/run\n',
    });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    const installed = join(sb.config, "plugins", "pyplug");
    expect(readFileSync(join(installed, "bin/run"), "utf8")).toStartWith(`#!${installed}/.venv/bin/python3`);
    const run = await fledge(["pyplug"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("venv ok\n");
  });

  test("what a build bakes in is the final path; post_install sees a FLEDGE_PLUGIN_DIR that exists afterwards", async () => {
    const dir = nativeWithHooks(join(sb.root, "baked"), "baked", { build: "build.sh", post_install: "post.sh" }, {
      "build.sh": '#!/bin/sh\nmkdir -p bin\nprintf \'#!/bin/sh\\ncat "%s/where"\\n\' "$PWD" > bin/run\nchmod +x bin/run\necho "$PWD" > built-in\n',
      "post.sh": '#!/bin/sh\necho "$FLEDGE_PLUGIN_DIR" > "$FLEDGE_PLUGIN_DIR/where"\n',
    });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    const installed = join(sb.config, "plugins", "baked");
    expect(readFileSync(join(installed, "built-in"), "utf8")).toBe(`${installed}\n`);
    expect(readFileSync(join(installed, "where"), "utf8")).toBe(`${installed}\n`);
    expect((await fledge(["baked"])).stdout).toBe(`${installed}\n`);
    expect(readdirSync(join(sb.config, "plugins")).filter((n) => n.startsWith(".staging"))).toEqual([]);
  });

  test("a native build may leave links outside (venvs do), but never at state.json or data/", async () => {
    const dir = nativeWithHooks(join(sb.root, "lnk"), "lnk", { build: "build.sh" }, { "bin/run": "#!/bin/sh\necho hi\n", "build.sh": "#!/bin/sh\nln -s /etc/hostname outside-ok\nln -s /etc/passwd state.json\n" });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("'state.json' is a symlink, and fledge itself opens that path for the plugin");
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("a failing post_install at the final path rolls back: nothing installed", async () => {
    const dir = nativeWithHooks(join(sb.root, "fail"), "fail", { post_install: "post.sh" }, { "bin/run": "#!/bin/sh\necho hi\n", "post.sh": "#!/bin/sh\ntouch \"$FLEDGE_PLUGIN_DIR/half\"\nexit 7\n" });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("post_install hook failed with exit code 7");
    expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
    expect(readReg(sb.config).plugins).toEqual([]);
  });

  test("--force whose build fails at the final path: the old plugin, its files and data are back", async () => {
    const v1 = nativeWithHooks(join(sb.root, "v1"), "keep", {}, { "bin/run": "#!/bin/sh\necho version-one\n" });
    expect((await fledge(["plugins", "install", v1, "--copy", "--yes", "--trust-native"])).code).toBe(0);
    const installed = join(sb.config, "plugins", "keep");
    writeFileSync(join(installed, "state.json"), '{"mine":1}');
    const v2 = nativeWithHooks(join(sb.root, "v2"), "keep", { build: "build.sh" }, { "build.sh": "#!/bin/sh\nexit 9\n" });
    const r = await fledge(["plugins", "install", v2, "--copy", "--yes", "--trust-native", "--force"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("build hook failed with exit code 9");
    expect(readFileSync(join(installed, "state.json"), "utf8")).toBe('{"mine":1}');
    expect((await fledge(["keep"])).stdout).toBe("version-one\n");
  });

  test("killed during the build: the next command restores the previous state", async () => {
    const v1 = nativeWithHooks(join(sb.root, "k1"), "killme", {}, { "bin/run": "#!/bin/sh\necho old\n" });
    expect((await fledge(["plugins", "install", v1, "--copy", "--yes", "--trust-native"])).code).toBe(0);
    // Inside the plugin's folder: a build may write only there (hooks are confined).
    const marker = join(sb.config, "plugins", "killme", "building");
    const v2 = nativeWithHooks(join(sb.root, "k2"), "killme", { build: "build.sh" }, { "build.sh": '#!/bin/sh\ntouch "$FLEDGE_PLUGIN_DIR/building"\nsleep 60\n' });
    const proc = Bun.spawn([process.execPath, MAIN, "plugins", "install", v2, "--copy", "--yes", "--trust-native", "--force"], { env: baseEnv(sb.env), cwd: sb.root, stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 600 && !existsSync(marker); i++) await Bun.sleep(100);
    expect(existsSync(marker)).toBe(true);
    // The old plugin is aside while the new one builds in its place.
    expect(readFileSync(join(sb.config, "plugins", "killme", "build.sh"), "utf8")).toContain("sleep 60");
    // Read-only commands do not wait for a build in progress (it holds the lock).
    const during = await fledge(["plugins", "list"]);
    expect(during.code).toBe(0);
    expect(during.stdout).toContain("killme");
    expect(during.stderr).not.toContain("recovered");
    proc.kill(9);
    await proc.exited;
    const list = await fledge(["plugins", "list"]);
    expect(list.code).toBe(0);
    expect(list.stderr).toContain("restored the previous state");
    expect((await fledge(["killme"])).stdout).toBe("old\n");
    expect(readdirSync(join(sb.config, "plugins")).filter((n) => n.startsWith(".staging"))).toEqual([]);
  });
});
