/**
 * A native plugin's processes end with the plugin (src/confine/reaper.ts), however it
 * runs: a command (legacy mode), a protocol plugin, an `exec` it asks for, confined or
 * unconfined. The attack: start something in the background that leaves the plugin's
 * process group and session (`setsid`), is orphaned (a double fork) or ignores the
 * hangup (`nohup`), and exit 0; the leftover would keep the plugin's grants after
 * fledge returned (a writable project, the network) and act later, unseen.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { runAttack, type AttackOptions } from "./confine-harness.ts";
import { processesWith } from "../helpers/processes.ts";

let dir: { path: string; cleanup: () => void };
let home: string;
let project: string;
let pluginDir: string;

beforeAll(() => {
  dir = tempDir("fledge-leftovers-");
  const base = realpathSync(dir.path);
  home = join(base, "home");
  project = join(base, "project");
  pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  for (const d of [join(project, "src"), pluginDir]) mkdirSync(d, { recursive: true });
});
afterAll(() => dir?.cleanup());

/** Shell that starts a leftover in the background the way `how` says, then returns at once. */
function leftover(how: string, token: string, marker: string): string {
  // The leftover lets go of fledge's output first, so a missed reap shows as a process
  // left behind and a marker written late, not as the test waiting on a held pipe.
  const body = `exec >/dev/null 2>&1 </dev/null; : ${token}; sleep 1; touch ${marker}; sleep 60`;
  if (how === "setsid") return `setsid sh -c '${body}' &`;
  if (how === "double fork") return `(sh -c '${body}' &) &`;
  return `nohup sh -c '${body}' >/dev/null 2>&1 &`;
}

const HOWS = ["setsid", "double fork", "nohup"] as const;
let n = 0;

async function expectNoLeftover(script: (token: string, marker: string) => string, o: AttackOptions, stderrHas = ""): Promise<void> {
  const token = `leftover-token-${process.pid}-${++n}`;
  const marker = join(pluginDir, `late-${n}`);
  const r = await runAttack({ home, project, pluginDir }, script(token, marker), o);
  expect(r.stderr).not.toContain("error:");
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(stderrHas);
  // fledge has exited: give a missed leftover the time to act.
  await Bun.sleep(2000);
  const left = processesWith(token);
  for (const p of left) process.kill(p, "SIGKILL");
  expect(left).toEqual([]);
  expect(existsSync(marker)).toBe(false);
}

describe.skipIf(process.platform !== "linux")("a native plugin's background processes do not outlive it", () => {
  for (const how of HOWS) {
    test(`a command, confined: ${how}`, () => expectNoLeftover((t, m) => `${leftover(how, t, m)}\nexit 0`, {}), 60_000);
    test(`a command, unconfined: ${how}`, () => expectNoLeftover((t, m) => `${leftover(how, t, m)}\nexit 0`, { confinement: { unconfined: true } }), 60_000);
  }
  test("a protocol plugin (setsid)", () => expectNoLeftover((t, m) => `read init\n${leftover("setsid", t, m)}\nexit 0`, { protocol: "fledge-v1" }), 60_000);
  test("an exec a protocol plugin asks for (setsid, double fork)", () => {
    const script = (t: string, m: string): string => {
      const command = JSON.stringify(`${leftover("setsid", t, m)} ${leftover("double fork", t, `${m}b`)} exit 0`);
      return `read init\nprintf '%s\\n' '{"type":"exec","id":"e1","command":${command.replace(/'/g, "'\\''")}}'\nread reply\necho "$reply" >&2\nexit 0`;
    };
    // The exec ran (and returned 0) before its leftovers were ended.
    return expectNoLeftover(script, { protocol: "fledge-v1", exec: true }, '"code":0');
  }, 60_000);
});
