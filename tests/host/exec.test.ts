import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { EXEC_LIMITS, execTimeoutMs, resolveExecCwd, runExec } from "../../src/host/exec.ts";
import { runExecSync } from "../../src/host/exec-sync.ts";
import { pluginConfinement } from "../../src/confine/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { alive, liveGroupMembers, until } from "./procs.ts";

/**
 * Shell that sets $me (the shell's pid) and $kid (its first child's) as this test sees
 * them: a confined command runs in a PID namespace of its own, where $$ and $! are other
 * numbers; its own /proc folder (the host's /proc) names them as the test does.
 */
const HOST_PIDS = "read me rest < /proc/self/stat; kid=; read kid rest < /proc/self/task/$me/children";

let dir: { path: string; cleanup: () => void };
let project: string;
let plugin: string;
let outside: string;
beforeAll(() => {
  dir = tempDir("fledge-exec-");
  const base = realpathSync(dir.path);
  project = join(base, "project");
  plugin = join(base, "plugins", "demo");
  outside = join(base, "outside");
  for (const d of [join(project, "sub"), plugin, outside]) mkdirSync(d, { recursive: true });
  symlinkSync(outside, join(project, "escape"));
  symlinkSync(join(project, "sub"), join(project, "inner-link"));
});
afterAll(() => dir.cleanup());

// These tests are about exec's mechanics; the plugin may write its temp area (base) here.
// What confinement denies is tested in tests/host/confine*.test.ts.
const ctx = () => ({
  projectRoot: project,
  pluginDir: plugin,
  confinement: pluginConfinement({ name: "demo", pluginDir: plugin, projectRoot: project, capabilities: { filesystem: "none", network: false }, granted: { unconfined: false, read: [], write: [realpathSync(dir.path)], env: [] } }),
});

describe("exec cwd containment (inside the project or the plugin folder)", () => {
  test("default and relative cwds resolve under the project root", () => {
    expect(resolveExecCwd(undefined, project, plugin)).toEqual({ ok: true, cwd: project });
    expect(resolveExecCwd("sub", project, plugin)).toEqual({ ok: true, cwd: join(project, "sub") });
    expect(resolveExecCwd("inner-link", project, plugin)).toEqual({ ok: true, cwd: join(project, "sub") });
    expect(resolveExecCwd(plugin, project, plugin)).toEqual({ ok: true, cwd: plugin });
  });

  test("cwd outside both roots is refused: absolute, .., and via a symlink", () => {
    for (const bad of [outside, "..", "../outside", "sub/../../outside", "escape", "/", "/tmp"]) {
      const r = resolveExecCwd(bad, project, plugin);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain("escapes the project and plugin directory");
    }
  });

  test("a sibling whose name starts with the root's name is not inside it", () => {
    mkdirSync(`${project}-evil`, { recursive: true });
    expect(resolveExecCwd(`${project}-evil`, project, plugin).ok).toBe(false);
  });

  test("a missing cwd is refused", () => {
    const r = resolveExecCwd("does-not-exist", project, plugin);
    expect(r).toEqual({ ok: false, message: "exec cwd 'does-not-exist' does not exist or is not a directory" });
  });

  test("runExec answers a refused cwd without running anything", async () => {
    const r = await runExec({ command: `touch ${join(outside, "ran")}`, cwd: "escape" }, ctx());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("escapes");
    expect(() => readFileSync(join(outside, "ran"))).toThrow();
  });
});

describe("exec", () => {
  test("runs sh -c in the cwd and reports code, stdout and stderr", async () => {
    const r = await runExec({ command: "pwd; echo oops >&2; exit 7", cwd: "sub" }, ctx());
    expect(r).toEqual({ code: 7, stdout: `${join(project, "sub")}\n`, stderr: "oops\n" });
  });

  test("timeouts: default 30 s, capped at 300 s", () => {
    expect(execTimeoutMs(undefined)).toBe(30_000);
    expect(execTimeoutMs(5)).toBe(5_000);
    expect(execTimeoutMs(10_000)).toBe(300_000);
    expect(execTimeoutMs(-1)).toBe(30_000);
    expect(execTimeoutMs(Number.NaN)).toBe(30_000);
  });

  test("over 10 MiB on both streams at once: no deadlock, each capped with a note", async () => {
    const n = 12 * 1024 * 1024;
    const r = await runExec({ command: `head -c ${n} /dev/zero | tr '\\0' o & head -c ${n} /dev/zero | tr '\\0' e >&2; wait; echo tail-ignored` }, ctx());
    expect(r.code).toBe(0);
    const note = (s: string) => `\n[fledge: ${s} truncated: output exceeded ${EXEC_LIMITS.maxOutputBytes} bytes]\n`;
    expect(r.stdout.endsWith(note("stdout"))).toBe(true);
    expect(r.stderr.endsWith(note("stderr"))).toBe(true);
    expect(r.stdout.length).toBe(EXEC_LIMITS.maxOutputBytes + note("stdout").length);
    expect(r.stderr.length).toBe(EXEC_LIMITS.maxOutputBytes + note("stderr").length);
  }, 60_000);

  test("a command that never exits times out with 124 and its whole group is killed", async () => {
    const pidFile = join(project, "hang.pids");
    // The timeout only has to outlast writing the pid file, even on a loaded machine.
    const r = await runExec({ command: `sleep 1000 & ${HOST_PIDS}; echo $kid > ${pidFile}; echo $me >> ${pidFile}; sleep 1000`, timeout: 3 }, ctx());
    expect(r.code).toBe(124);
    expect(r.stderr).toContain("command timed out after 3s");
    const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    await until(() => pids.every((p) => !alive(p)));
    const [, shell] = pids as [number, number];
    expect(liveGroupMembers(shell)).toEqual([]);
  }, 30_000);

  test("a background child does not keep exec hanging and is cleaned up", async () => {
    const pidFile = join(project, "bg.pid");
    const r = await runExec({ command: `sleep 100 & ${HOST_PIDS}; echo $kid > ${pidFile}; echo started` }, ctx());
    expect(r).toEqual({ code: 0, stdout: "started\n", stderr: "" });
    const bg = Number(readFileSync(pidFile, "utf8"));
    await until(() => !alive(bg));
  }, 30_000);

  test("an abort (user interrupt) kills the group and answers 130", async () => {
    const abort = new AbortController();
    const pidFile = join(project, "abort.pid");
    const running = runExec({ command: `${HOST_PIDS}; echo $me > ${pidFile}; sleep 1000` }, { ...ctx(), signal: abort.signal });
    await until(() => {
      try {
        return readFileSync(pidFile, "utf8").trim() !== "";
      } catch {
        return false;
      }
    });
    abort.abort();
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("interrupted");
    const pid = Number(readFileSync(pidFile, "utf8"));
    await until(() => liveGroupMembers(pid).length === 0 && !alive(pid));
  }, 30_000);

  test("signal death is reported as 128 + n", async () => {
    const r = await runExec({ command: "kill -TERM $$" }, ctx());
    expect(r.code).toBe(143);
  });

  test("runExecSync (wasm path) gives the same answers while blocking", () => {
    expect(runExecSync({ command: "echo sync; exit 2", cwd: "sub" }, ctx())).toEqual({ code: 2, stdout: "sync\n", stderr: "" });
    expect(runExecSync({ command: "sleep 1000", timeout: 0.3 }, ctx()).code).toBe(124);
    expect(runExecSync({ command: "true", cwd: "escape" }, ctx()).code).toBe(1);
  }, 30_000);
});
