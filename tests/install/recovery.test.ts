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
import { newCommitId, recoveryDirection, registryDigest, stampRegistry } from "../../src/install/journal.ts";
import { hostTag } from "../../src/core/index.ts";
import { readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

/** Staging folders are named `.staging-<pid>-<host tag>-<random>`; these tests stage on this host. */
const HERE = hostTag();

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

function journal(moves: { from: string; to: string }[], staging: string, before: string, after: string, commit = newCommitId(), op = "remove"): void {
  writeFileSync(
    join(sb.config, "plugins.journal.json"),
    JSON.stringify({ version: 2, op, name: "keepme", commit, registryBefore: registryDigest(before), registryAfter: registryDigest(after), moves, commands: ["keepme"], staging, pid: 999_999 }),
  );
}

describe("recovery after a crash inside the commit", () => {
  test("the rule: forward only when the registry carries this operation's commit id", () => {
    const id = newCommitId();
    expect(recoveryDirection({ commit: id }, stampRegistry("plugins = []\n", id))).toBe("forward");
    // The same text as the operation would write, but without its id: not committed.
    expect(recoveryDirection({ commit: id }, "plugins = []\n")).toBe("back");
    expect(recoveryDirection({ commit: id }, stampRegistry("plugins = []\n", newCommitId()))).toBe("back");
    expect(recoveryDirection({ commit: id }, `# fledge-commit ${id}x\n`)).toBe("back");
    expect(recoveryDirection({ commit: id }, null)).toBe("back");
  });

  test("same-version --force / no-op update killed before the registry write (registry text unchanged): rolled back, data kept", async () => {
    const { plugins, dir, registryText } = await installedWithData();
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "x"), "keep");
    // The dead install --force moved the old tree aside; its new tree never went into place.
    const staging = join(plugins, `.staging-999999-${HERE}-deadbeef0004`);
    mkdirSync(join(staging, "tree"), { recursive: true });
    writeFileSync(join(staging, "tree", "plugin.toml"), "new");
    renameSync(dir, join(staging, "old-keepme"));
    // The text it would have written equals the text already there (same entry, same day).
    journal([{ from: dir, to: join(staging, "old-keepme") }, { from: join(staging, "tree"), to: dir }], staging, registryText, registryText, newCommitId(), "install");
    const r = await fledge(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("restored the previous state");
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe(STATE);
    expect(readFileSync(join(dir, "data", "x"), "utf8")).toBe("keep");
    expect(readdirSync(plugins).sort()).toEqual(["bin", "keepme"]);
  });

  test("a registered plugin without its folder gets it back from a stale staging dir instead of it being deleted", async () => {
    const { plugins, dir } = await installedWithData();
    const staging = join(plugins, `.staging-999999-${HERE}-deadbeef0005`);
    mkdirSync(staging);
    renameSync(dir, join(staging, "old-keepme"));
    // No journal at all (say it was lost): the staging dir would be "stale".
    const r = await fledge(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe(STATE);
    expect(readdirSync(plugins).sort()).toEqual(["bin", "keepme"]);
  });

  test("killed after the folder was moved aside, before the registry write: rolled back, state.json kept", async () => {
    const { plugins, dir, registryText } = await installedWithData();
    // What a dead `remove` (pid 999999) leaves: folder moved into its staging dir, registry unchanged.
    const staging = join(plugins, `.staging-999999-${HERE}-deadbeef0000`);
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
    const staging = join(plugins, `.staging-999999-${HERE}-deadbeef0001`);
    mkdirSync(staging);
    renameSync(dir, join(staging, "removed"));
    const id = newCommitId();
    const after = stampRegistry("", id);
    writeFileSync(join(sb.config, "plugins.toml"), after);
    journal([{ from: dir, to: join(staging, "removed") }], staging, registryText, after, id);
    const r = await fledge(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("recovered: completed it");
    expect(readReg(sb.config).plugins).toEqual([]);
    expect(readdirSync(plugins).sort()).toEqual(["bin"]);
    expect(readdirSync(join(plugins, "bin"))).toEqual([]);
  });

  test("a journal fledge did not write is ignored, and no staging dir is deleted", async () => {
    const { plugins, dir } = await installedWithData();
    const staging = join(plugins, `.staging-999999-${HERE}-deadbeef0002`);
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
    mkdirSync(join(plugins, `.staging-999999-${HERE}-deadbeef0003`, "tree"), { recursive: true });
    expect((await fledge(["plugins", "list"])).code).toBe(0);
    expect(readdirSync(plugins).sort()).toEqual(["bin", "keepme"]);
  });

  // Attack (shared home): two machines mount the same home folder. Machine B is in the
  // middle of an install; its pid means nothing here, and is dead here. Deleting its
  // staging folder would break (or, mid-commit, lose) B's plugin.
  test("a staging dir made on another host is never deleted, whatever its pid", async () => {
    const { plugins } = await installedWithData();
    const other = hostTag("another-machine.example");
    const theirs = join(plugins, `.staging-999999-${other}-deadbeef0006`);
    mkdirSync(join(theirs, "tree"), { recursive: true });
    writeFileSync(join(theirs, "tree", "fledge.toml"), "being installed over there\n");
    const legacy = join(plugins, ".staging-999999-deadbeef0007"); // no host in the name: cannot be judged
    mkdirSync(legacy);
    expect((await fledge(["plugins", "list"])).code).toBe(0);
    expect(readFileSync(join(theirs, "tree", "fledge.toml"), "utf8")).toBe("being installed over there\n");
    expect(existsSync(legacy)).toBe(true);
    // The same leftover made on this host by a dead process is removed.
    mkdirSync(join(plugins, `.staging-999999-${HERE}-deadbeef0008`));
    expect((await fledge(["plugins", "list"])).code).toBe(0);
    expect(readdirSync(plugins).sort()).toEqual([".staging-999999-deadbeef0007", `.staging-999999-${other}-deadbeef0006`, "bin", "keepme"].sort());
  });
});
