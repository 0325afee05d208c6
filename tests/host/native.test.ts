import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { RunNativeOptions } from "../../src/host/native.ts";
import type { Capabilities } from "../../src/manifest/types.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { alive, liveGroupMembers, until } from "./procs.ts";

// Each run starts fledge, the confinement launcher and a Bun plugin: seconds under load.
setDefaultTimeout(30_000);
const FIXTURES = join(ROOT, "tests", "fixtures", "host");
const HARNESS = join(FIXTURES, "run-native.ts");
const ALL: Capabilities = { exec: true, store: true, metadata: true, filesystem: "none", network: false };

let dir: { path: string; cleanup: () => void };
let base: string;
// HOME apart from the test folder: the plugin's write grant on the test folder would
// otherwise hold home, a grant fledge refuses.
let home: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir("fledge-native-");
  home = tempDir("fledge-native-home-");
  base = realpathSync(dir.path);
  mkdirSync(join(base, "project"));
  mkdirSync(join(base, "plugins", "demo"), { recursive: true });
  // The fixture plugin's shebang is `#!/usr/bin/env bun`: put this bun on its PATH.
  mkdirSync(join(base, "bin"));
  symlinkSync(process.execPath, join(base, "bin", "bun"));
});
afterAll(() => {
  dir.cleanup();
  home.cleanup();
});

function options(args: string[], capabilities: Capabilities = ALL, extra: Partial<RunNativeOptions> = {}): RunNativeOptions {
  return {
    // The fixture writes markers in the test folder: granted as an extra (confinement is tested in confine-*.test.ts).
    entry: { name: "demo", dir: join(base, "plugins", "demo"), version: "1.2.3", protocol: "fledge-v1", capabilities, confinement: { unconfined: false, read: [], write: [base], env: [] } },
    binaryPath: join(FIXTURES, "plugin.ts"),
    args,
    projectRoot: join(base, "project"),
    stateFile: join(base, "plugins", "demo", "state.json"),
    env: { PATH: `${join(base, "bin")}:/usr/bin:/bin`, LANG: "C", MY_API_TOKEN: "leak-me-not" },
    cancelGraceMs: 300,
    ...extra,
  };
}

function start(opts: RunNativeOptions) {
  return Bun.spawn([process.execPath, HARNESS, JSON.stringify({ ...opts, cwd: join(base, "project") })], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home.path, NO_COLOR: "1" },
  });
}

async function run(opts: RunNativeOptions): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = start(opts);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The `RESP <id> <json>` lines the test plugin echoes, keyed by id. */
function responses(stdout: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of stdout.split("\n")) {
    const m = /^RESP (\S+) (.*)$/.exec(line);
    if (m) out[m[1] as string] = (JSON.parse(m[2] as string) as { value: unknown }).value;
  }
  return out;
}

describe("fledge-v1 native runner", () => {
  test("init carries args, project, plugin, version and granted capabilities; no argv; FLEDGE_PLUGIN_DIR set", async () => {
    const r = await run(options(["init", "--flag", "two words"], { ...NO_CAPABILITIES, store: true }));
    expect(r.code).toBe(0);
    const init = JSON.parse(/^INIT (.*)$/m.exec(r.stdout)?.[1] ?? "null");
    expect(init).toMatchObject({
      type: "init",
      protocol: "fledge-v1",
      args: ["init", "--flag", "two words"],
      project: { name: "project", root: join(base, "project"), language: "unknown" },
      plugin: { name: "demo", version: "1.2.3", dir: join(base, "plugins", "demo") },
      capabilities: { exec: false, store: true, metadata: false, filesystem: "none", network: false },
    });
    expect(typeof init.fledge.version).toBe("string");
    expect(r.stdout).toContain(`ENV FLEDGE_PLUGIN_DIR=${join(base, "plugins", "demo")} ARGV=[]`);
  });

  test("every message type, granted: answers, sanitized output, logs on stderr", async () => {
    const r = await run(options(["all"]));
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("plain \u001b[31mred\u001b[0m \\x1b]52;c;cHduZWQ=\\x07clip \\x1b]0;title\\x1b\\done\n")).toBe(true);
    expect(r.stdout).not.toContain("\u001b]");
    const resp = responses(r.stdout);
    expect(resp).toEqual({
      l1: "hi there",
      l2: null,
      e1: { code: 4, stdout: "exec-out\n", stderr: "exec-err\n" },
      e2: { code: 1, stdout: "", stderr: "exec cwd '/' escapes the project and plugin directory" },
      m1: { env: { LANG: "C" }, nope: null },
      p1: "bob",
      c1: true,
      c2: false,
      s1: "b",
      ms1: ["x", "z"],
    });
    expect(r.stdout.endsWith("END\n")).toBe(true);
    expect(r.stderr).toContain("  INFO [demo] hello from log\n");
    expect(r.stderr).toContain("  WARN [demo] careful\n");
    expect(r.stderr).toContain("  trace [demo] custom level\n");
    expect(r.stderr).toContain("▶ step (demo)");
    expect(r.stdout + r.stderr).not.toContain("leak-me-not");
  });

  test("not granted: exec 126, load null, metadata {}, store dropped; warnings on stderr", async () => {
    const r = await run(options(["all"], NO_CAPABILITIES, { stateFile: join(base, "plugins", "demo", "none.json") }));
    expect(r.code).toBe(0);
    const resp = responses(r.stdout);
    expect(resp.l1).toBeNull();
    expect(resp.e1).toEqual({ code: 126, stdout: "", stderr: "exec capability not granted" });
    expect(resp.m1).toEqual({});
    expect(existsSync(join(base, "plugins", "demo", "none.json"))).toBe(false);
    for (const what of ["exec", "store", "load", "metadata"]) expect(r.stderr).toContain(`[demo] ${what} blocked`);
  });

  test("malformed lines are warned about and skipped", async () => {
    const r = await run(options(["malformed"]));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("still alive\n");
    expect(r.stderr).toContain("malformed message skipped: malformed JSON");
    expect(r.stderr).toContain('malformed message skipped: unknown message type "teleport"');
    expect(r.stderr).toContain("malformed message skipped: invalid exec message: id");
    expect(r.stderr).toContain("malformed message skipped: message is not a JSON object");
  });

  test("the plugin's exit code is fledge's", async () => {
    expect((await run(options(["exit", "42"]))).code).toBe(42);
    expect((await run(options(["exit", "0"]))).code).toBe(0);
  });

  test("a plugin that closes stdin and exits early: no SIGPIPE/EPIPE death", async () => {
    const r = await run(options(["early-exit"]));
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(/EPIPE|Broken pipe|error:/i);
    const r2 = await run(options(["no-read-exit"]));
    expect(r2.code).toBe(7);
    expect(r2.stdout).toBe("bye\n");
  });

  test("fledge's own stdout closing early (| head) does not kill it", async () => {
    const cfg = JSON.stringify({ ...options(["flood"]), cwd: join(base, "project") });
    const p = Bun.spawn(["bash", "-c", 'set -o pipefail; "$0" "$1" "$2" | head -c 10 >/dev/null; echo "rc=${PIPESTATUS[0]}" >&2', process.execPath, HARNESS, cfg], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(stderr).toContain("rc=4");
    expect(stderr).not.toMatch(/EPIPE|Broken pipe/i);
  }, 30_000);

  test("a prompt without TTY or default fails the run, naming the prompt", async () => {
    const r = await run(options(["prompt-no-default"]));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Plugin requested input 'Project name?' but stdin is not a TTY and no default was provided.");
    expect(r.stdout).not.toContain("UNREACHABLE");
    const s = await run(options(["select-no-default"]));
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("Plugin requested selection 'Environment?'");
  });

  test("a missing plugin binary is a clear error", async () => {
    const r = await run({ ...options([]), binaryPath: join(base, "nope", "missing-binary") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Cannot start plugin 'demo'");
  });

  test("unsupported protocol is refused", async () => {
    const o = options([]);
    const r = await run({ ...o, entry: { ...o.entry, protocol: "fledge-v9" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("requires protocol 'fledge-v9'");
  });
});

describe("interrupts", () => {
  async function waitReady(p: ReturnType<typeof start>): Promise<void> {
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    while (!seen.includes("ready\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`plugin ended before ready: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
    reader.releaseLock();
  }

  test("SIGINT sends cancel; a stubborn plugin's whole group is killed after the grace", async () => {
    const marker = join(base, "cancel-stubborn");
    const p = start(options(["cancel", marker, "stubborn"]));
    await waitReady(p);
    p.kill("SIGINT");
    const code = await p.exited;
    expect(JSON.parse(readFileSync(marker, "utf8"))).toEqual({ type: "cancel", reason: "user_interrupt" });
    expect(code).toBe(137); // SIGTERM ignored, so SIGKILL: 128 + 9
    const [pluginPid, childPid] = readFileSync(`${marker}.pids`, "utf8").split(" ").map(Number) as [number, number];
    await until(() => !alive(pluginPid) && !alive(childPid));
    expect(liveGroupMembers(pluginPid)).toEqual([]);
  }, 30_000);

  test("a plugin that exits on cancel keeps its own exit code", async () => {
    const marker = join(base, "cancel-polite");
    const p = start(options(["cancel", marker, "polite"]));
    await waitReady(p);
    p.kill("SIGINT");
    expect(await p.exited).toBe(5);
    const [, childPid] = readFileSync(`${marker}.pids`, "utf8").split(" ").map(Number) as [number, number];
    // The plugin left its child behind; confined, it ends with the plugin's PID namespace.
    expect(typeof childPid).toBe("number");
    try {
      process.kill(childPid, "SIGKILL");
    } catch {
      // already gone with the plugin
    }
  }, 30_000);

  test("SIGINT during an exec kills the exec's process group and answers 130", async () => {
    const marker = join(base, "exec-hang");
    const p = start(options(["exec-hang", marker]));
    await waitReady(p);
    await until(() => existsSync(`${marker}.exec`) && readFileSync(`${marker}.exec`, "utf8").trim() !== "");
    p.kill("SIGINT");
    expect(await p.exited).toBe(6);
    const [cancel, answer] = JSON.parse(readFileSync(marker, "utf8"));
    expect(cancel).toEqual({ type: "cancel", reason: "user_interrupt" });
    expect(answer).toMatchObject({ type: "response", id: "h", value: { code: 130 } });
    const execPid = Number(readFileSync(`${marker}.exec`, "utf8"));
    await until(() => !alive(execPid));
  }, 30_000);
});

describe("legacy mode", () => {
  test("inherited stdio, args as argv, FLEDGE_PLUGIN_DIR, exit code", async () => {
    const o = options(["hello", "two words"], NO_CAPABILITIES);
    const legacy = { ...o, entry: { ...o.entry, protocol: undefined }, binaryPath: join(FIXTURES, "legacy.sh") };
    const r = await run(legacy);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`argv: hello two words\ndir: ${join(base, "plugins", "demo")}\n`);
    expect(r.stderr).toBe("to stderr\n");
    expect((await run({ ...legacy, args: ["exit", "9"] })).code).toBe(9);
    expect((await run({ ...legacy, args: ["selfkill"] })).code).toBe(143);
  });
});
