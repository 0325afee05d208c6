/**
 * Journal recovery without strace (so it runs everywhere): the disk is put by hand
 * into the state a crash leaves at each step of an update and a remove, with the
 * journal the command wrote, and the next command must roll forward or back without
 * losing the plugin's folder or its state.json. Also: a journal fledge did not write
 * is never acted on, and then no staging dir is deleted either (issue 11 item 5).
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recoveryDirection, registryDigest } from "../../src/install/journal.ts";
import { readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

let sb: ReturnType<typeof sandbox>;
beforeEach(() => (sb = sandbox()));
afterEach(() => sb.cleanup());
const fledge = (args: string[]) => runFledgeAsync(args, { env: sb.env, cwd: sb.root });
const STATE = '{"kept":true}\n';

async function installedWithData(): Promise<{ plugins: string; dir: string; registryText: string }> {
  const src = wasmPlugin(join(sb.root, "src"), { name: "keepme", version: "1.0.0" });
  expect((await fledge(["plugins", "install", src, "--copy", "--yes"])).code).toBe(0);
  const plugins = join(sb.config, "plugins");
  writeFileSync(join(plugins, "keepme", "state.json"), STATE);
  return { plugins, dir: join(plugins, "keepme"), registryText: readFileSync(join(sb.config, "plugins.toml"), "utf8") };
}

function journal(moves: { from: string; to: string }[], staging: string, before: string, after: string): void {
  writeFileSync(
    join(sb.config, "plugins.journal.json"),
    JSON.stringify({ version: 1, op: "remove", name: "keepme", registryBefore: registryDigest(before), registryAfter: registryDigest(after), moves, commands: ["keepme"], staging, pid: 999_999 }),
  );
}

describe("recovery after a crash inside the commit", () => {
  test("the rule: forward only when the registry holds the new text", () => {
    expect(recoveryDirection({ registryAfter: registryDigest("new")! }, "new")).toBe("forward");
    expect(recoveryDirection({ registryAfter: registryDigest("new")! }, "old")).toBe("back");
    expect(recoveryDirection({ registryAfter: registryDigest("new")! }, null)).toBe("back");
  });

  test("killed after the folder was moved aside, before the registry write: rolled back, state.json kept", async () => {
    const { plugins, dir, registryText } = await installedWithData();
    // What a dead `remove` (pid 999999) leaves: folder moved into its staging dir, registry unchanged.
    const staging = join(plugins, ".staging-999999-deadbeef0000");
    mkdirSync(staging);
    renameSync(dir, join(staging, "removed"));
    journal([{ from: dir, to: join(staging, "removed") }], staging, registryText, "plugins = []\n");
    const r = await fledge(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("interrupted during 'remove' of keepme");
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe(STATE);
    expect(JSON.parse(r.stdout).plugins.map((p: { name: string }) => p.name)).toEqual(["keepme"]);
    expect(readdirSync(plugins).sort()).toEqual(["bin", "keepme"]);
    expect(existsSync(join(sb.config, "plugins.journal.json"))).toBe(false);
  });

  test("killed after the registry write: completed (the folder goes with the staging dir)", async () => {
    const { plugins, dir, registryText } = await installedWithData();
    const staging = join(plugins, ".staging-999999-deadbeef0001");
    mkdirSync(staging);
    renameSync(dir, join(staging, "removed"));
    const after = "";
    writeFileSync(join(sb.config, "plugins.toml"), after);
    journal([{ from: dir, to: join(staging, "removed") }], staging, registryText, after);
    const r = await fledge(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("recovered: completed it");
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(readdirSync(plugins).sort()).toEqual(["bin"]);
    expect(readdirSync(join(plugins, "bin"))).toEqual([]);
  });

  test("a journal fledge did not write is ignored, and no staging dir is deleted", async () => {
    const { plugins, dir } = await installedWithData();
    const staging = join(plugins, ".staging-999999-deadbeef0002");
    mkdirSync(staging);
    renameSync(dir, join(staging, "removed"));
    writeFileSync(join(sb.config, "plugins.journal.json"), JSON.stringify({ version: 1, op: "remove", moves: [{ from: "/etc/passwd", to: "/tmp/x" }] }));
    const r = await fledge(["plugins", "list"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("ignoring");
    // The registered plugin's folder is still there to be restored by hand: nothing deleted.
    expect(readFileSync(join(staging, "removed", "state.json"), "utf8")).toBe(STATE);
  });

  test("a stale staging dir without a journal (crash before the commit) is cleaned", async () => {
    const { plugins } = await installedWithData();
    mkdirSync(join(plugins, ".staging-999999-deadbeef0003", "tree"), { recursive: true });
    expect((await fledge(["plugins", "list"])).code).toBe(0);
    expect(readdirSync(plugins).sort()).toEqual(["bin", "keepme"]);
  });
});
