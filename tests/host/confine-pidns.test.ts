/**
 * A confined native plugin's processes end with it, held by the kernel: the plugin runs
 * in a PID namespace of its own (src/confine/pidns.c), so a fork chain that hops faster
 * than any scan, or a setsid'd double-forked daemon, cannot outlive the run and plant a
 * `.git` in a writable project after fledge's after-run checks. Real plugins (shell and
 * perl), real processes, /proc searched for anything of the run.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { canRunAsUser } from "../helpers/other-user.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { attackCommand, attackScene, runAttack, spawnAttack, type SceneDir } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const perl = Bun.which("perl", { PATH: "/usr/bin:/bin" });
let scene: SceneDir | undefined;
afterEach(() => {
  scene?.cleanup();
  scene = undefined;
});

// A plugin counting the SIGTERMs it gets. perl runs its handler at once (a shell's trap
// waits for the command it runs, and a second copy arriving meanwhile merges with the
// pending one, hiding a double delivery).
const counter = `exec perl -e '$| = 1; $n = 0; $SIG{TERM} = sub { $n++; print "got-term-$n\\n" }; print "ready\\n"; select(undef, undef, undef, 0.05) for 1 .. 40; exit $n'`;
const LAUNCH = join(import.meta.dir, "..", "..", "src", "confine", "launch.ts");
/** A launch spec (what fledge hands the launcher) for a shell one-liner that may read the system only. */
function spec(script: string): string {
  const fs = [{ path: "/usr", access: "read" }, { path: "/etc", access: "read" }, { path: "/proc/self", access: "read" }, { path: "/dev/null", access: "write" }];
  return JSON.stringify({ argv: ["/bin/sh", "-c", script], env: { PATH: "/usr/bin:/bin" }, cwd: "/", fs, network: false });
}

/** Live (not zombie) processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(n) || Number(n) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${n}/stat`, "latin1");
      if (stat.charAt(stat.lastIndexOf(")") + 2) === "Z") continue;
      if (readFileSync(`/proc/${n}/cmdline`, "latin1").includes(marker)) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Poll until nothing of the run is alive (bounded; returns what is still there). */
async function gone(marker: string, rounds = 100): Promise<number[]> {
  let left = processesWith(marker);
  for (let i = 0; i < rounds && left.length > 0; i++) {
    await Bun.sleep(50);
    left = processesWith(marker);
  }
  return left;
}

/** End whatever a failing test left behind, so it does not plant anything later. */
function killAll(marker: string): void {
  for (let i = 0; i < 50; i++) {
    const left = processesWith(marker);
    if (left.length === 0) return;
    for (const p of left) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

describe.skipIf(!confinable)("a confined plugin's processes end with it (own PID namespace)", () => {
  test.skipIf(perl === null)("a tight fork-hopping chain leaves no process and plants no .git after the run", async () => {
    scene = attackScene("fledge-pidns-chain-");
    const marker = scene.base;
    // Each process forks and exits at once, for 1.5 s; the last one plants a .git.
    const chain = `perl -e '# ${marker}
$t = time + 2; fork and exit while time < $t; mkdir "src/.git"; open F, ">src/.git/HEAD"; print F "ref: refs/heads/evil\\n"; close F'`;
    try {
      const r = await runAttack(scene, `${chain} &\necho started`, { filesystem: "project" });
      expect(r.stdout).toContain("started");
      expect(r.code).toBe(0);
      expect(await gone(marker, 20)).toEqual([]);
      await Bun.sleep(3000); // past the chain's planting time
      expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
    } finally {
      killAll(marker);
    }
  }, 30_000);

  // A process whose main thread has exited shows as a zombie while its other threads
  // run on: a scan that skips zombies never sees it. The namespace holds it all the same.
  const sysExit = process.arch === "arm64" ? 93 : 60;
  test.skipIf(perl === null)("a process hiding as a zombie (main thread gone, a thread still running) plants nothing after the run", async () => {
    scene = attackScene("fledge-pidns-zombie-");
    const hide = `perl -Mthreads -e 'threads->create(sub { sleep 2; mkdir("src/.git") and print STDERR "planted\\n"; })->detach; syscall(${sysExit}, 0);' &
sleep 0.5
echo started`;
    const r = await runAttack(scene, hide, { filesystem: "project" });
    expect(r.stdout).toBe("started\n");
    await Bun.sleep(3000);
    expect(r.stderr).not.toContain("planted");
    expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
  }, 30_000);

  test("a shell chain of subshells that fork and exit leaves nothing behind", async () => {
    scene = attackScene("fledge-pidns-shchain-");
    const marker = scene.base;
    const script = `hop() { if [ "$1" -ge 300 ]; then mkdir src/.git; echo evil > src/.git/HEAD; exit; fi; hop $(( $1 + 1 )) & exit; }
(hop 0) &
echo started`;
    try {
      // The plugin may create it while it runs (fledge moves it aside after the run).
      expect((await runAttack(scene, "mkdir src/.git && echo made", { filesystem: "project" })).stdout).toBe("made\n");
      const r = await runAttack(scene, script, { filesystem: "project" });
      expect(r.stdout).toContain("started");
      expect(await gone(marker, 20)).toEqual([]);
      await Bun.sleep(1500);
      expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
    } finally {
      killAll(marker);
    }
  }, 30_000);

  test("a daemon made with setsid and a double fork dies with the run", async () => {
    scene = attackScene("fledge-pidns-daemon-");
    const marker = scene.base;
    const script = `setsid sh -c '(sleep 1; mkdir src/.git; echo evil > src/.git/HEAD) & exit' </dev/null >/dev/null 2>&1 &
sleep 0.2
echo started`;
    try {
      // The plugin may create it while it runs (fledge moves it aside after the run).
      expect((await runAttack(scene, "mkdir src/.git && echo made", { filesystem: "project" })).stdout).toBe("made\n");
      const r = await runAttack(scene, script, { filesystem: "project" });
      expect(r.stdout).toContain("started");
      expect(await gone(marker, 20)).toEqual([]);
      await Bun.sleep(1500);
      expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
    } finally {
      killAll(marker);
    }
  }, 30_000);

  test("kill -9 of fledge during a run ends the plugin and everything it started", async () => {
    scene = attackScene("fledge-pidns-kill9-");
    const marker = scene.base;
    const ready = join(scene.project, "src", "ready");
    // A duration no other process on the machine uses: the sleeps' own marker.
    const secs = `300.${process.pid}${Math.floor(Math.random() * 1e6)}`;
    const script = `sleep ${secs} &
setsid sh -c 'sleep ${secs}' </dev/null >/dev/null 2>&1 &
touch ${ready}
sleep ${secs}`;
    const p = spawnAttack(scene, script, { filesystem: "project" });
    try {
      for (let i = 0; i < 200 && !existsSync(ready); i++) await Bun.sleep(50);
      expect(existsSync(ready)).toBe(true);
      expect(processesWith(marker).length).toBeGreaterThan(0);
      p.kill("SIGKILL");
      await p.exited;
      expect(await gone(marker)).toEqual([]);
      // The sleeps carry no marker on their command line: none of the run's is left either.
      expect(await gone(`sleep\u0000${secs}`)).toEqual([]);
    } finally {
      killAll(marker);
    }
  }, 30_000);

  test("the plugin sees itself as a namespace's process; exit codes and signal deaths are reported as unconfined", async () => {
    scene = attackScene("fledge-pidns-status-");
    const s = scene;
    const confined = await runAttack(s, "echo pid=$$; exit 3");
    expect(confined.stdout).toContain("pid=2\n");
    expect(confined.code).toBe(3);
    for (const sig of ["TERM", "KILL", "INT"]) {
      const script = `kill -${sig} $$; sleep 5`;
      const a = await runAttack(s, script);
      const b = await runAttack(s, script, { confinement: { unconfined: true } });
      expect({ code: a.code, stderr: a.stderr.replace(/.*unconfined.*\n/g, "") }).toEqual({ code: b.code, stderr: b.stderr.replace(/.*unconfined.*\n/g, "") });
    }
  }, 60_000);

  test.skipIf(perl === null)("a signal a process sends the launcher reaches the plugin, once", async () => {
    const p = Bun.spawn([process.execPath, LAUNCH], { cwd: "/", env: { FLEDGE_CONFINE_SPEC: spec(counter) }, stdout: "pipe", stderr: "inherit" });
    const reader = p.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("ready\n");
    p.kill("SIGTERM");
    let rest = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    expect(rest).toBe("got-term-1\n");
    expect(await p.exited).toBe(1);
  }, 30_000);

  test.skipIf(perl === null)("a signal sent to the launcher's whole process group reaches the plugin once", async () => {
    const p = Bun.spawn([process.execPath, LAUNCH], { cwd: "/", detached: true, env: { FLEDGE_CONFINE_SPEC: spec(counter) }, stdout: "pipe", stderr: "inherit" });
    const reader = p.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("ready\n");
    process.kill(-p.pid, "SIGTERM");
    let rest = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    expect(rest).toBe("got-term-1\n");
    expect(await p.exited).toBe(1);
  }, 30_000);

  test.skipIf(perl === null || SCRIPT === null)("in a real terminal, Ctrl+C reaches the plugin once", async () => {
    scene = attackScene("fledge-pidns-tty-");
    const counter = `exec perl -e '$| = 1; $n = 0; $SIG{INT} = sub { $n++; print "got-int-$n\\n" }; print "ready\\n"; select(undef, undef, undef, 0.05) for 1 .. 30; print "total-$n\\n"; exit 0'`;
    const { argv, cwd, env } = attackCommand(scene, counter);
    const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const r = await answerOnPty(quoted, { env, cwd, question: "ready", answer: "\x03" });
    expect(r.screen).toContain("got-int-1");
    expect(r.screen).toContain("total-1");
    expect(r.screen).not.toContain("got-int-2");
  }, 30_000);

  test.skipIf(!canRunAsUser(65534, "the user-namespace launcher test"))("as a user who is not root, the plugin still gets its own namespace (a user namespace)", () => {
    const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, LAUNCH], { cwd: "/", env: { FLEDGE_CONFINE_SPEC: spec("echo pid=$$; id -u; (sleep 30 &) ; exit 4") } });
    expect(r.stdout.toString()).toBe("pid=2\n65534\n");
    expect(r.exitCode).toBe(4);
  });

  // fledge in a user namespace where no more PID or user namespaces may be made (as on
  // a system with user namespaces turned off): the plugin is confined in process, the
  // reaper ends its leftovers, and the canary says the fallback holds.
  const noNamespaces = ["unshare", "--user", "--map-root-user", "sh", "-c", "echo 0 > /proc/sys/user/max_pid_namespaces && echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"", "sh"];
  const canNest = process.getuid?.() === 0 && Bun.spawnSync([...noNamespaces, "true"], { stderr: "ignore" }).exitCode === 0;
  test.skipIf(!canNest)("without namespaces: confined in process as before, leftovers reaped, the canary says so", async () => {
    scene = attackScene("fledge-pidns-fallback-", "s3cret");
    const marker = scene.base;
    try {
      const r = await runAttack(scene, `echo pid=$$; cat ~/.ssh/id_ed25519; setsid sh -c 'sleep 1; mkdir src/.git' </dev/null >/dev/null 2>&1 & sleep 0.2; exit 3`, { filesystem: "project", wrap: noNamespaces });
      expect(r.code).toBe(3);
      expect(r.stdout).not.toContain("pid=2\n");
      expect(r.stdout).toMatch(/^pid=[0-9]+\n$/);
      expect(r.stderr).toContain("Permission denied");
      expect(r.stderr).not.toContain("s3cret");
      expect(await gone(marker, 20)).toEqual([]);
      await Bun.sleep(1500);
      expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
    } finally {
      killAll(marker);
    }
    const main = join(import.meta.dir, "..", "..", "src", "main.ts");
    const canary = Bun.spawnSync([...noNamespaces, process.execPath, main, "canary", "--native"], { cwd: scene.project, env: { PATH: "/usr/bin:/bin", HOME: scene.home, FLEDGE_CONFIG_DIR: join(scene.home, ".config", "fledge"), NO_COLOR: "1" } });
    const line = canary.stdout.toString().split("\n").find((l) => l.includes("processes end with the plugin"));
    expect(line).toContain("LEAKED");
    expect(line).toContain("fallback: reaper, a fast fork chain can outlive");
  }, 60_000);

  test.skipIf(!canNest || perl === null)("without namespaces: the reaper still ends a process hiding as a zombie", async () => {
    scene = attackScene("fledge-pidns-fallback-zombie-");
    const hide = `perl -Mthreads -e 'threads->create(sub { sleep 2; mkdir("src/.git") and print STDERR "planted\\n"; })->detach; syscall(${sysExit}, 0);' &
sleep 0.5
echo started`;
    const r = await runAttack(scene, hide, { filesystem: "project", wrap: noNamespaces });
    expect(r.stdout).toBe("started\n");
    await Bun.sleep(3000);
    expect(r.stderr).not.toContain("planted");
    expect(existsSync(join(scene.project, "src", ".git"))).toBe(false);
  }, 30_000);
});
