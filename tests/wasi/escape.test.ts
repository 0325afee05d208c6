/**
 * A zero-capability guest must reach nothing (the A rows), and path resolution under
 * a granted preopen keeps it inside (the B rows), black-box through `fledge wasm run` with our
 * own guest tests/fixtures/wasi/escape.c.
 *
 * Every row checks two things: the errno the guest saw (the guest prints ok/FAIL per
 * case) and that nothing outside the grant was read or changed on the host. For the
 * latter the whole temp tree (a fake HOME full of canary secrets, the project dir
 * around the preopen, an "outside" dir) is snapshotted before and after, and no
 * canary may appear in fledge's stdout/stderr. fledge itself runs with secret-looking
 * variables in its environment; the guest must see none of them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import {
  caseReport,
  diffSnapshots,
  fledgeCommand,
  guest,
  isFledgeOwnCache,
  layoutEscape,
  leakedCanaries,
  parseGuest,
  QUIET_BUN,
  releaseGuests,
  runGuest,
  SECRET_ENV,
  snapshot,
  wasmRunArgs,
  type Entry,
  type GuestRun,
} from "../fixtures/wasi/support.ts";

const WASM = guest("escape.wasm");

let tmp: { path: string; cleanup: () => void };
let T: string; // realpath of the temp root (so /tmp symlinks cannot confuse the checks)
let L: ReturnType<typeof layoutEscape>;
let canaries: string[];
const tmpCanary = `fledge-escape-canary-${randomBytes(6).toString("hex")}`;

function fledgeEnv(): Record<string, string> {
  return {
    ...SECRET_ENV,
    ...QUIET_BUN,
    HOME: L.home,
    FLEDGE_CONFIG_DIR: join(L.home, ".config", "fledge"),
    XDG_CONFIG_HOME: join(L.home, ".config"),
  };
}

/** The host-side invariants shared by every row of a run. */
function noHostDamage(run: GuestRun, before: Map<string, Entry>, allowInside: (rel: string) => boolean): void {
  expect(leakedCanaries(run.stdout + run.stderr, canaries)).toEqual([]);
  // fledge's own prepared-module cache and key under the fake config folder are fledge's doing, not the guest's.
  expect(diffSnapshots(before, snapshot(T), (rel) => allowInside(rel) || isFledgeOwnCache(rel, "home/.config/fledge"))).toEqual([]);
  expect(existsSync(`/tmp/${tmpCanary}`)).toBe(false);
  expect(existsSync("/tmp/created_abs")).toBe(false);
}

beforeAll(() => {
  tmp = tempDir("fledge-wasi-escape-");
  T = realpathSync(tmp.path);
  L = layoutEscape(T);
  canaries = L.canaries;
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

// ------------------------------------------------------------------ A

describe("A: a zero-capability guest reaches nothing", () => {
  let run: GuestRun;
  let before: Map<string, Entry>;
  beforeAll(() => {
    before = snapshot(T);
    // cwd is the fake HOME: relative paths would land on the secrets if the host
    // ever resolved them against the process cwd.
    run = runGuest(WASM, {
      args: ["a*", "--", T, tmpCanary],
      cwd: L.home,
      fledgeEnv: fledgeEnv(),
    });
  });
  const row = (id: string, title: string, c: string) =>
    test(`${id} ${title}`, () => {
      expect(caseReport(run, c)).toBe("ok");
      noHostDamage(run, before, () => false);
    });

  test("the guest ran every A case and exited 0", () => {
    expect(run.done, caseReport(run, "done")).toBe(true);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });
  row("A.1", "environment: no variables at all, none of fledge's secrets", "a1:env");
  test("A.1 none of the secret values or names reach the guest's output", () => {
    for (const [k, v] of Object.entries(SECRET_ENV)) {
      expect(run.stdout).not.toContain(v);
      expect(run.stdout).not.toContain(`${k}=`);
    }
  });
  row("A.2", "reads of /etc, ~/.ssh, ~/.aws, ~/.netrc, fledge config, shell history are refused", "a2:reads");
  row("A.3", "traversal (../../../etc/passwd, ../../.ssh/id_ed25519) with no preopen is refused", "a3:traversal");
  row("A.4", "listing /, /tmp, /home, /root, /etc is refused", "a4:listing");
  row("A.5", "writes to /tmp/x, ./x, .git/hooks/pre-commit, shell rc files, LaunchAgents are refused", "a5:writes");
  row("A.6", "every sock_* on every fd 0..1024 fails (EBADF/ENOTSOCK)", "a6:network");
  row("A.7", "proc_raise of every signal is ENOTSUP and never signals fledge", "a7:proc_raise");
  test("A.7 fledge survived proc_raise(SIGKILL/SIGSTOP/SIGTERM...) and reported the guest's own exit", () => {
    expect(run.infos).toContain("still-alive-after-proc_raise");
    expect(run.code).toBe(0);
  });
  row("A.8", "fd guessing on 3..1024 (read/write/prestat/filestat/fdstat) is EBADF", "a8:fd_guessing");

  test("A.6 a module importing a socket-creating function does not run at all", () => {
    // Preview1 has no socket creation; a module that imports one (wasmtime's old
    // sock_open, or sock_connect) must fail to link, before any of its code runs.
    const r = runGuest(guest("netconnect.wasm"), { cwd: L.home, fledgeEnv: fledgeEnv() });
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain("connected");
    expect(r.stderr).toMatch(/sock_connect|sock_open|link|import/i);
  });
});

// ------------------------------------------------------------------ B

describe("B: path resolution under a granted preopen", () => {
  let run: GuestRun;
  let before: Map<string, Entry>;
  // Inside the preopen the guest may create and remove its own test files; every
  // change must stay under work/sandbox/.
  const inside = (rel: string) => rel === "work/sandbox" || rel.startsWith("work/sandbox/");
  beforeAll(() => {
    before = snapshot(T);
    run = runGuest(WASM, {
      dirs: [`${L.sandbox}::/sandbox`],
      args: ["b*", "--", T, tmpCanary],
      cwd: L.work,
      fledgeEnv: fledgeEnv(),
    });
  });
  const row = (id: string, title: string, cases: string[]) =>
    test(`${id} ${title}`, () => {
      for (const c of cases) expect(caseReport(run, c)).toBe("ok");
      noHostDamage(run, before, inside);
    });

  test("the guest ran every B case", () => {
    expect(run.done, caseReport(run, "done")).toBe(true);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });
  row("A.2-A.5", "from inside a preopen: HOME secrets, git hooks, shell rc files and parent listings are unreachable", ["b0:home_via_preopen"]);
  row("B.1", "'..', '../x', './..', 'a/../../x', and leave-and-re-enter paths are ENOTCAPABLE for every path_* call", ["b1:dotdot"]);
  row("B.1", "the preopen root itself cannot be removed, renamed, replaced or unlinked", ["b1:root_ops"]);
  row("B.1", "a directory fd opened inside the preopen is its own capability: '..' cannot climb above it", ["b1:subdir_fd"]);
  row("B.2", "absolute paths (/etc/passwd, /, //etc, /sandbox/..., the preopen's own host path)", ["b2:absolute"]);
  row("B.3", "an empty path is ENOENT for path_open/filestat/mkdir/unlink/rmdir", ["b3:empty"]);
  row("B.3", "NUL bytes in paths are refused and never truncate the name", ["b3:nul"]);
  row("B.3", "invalid UTF-8 (bad bytes, overlong '/', surrogates) is refused, never mapped to U+FFFD or '/'", ["b3:utf8"]);
  row("B.3", "paths over 4096 bytes, 7000 '../' components and 300-byte components are bounded and refused", ["b3:long"]);
  row("B.3", "path pointers and lengths outside guest memory (incl. 0xffffffff) are EFAULT", ["b3:pointers"]);
  row("B.4", "planted absolute symlinks (/etc/passwd, the outside secret's host path): follow refused, no-follow ELOOP/lstat", ["b4:planted_absolute"]);
  row("B.4", "planted relative escapes: ../outside/secret.txt, a/b/e -> ../../.. (a/b/d -> ../.. stays inside)", ["b4:planted_relative"]);
  row("B.4", "a symlink in the middle of a path: d -> /etc then d/passwd, d -> .. then d/outside/...", ["b4:intermediate"]);
  row("B.4", "the chain L1 -> . and up -> L1/.. then up/... (escapes lexical checkers)", ["b4:chain"]);
  row("B.4", "'..' after a symlink is physical: link/../x is the parent of the link's target", ["b4:physical_dotdot"]);
  row("B.4", "guest-made symlinks: absolute targets refused at creation, ../../x refused when followed", ["b4:guest_created"]);
  row("B.4", "loops and chains: link -> link, a -> b -> a, 41 hops are ELOOP; 40 hops still resolve", ["b4:loops"]);
  row("B.4", "symlink targets ending in '/', '/.', '/..'", ["b4:trailing_targets"]);
  row("B.5", "dangling links pointing outside: O_CREAT, O_TRUNC, mkdir, link, symlink, set_times and rename create nothing outside", ["b5:dangling"]);
  row("B.5", "O_CREAT|O_EXCL on any symlink (dangling, looping, escaping, to a dir) is EEXIST", ["b5:excl"]);
  row("B.5", "opening a final symlink without the follow flag is ELOOP; lstat sees the link", ["b5:nofollow"]);
  row("B.6", "trailing slashes on files, dirs, symlinks and dangling links", ["b6:trailing"]);

  test("B.* the outside targets of every attack are untouched", () => {
    expect(readFileSync(join(L.outside, "secret.txt"), "utf8")).toStartWith("CANARY-outside-secret-");
    for (const name of ["created_rel", "created_rel2", "created_abs", "created_dotdot", "created_abs2", "created_via_e", "created_via_dup", "created_via_up", "created_via_gupc", "created_via_slash", "stolen"])
      expect(existsSync(join(L.outside, name))).toBe(false);
    expect(existsSync(join(L.work, "created_dotdot"))).toBe(false);
    expect(existsSync(join(L.work, "stolen"))).toBe(false);
    expect(existsSync(join(L.work, "moved_root"))).toBe(false);
    expect(existsSync(join(L.sandbox, "subdir_escape"))).toBe(false);
    // The preopen's own fixtures survived the attacks aimed at them from outside.
    expect(readFileSync(join(L.sandbox, "file.txt"), "utf8")).toBe("inside");
    expect(readFileSync(join(L.sandbox, "reenter.txt"), "utf8")).toBe("reenter");
    expect(readlinkSync(join(L.sandbox, "rel_secret"))).toBe("../outside/secret.txt");
  });

  test("B.4 a symlink with an absolute target was never created by the guest", () => {
    expect(lstatExists(join(L.sandbox, "g_abs"))).toBe(false);
    expect(lstatExists(join(L.sandbox, "g_abs2"))).toBe(false);
  });

  test("B.3 no file was created from a name with a NUL byte or invalid UTF-8", () => {
    expect(lstatExists(join(L.sandbox, "created"))).toBe(false);
    const names = [...snapshot(L.sandbox).keys()];
    expect(names.filter((n) => n.includes("\uFFFD"))).toEqual([]);
  });
});

describe("B.7: entries swapped on the host while the guest resolves through them", () => {
  test("a directory flipping with a symlink to outside never lets a read or a create through", async () => {
    const t = tempDir("fledge-wasi-race-");
    try {
      const root = realpathSync(t.path);
      const L3 = layoutEscape(root);
      // flipA: a real directory inside; flipB: a symlink to ../outside. "flip" is
      // renamed between them continuously by a separate process.
      mkdirSync(join(L3.sandbox, "flipA"));
      writeFileSync(join(L3.sandbox, "flipA", "secret.txt"), "flip-inside");
      symlinkSync("../outside", join(L3.sandbox, "flipB"));
      const before = snapshot(L3.outside);
      const stop = join(root, "stop");
      const flipper = Bun.spawn(
        [
          process.execPath,
          "-e",
          `const fs = require("node:fs"); const [a, b, f, stop] = process.argv.slice(1);
           for (let i = 0; !(i % 64 === 0 && fs.existsSync(stop)); i++) {
             try { fs.renameSync(a, f); fs.renameSync(f, a); fs.renameSync(b, f); fs.renameSync(f, b); } catch {}
           }`,
          join(L3.sandbox, "flipA"),
          join(L3.sandbox, "flipB"),
          join(L3.sandbox, "flip"),
          stop,
        ],
        { stdout: "ignore", stderr: "inherit", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...QUIET_BUN } },
      );
      const proc = Bun.spawn([...fledgeCommand(), ...wasmRunArgs(WASM, { dirs: [`${L3.sandbox}::/sandbox`], args: ["b7:race", "--", root, tmpCanary] })], {
        cwd: L3.work,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...SECRET_ENV, ...QUIET_BUN, HOME: L3.home },
        stdout: "pipe",
        stderr: "pipe",
      });
      const timer = setTimeout(() => proc.kill(), 60_000);
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      await proc.exited;
      clearTimeout(timer);
      writeFileSync(stop, "");
      await flipper.exited;

      const run = parseGuest({ code: proc.exitCode ?? -1, stdout, stderr });
      expect(caseReport(run, "b7:race")).toBe("ok");
      expect(leakedCanaries(stdout + stderr, L3.canaries)).toEqual([]);
      expect(diffSnapshots(before, snapshot(L3.outside))).toEqual([]);
      // The race was really run: some opens went through the real directory.
      const info = run.infos.find((l) => l.startsWith("race "));
      expect(info, stdout + stderr).toBeDefined();
    } finally {
      t.cleanup();
    }
  }, 90_000);
});

describe("B.4: a preopen granted through a symlinked host path (like macOS /tmp)", () => {
  test("the preopen is the link's target, and '..' / symlink escapes are still refused", () => {
    const t = tempDir("fledge-wasi-linkroot-");
    try {
      const root = realpathSync(t.path);
      const L2 = layoutEscape(root);
      const viaLink = join(root, "work", "sandbox-link");
      symlinkSync(L2.sandbox, viaLink);
      const before = snapshot(root);
      const r = runGuest(WASM, {
        dirs: [`${viaLink}::/sandbox`],
        args: ["b1:dotdot", "b4:chain", "b4:intermediate", "b4:physical_dotdot", "--", root, tmpCanary],
        cwd: L2.work,
        fledgeEnv: { ...SECRET_ENV, ...QUIET_BUN, HOME: L2.home },
      });
      expect(r.done, caseReport(r, "done")).toBe(true);
      for (const c of ["b1:dotdot", "b4:chain", "b4:intermediate", "b4:physical_dotdot"]) expect(caseReport(r, c)).toBe("ok");
      expect(leakedCanaries(r.stdout + r.stderr, L2.canaries)).toEqual([]);
      // Only the guest's own scratch file inside the real sandbox may appear.
      expect(diffSnapshots(before, snapshot(root), (rel) => rel === "work/sandbox/victim.txt" || isFledgeOwnCache(rel, "home/.config/fledge"))).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ B.7

describe("B.7: the preopen's directory is renamed on the host while the guest holds it", () => {
  test("writes after the swap land in the held directory (or fail); never in the directory swapped in", async () => {
    const t = tempDir("fledge-wasi-b7-");
    try {
      const root = realpathSync(t.path);
      const L7 = layoutEscape(root);
      const before = snapshot(L7.outside);
      const proc = Bun.spawn([...fledgeCommand(), ...wasmRunArgs(WASM, { dirs: [`${L7.sandbox}::/sandbox`], args: ["b7", "--", root, tmpCanary] })], {
        cwd: L7.work,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...SECRET_ENV, ...QUIET_BUN, HOME: L7.home },
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      });
      // The guest creates "ready" in the preopen, then blocks reading stdin.
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(L7.sandbox, "ready")) && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(20);
      expect(existsSync(join(L7.sandbox, "ready"))).toBe(true);
      // Swap: the granted directory moves away and a symlink to "outside" takes its name.
      const moved = join(L7.work, "sandbox-moved");
      renameSync(L7.sandbox, moved);
      symlinkSync(L7.outside, L7.sandbox);
      proc.stdin.write("go\n");
      await proc.stdin.end();
      const timer = setTimeout(() => proc.kill(), 30_000);
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      await proc.exited;
      clearTimeout(timer);

      // Nothing landed in (or was read from) the directory swapped in under the old name.
      expect(diffSnapshots(before, snapshot(L7.outside))).toEqual([]);
      expect(leakedCanaries(stdout + stderr, L7.canaries)).toEqual([]);
      const write = /info b7-write (\d+)/.exec(stdout);
      expect(write, stdout + stderr).not.toBeNull();
      if (write![1] === "0") expect(readFileSync(join(moved, "after.txt"), "utf8")).toBe("written after the rename");
      else expect(existsSync(join(moved, "after.txt"))).toBe(false);
      const read = /info b7-read (\d+) ?(.*)/.exec(stdout);
      expect(read, stdout).not.toBeNull();
      if (read![1] === "0") expect(read![2]).toBe("inside");
      expect(proc.exitCode, stderr).toBe(0);
    } finally {
      t.cleanup();
    }
  });
});
