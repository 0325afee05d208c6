/**
 * Issue 10 item 2 at install time: a plugin cannot ship its own prepared module, and
 * a command binary in the plugin's writable data/ folder is refused (it could be
 * rewritten by the very code it runs). Real fledge child processes, the loopback fake
 * GitHub, real archives.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../../src/cli/wasm.ts";
import { hostVersionString } from "../../src/wasm/prepared.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { ROOT } from "../helpers/cli.ts";
import { listAll, runFledgeAsync, sandbox, WASM_BYTES, wasmPlugin, writeTree, type FileSpec } from "./helpers.ts";

setDefaultTimeout(60_000);

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let repos = 0;
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

const fledge = (args: string[], spawn = false) => runFledgeAsync(args, { env: { ...sb.env, HOME: sb.root, FLEDGE_GITHUB_API_URL: gh.url }, cwd: sb.root, spawn });
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** A forged prepared module in the layout fledge used to trust: the unmetered payload and a matching stamp. */
function forgedBeside(name: string): Record<string, FileSpec> {
  const pwned = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "wasi", "pwned.wasm")));
  const json = new TextEncoder().encode("{}");
  const cw = new Uint8Array(10 + 4 + json.length + pwned.length);
  cw.set(new TextEncoder().encode("FLEDGECW1\n"), 0);
  new DataView(cw.buffer).setUint32(10, json.length, true);
  cw.set(json, 14);
  cw.set(pwned, 14 + json.length);
  const hv = hostVersionString(DEFAULT_LIMITS.maxMemoryBytes).replace(/; cache-format \d+/, "");
  return {
    [`${name}.cwasm`]: cw,
    [`${name}.cwasm.sha256`]: `${sha(WASM_BYTES)}\n${hv}\n${sha(cw)}`,
    "lib/extra.cwasm/inner": "a directory named like a cache file",
    "lib/Other.CWASM.sha256": "upper case too",
    "lib/keep.txt": "an ordinary file stays",
  };
}

function plugin(name: string, extra: Record<string, FileSpec>, binary = "hello.wasm"): string {
  return wasmPlugin(join(sb.root, "src", `${name}-${++repos}`), { name, commands: [{ name, binary }] }, extra);
}

describe("installs strip *.cwasm* from the plugin tree", () => {
  test("a GitHub archive shipping hello.cwasm + a matching stamp: stripped, warned, and the plugin runs its real module", async () => {
    const full = `acme/shipper${++repos}`;
    gh.addRepo(full, { dir: plugin("shipper", forgedBeside("hello")) });
    const r = await fledge(["plugins", "install", full, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ignored 4 prepared-module file\(s\) shipped with the plugin/);
    const [installed] = readdirSync(join(sb.config, "plugins")).filter((d) => d.startsWith("shipper"));
    const tree = listAll(join(sb.config, "plugins", installed!));
    expect(tree.filter((p) => /\.cwasm/i.test(p))).toEqual([]);
    expect(tree).toContain("lib/keep.txt");
    const run = await fledge(["shipper"]);
    expect(run.stdout).toBe("hello from wasm\n");
    expect(run.code).toBe(0);
  });

  test("a local --copy install strips them too; the author's folder is left as it was", async () => {
    const dir = plugin("copied", forgedBeside("hello"));
    const before = listAll(dir);
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(listAll(join(sb.config, "plugins", "copied")).filter((p) => /\.cwasm/i.test(p))).toEqual([]);
    expect(listAll(dir)).toEqual(before);
    expect((await fledge(["copied"])).stdout).toBe("hello from wasm\n");
  });

  test("a live-linked plugin keeps the author's files (fledge never writes there) and never reads them", async () => {
    const dir = plugin("linked", forgedBeside("hello"));
    const before = listAll(dir);
    const r = await fledge(["plugins", "install", dir, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(listAll(dir)).toEqual(before);
    const run = await fledge(["linked"]);
    expect(run.stdout).toBe("hello from wasm\n");
    expect(run.code).toBe(0);
  });

  test("install prepares into <config>/cache/wasm, keyed by content", async () => {
    // A fresh process: this one may already hold the module compiled (fledge compiles once per process).
    const r = await fledge(["plugins", "install", plugin("warm", {}), "--copy", "--yes"], true);
    expect(r.code, r.stderr).toBe(0);
    const entries = readdirSync(join(sb.config, "cache", "wasm"));
    expect(entries.length).toBe(1);
    expect(entries[0]!.startsWith(sha(WASM_BYTES))).toBe(true);
  });
});

describe("a command binary in the plugin's data/ folder is refused", () => {
  test("validate names the folder and the fix (also Data/ and a symlink leading into data/)", async () => {
    for (const [binary, extra] of [
      ["data/hello.wasm", { "data/hello.wasm": WASM_BYTES }],
      ["Data/hello.wasm", { "Data/hello.wasm": WASM_BYTES }],
      ["bin/hello.wasm", { "data/hello.wasm": WASM_BYTES, "bin/hello.wasm": { symlink: "../data/hello.wasm" } }],
    ] as const) {
      const dir = plugin("datab", extra as Record<string, FileSpec>, binary);
      const r = await fledge(["plugins", "validate", dir]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/lies in the plugin's data\/ folder: move it out of data\//);
    }
  });

  test("install from GitHub refuses it and leaves nothing behind", async () => {
    const full = `acme/datab${++repos}`;
    gh.addRepo(full, { dir: plugin("datab", { "data/hello.wasm": WASM_BYTES }, "data/hello.wasm") });
    const r = await fledge(["plugins", "install", full, "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/data\//);
    expect(existsSync(join(sb.config, "plugins", "datab"))).toBe(false);
  });

  test("a live-linked plugin whose binary later moves into data/ is refused at run time", async () => {
    const dir = plugin("moved", {});
    const r = await fledge(["plugins", "install", dir, "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    // The author (or the plugin itself, through /plugin) now points the command at data/.
    writeTree(dir, {
      "plugin.toml": readFileSync(join(dir, "plugin.toml"), "utf8").replace('binary = "hello.wasm"', 'binary = "data/hello.wasm"'),
      "data/hello.wasm": WASM_BYTES,
    });
    mkdirSync(join(dir, "data"), { recursive: true });
    const run = await fledge(["moved"]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain("hello from wasm");
    // Refused by the manifest check when the command is loaded (dispatch's binary check is the backstop).
    expect(run.stderr).toMatch(/lies in the plugin's data\/ folder/);
    expect(run.stderr).toMatch(/move it out of data\//);
  });
});
