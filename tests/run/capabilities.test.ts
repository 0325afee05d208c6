/**
 * One compatibility guest per granted capability, run through `fledge <command>`,
 * plus exec containment and store limits end to end through a plugin.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { alive, until } from "../host/procs.ts";
import { addPlugin, compat, makeHome, responses, type Home } from "./helpers.ts";

let home: Home;
let execDir: string;
let storeDir: string;
let plugDir: string;
beforeAll(async () => {
  home = makeHome();
  writeFileSync(join(home.project, "hello.txt"), "hello project");
  execDir = await addPlugin(home, { name: "execer", runtime: "wasm", protocol: "fledge-v1", granted: { exec: true }, commands: { execer: compat("compat-exec") } });
  storeDir = await addPlugin(home, { name: "storer", runtime: "wasm", protocol: "fledge-v1", granted: { store: true }, commands: { storer: compat("compat-store") } });
  await addPlugin(home, { name: "meta", runtime: "wasm", protocol: "fledge-v1", granted: { metadata: true }, commands: { meta: compat("compat-metadata") } });
  await addPlugin(home, { name: "fs-none", runtime: "wasm", protocol: "fledge-v1", commands: { "fs-none": compat("compat-fs") } });
  await addPlugin(home, { name: "fs-project", runtime: "wasm", protocol: "fledge-v1", granted: { filesystem: "project" }, commands: { "fs-project": compat("compat-fs") } });
  plugDir = await addPlugin(home, { name: "fs-plugin", runtime: "wasm", protocol: "fledge-v1", granted: { filesystem: "plugin" }, commands: { "fs-plugin": compat("compat-fs") } });
  await addPlugin(home, { name: "sender", runtime: "wasm", protocol: "fledge-v1", commands: { sender: compat("compat-send") } });
});
afterAll(() => home.cleanup());

/** The JSON results compat-exec printed as `exec(len,got): <json>`. */
function execResults(stdout: string): { code: number; stdout: string; stderr: string }[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("exec("))
    .map((l) => JSON.parse(l.slice(l.indexOf(": ") + 2)));
}

describe("exec (granted)", () => {
  test("runs through sh in the project root; code, stdout and stderr come back through recv", async () => {
    const r = await home.run(["execer", JSON.stringify({ command: "pwd; echo err >&2; exit 5" })]);
    expect(r.code).toBe(0);
    expect(execResults(r.stdout)).toEqual([{ code: 5, stdout: `${home.project}\n`, stderr: "err\n" }]);
    // The returned length is the pending result's byte length, read back in full.
    const m = /^exec\((\d+),(\d+)\)/.exec(r.stdout);
    expect(m?.[1]).toBe(m?.[2]);
  });

  test("G.2 a cwd outside the project and plugin dir is refused; the plugin dir is allowed", async () => {
    const r = await home.run(["execer", JSON.stringify({ command: "pwd", cwd: "/" }), JSON.stringify({ command: "pwd", cwd: "../cfg" }), JSON.stringify({ command: "pwd", cwd: execDir })]);
    const [root, sibling, plugin] = execResults(r.stdout);
    expect(root?.code).toBe(1);
    expect(root?.stderr).toContain("escapes the project and plugin directory");
    expect(sibling?.code).toBe(1);
    expect(plugin).toEqual({ code: 0, stdout: `${execDir}\n`, stderr: "" });
  });

  test("G.2 output over 10 MiB is capped at 10 MiB", async () => {
    const r = await home.run(["execer", JSON.stringify({ command: "head -c 12000000 /dev/zero | tr '\\0' a; echo tail >&2" })], { timeoutMs: 120_000 });
    const [res] = execResults(r.stdout);
    // 10 MiB of output, then the host's truncation note; never the full 12 MB.
    expect(res?.stdout.startsWith("a".repeat(10 * 1024 * 1024))).toBe(true);
    expect(res?.stdout.length).toBeLessThan(10 * 1024 * 1024 + 200);
    expect(res?.stdout.slice(10 * 1024 * 1024)).toContain("exceeded");
    expect(res?.stderr).toBe("tail\n");
  }, 120_000);

  test("G.2 a command that never exits is killed at its timeout (code 124)", async () => {
    const r = await home.run(["execer", JSON.stringify({ command: "sleep 60", timeout: 1 })]);
    const [res] = execResults(r.stdout);
    expect(res?.code).toBe(124);
  });

  test("G.2 a background child does not outlive the exec", async () => {
    // $! is a number inside the command's own PID namespace; its /proc folder (the host's
    // /proc) names the child as this test sees it.
    const r = await home.run(["execer", JSON.stringify({ command: "sleep 30 & read me rest < /proc/self/stat; read kid rest < /proc/self/task/$me/children; echo $kid" })]);
    const [res] = execResults(r.stdout);
    const pid = Number(res?.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await until(() => !alive(pid));
    expect(alive(pid)).toBe(false);
  });

  test("without the grant, exec sent as a message answers code 126 and warns", async () => {
    const r = await home.run(["sender", JSON.stringify({ type: "exec", id: "e", command: "touch nope" })]);
    expect(responses(r.stdout)).toEqual([{ code: 126, stdout: "", stderr: "exec capability not granted" }]);
    expect(r.stderr).toContain("[sender] exec blocked");
    expect(existsSync(join(home.project, "nope"))).toBe(false);
  });
});

describe("store (granted), G.3 end to end", () => {
  test("set then get, persisted in the plugin's state.json across runs", async () => {
    expect((await home.run(["storer", "set", "greeting", "hi there"])).code).toBe(0);
    const r = await home.run(["storer", "get", "greeting", "get", "missing"]);
    expect(r.stdout).toContain('get greeting = "hi there"\n');
    expect(r.stdout).toContain("get missing = null\n");
    expect(JSON.parse(readFileSync(join(storeDir, "state.json"), "utf8"))).toMatchObject({ greeting: "hi there" });
  });

  test("a key over 256 bytes, a key with control characters and a value over 64 KiB are rejected with a warning", async () => {
    const longKey = "k".repeat(257);
    const r = await home.run(["storer", "set", longKey, "v", "set", "bad\u0001key", "v", "set", "big", "x".repeat(65 * 1024), "get", "big"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("store rejected");
    expect(r.stderr).toContain("256 bytes");
    expect(r.stderr).toContain("control characters");
    expect(r.stdout).toContain("get big = null\n");
    const state = JSON.parse(readFileSync(join(storeDir, "state.json"), "utf8"));
    expect(Object.keys(state)).not.toContain(longKey);
    expect(Object.keys(state)).not.toContain("bad\u0001key");
  });

  test("the 257th key and a store over 1 MiB are rejected", async () => {
    const dir = await addPlugin(home, { name: "filler", runtime: "wasm", protocol: "fledge-v1", granted: { store: true }, commands: { filler: compat("compat-store") } });
    const many = await home.run(["filler", "fill", "257", "1", "k", "get", "k255", "get", "k256"]);
    expect(many.stdout).toContain('get k255 = "v"\n');
    expect(many.stdout).toContain("get k256 = null\n");
    expect(many.stderr).toContain("256 keys");
    rmSync(join(dir, "state.json"));
    const big = await home.run(["filler", "fill", "20", "60000", "big"]);
    expect(big.stderr).toContain("store rejected");
    expect(statSync(join(dir, "state.json")).size).toBeLessThanOrEqual(1024 * 1024);
  }, 60_000);

  test("concurrent writers lose nothing", async () => {
    const procs = [0, 1, 2, 3].map((i) =>
      Bun.spawn([process.execPath, MAIN, "storer", "fill", "15", "10", `w${i}-`], {
        cwd: home.project,
        env: { ...home.env, PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    const state = JSON.parse(readFileSync(join(storeDir, "state.json"), "utf8")) as Record<string, string>;
    for (let i = 0; i < 4; i++) for (let k = 0; k < 15; k++) expect(state[`w${i}-${k}`]).toBe("v".repeat(10));
  }, 60_000);

  test("without the grant: store is dropped, load answers null", async () => {
    const r = await home.run(["sender", JSON.stringify({ type: "store", key: "a", value: "b" }), JSON.stringify({ type: "load", id: "l", key: "a" })]);
    expect(responses(r.stdout)).toEqual([null]);
    expect(r.stderr).toContain("store blocked");
    expect(existsSync(join(home.config, "plugins", "sender", "state.json"))).toBe(false);
  });
});

describe("metadata (granted)", () => {
  test("answers the requested keys; env is filtered, secrets never appear", async () => {
    const r = await home.run(["meta", JSON.stringify(["env", "git_tags", "nonsense"])], { env: { GITHUB_TOKEN: "ghp_leak", LANG: "C.UTF-8", MY_SECRET: "x" } });
    expect(r.code).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.startsWith("metadata: "));
    const meta = JSON.parse(line?.slice(10) ?? "{}");
    expect(meta.env.LANG).toBe("C.UTF-8");
    expect(meta.env.GITHUB_TOKEN).toBeUndefined();
    expect(r.stdout).not.toContain("ghp_leak");
    expect(meta.git_tags).toEqual([]);
    expect(meta.nonsense).toBeNull();
  });

  test("without the grant, metadata sent as a message answers {}", async () => {
    const r = await home.run(["sender", JSON.stringify({ type: "metadata", id: "m", keys: ["env"] })]);
    expect(responses(r.stdout)).toEqual([{}]);
    expect(r.stderr).toContain("metadata blocked");
  });
});

describe("filesystem grants", () => {
  test('"none": no preopens at all', async () => {
    const r = await home.run(["fs-none", "read", "/project/hello.txt", "list", "/"]);
    expect(r.stdout).toContain("read /project/hello.txt: error");
    expect(r.stdout).not.toContain("hello project");
    // libc's "Capabilities insufficient" is followed by fledge's note naming the grant to ask for.
    expect(r.stderr).toContain(`plugin 'fs-none' was refused a file: it is granted filesystem = "none"`);
    expect(r.stderr).toContain(`filesystem = "project" under [capabilities]`);
  });

  test('"project": the project root is readable at /project and read-only; nothing else is there', async () => {
    const r = await home.run(["fs-project", "read", "/project/hello.txt", "write", "/project/new.txt", "x", "read", "/project/../cfg/plugins.toml", "read", "/plugin/x", "list", "/project"]);
    expect(r.stdout).toContain("read /project/hello.txt: hello project\n");
    expect(r.stdout).toMatch(/write \/project\/new.txt: error/);
    expect(r.stdout).toMatch(/read \/project\/..\/cfg\/plugins.toml: error/);
    expect(r.stdout).toMatch(/read \/plugin\/x: error/);
    expect(r.stdout).toContain("list /project: hello.txt");
    expect(existsSync(join(home.project, "new.txt"))).toBe(false);
  });

  test('"plugin": /plugin is <plugin dir>/data (created on demand, writable), never the plugin dir itself', async () => {
    rmSync(join(plugDir, "data"), { recursive: true, force: true });
    const r = await home.run(["fs-plugin", "write", "/plugin/out.txt", "saved", "read", "/plugin/out.txt", "read", "/plugin/../plugin.toml", "list", "/plugin", "read", "/project/hello.txt"]);
    expect(r.stdout).toContain("write /plugin/out.txt: ok\n");
    expect(r.stdout).toContain("read /plugin/out.txt: saved\n");
    expect(r.stdout).toMatch(/read \/plugin\/..\/plugin.toml: error/);
    expect(r.stdout).toContain("list /plugin: out.txt \n");
    expect(r.stdout).toContain("read /project/hello.txt: hello project\n");
    expect(readFileSync(join(plugDir, "data", "out.txt"), "utf8")).toBe("saved");
    expect(readdirSync(join(plugDir, "data"))).toEqual(["out.txt"]);
  });

  test('"plugin": a data symlink (to the plugin dir or elsewhere) is refused', async () => {
    rmSync(join(plugDir, "data"), { recursive: true, force: true });
    symlinkSync(".", join(plugDir, "data"));
    const r = await home.run(["fs-plugin", "write", "/plugin/plugin.toml", "pwned"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not a plain directory");
    expect(readFileSync(join(plugDir, "plugin.toml"), "utf8")).not.toBe("pwned");
    rmSync(join(plugDir, "data"));
    mkdirSync(join(plugDir, "data"));
  });
});
