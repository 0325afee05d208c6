/**
 * Conformance gaps found by running Node's WASI C tests and wasi-libc's tests against
 * fledge (issue 10 item 10), checked by our own guest (tests/fixtures/wasi/gaps.c):
 *
 * - poll_oneoff reports a hang-up on stdin at end of input (an empty closed pipe, a
 *   pipe whose data has been read, /dev/null, a plugin's empty stdin), and not while
 *   data still waits; a regular file at end of file is a hang-up too (as wasmtime).
 * - fd_advise on a directory or stdio is EBADF (wasi-libc's fadvise test, wasmtime).
 * - fd_fdstat_set_flags on stdio or a directory is EBADF, as in wasmtime: a guest
 *   cannot make fledge's own stdout O_NONBLOCK (or O_APPEND); files still toggle both.
 * - Where Node's tests and wasmtime disagree, fledge follows wasmtime and the official
 *   WASI test suite: fd_readdir lists "." and ".." (Node's readdir.c expects them
 *   absent) and sock_accept on a non-socket is ENOTSOCK (Node's sock.c expects ENOTSUP).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/cli.ts";
import { caseReport, fledgeCommand, guest, parseGuest, releaseGuests, runGuest, wasmRunArgs, type GuestRun } from "../fixtures/wasi/support.ts";
import { stdinReadiness } from "../../src/wasi/readiness.ts";

let tmp: ReturnType<typeof tempDir>;
let sandbox: string;
beforeAll(() => {
  tmp = tempDir("fledge-gaps-");
  sandbox = join(tmp.path, "sb");
  mkdirSync(join(sandbox, "sub"), { recursive: true });
  writeFileSync(join(sandbox, "five.txt"), "12345");
});
afterAll(() => {
  tmp.cleanup();
  releaseGuests();
});

function run(cases: string[], stdin?: string) {
  return runGuest(guest("gaps.wasm"), {
    dirs: [`${sandbox}::/sandbox`],
    args: cases,
    ...(stdin === undefined ? {} : { stdin }),
    fledgeEnv: { HOME: tmp.path, FLEDGE_CONFIG_DIR: join(tmp.path, "cfg") },
  });
}

const fledgeEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp.path, FLEDGE_CONFIG_DIR: join(tmp.path, "cfg"), NO_COLOR: "1" });
const argv = (cases: string[]) => [...fledgeCommand(), ...wasmRunArgs(guest("gaps.wasm"), { dirs: [`${sandbox}::/sandbox`], args: cases })];
const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;

/** stdin a real pipe (the shell's `|`) carrying `data`, its writer closed after it. */
function runPipe(cases: string[], data: string): GuestRun {
  const p = Bun.spawnSync(["sh", "-c", `printf '%s' ${quote(data)} | exec ${argv(cases).map(quote).join(" ")}`], { env: fledgeEnv(), stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  return parseGuest({ code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() });
}

/** stdin a socket (Bun's "pipe"), `data` written and the socket closed. */
async function runSocket(cases: string[], data: string): Promise<GuestRun> {
  const p = Bun.spawn(argv(cases), { env: fledgeEnv(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  p.stdin.write(data);
  await p.stdin.end();
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return parseGuest({ code: await p.exited, stdout, stderr });
}

describe("stdin at end of input is a hang-up", () => {
  test("an empty pipe whose writer closed: POLLIN|POLLHUP, and the read returns 0", () => {
    expect(caseReport(runPipe(["stdin:eof"], ""), "stdin:eof")).toBe("ok");
  });
  test("a pipe with data: readable, not hung up, nbytes counts it; after reading it all, hung up", () => {
    expect(caseReport(runPipe(["stdin:data"], "abc"), "stdin:data")).toBe("ok");
  });
  test("the same over a socket (Bun's own stdin pipes are socketpairs)", async () => {
    expect(caseReport(await runSocket(["stdin:eof"], ""), "stdin:eof")).toBe("ok");
    expect(caseReport(await runSocket(["stdin:data"], "abc"), "stdin:data")).toBe("ok");
  });
  test("a regular file as stdin (`< file`): bytes left, then hung up at its end", () => {
    expect(caseReport(run(["stdin:data"], "abc"), "stdin:data")).toBe("ok"); // Bun passes the bytes as a memfd
  });
  test("/dev/null is at end of input", () => {
    expect(caseReport(run(["stdin:devnull"]), "stdin:devnull")).toBe("ok"); // runFledge's default stdin is /dev/null
  });
  test("in process: a plugin's empty stdin (no host fd), /dev/null, a file before and after reading it", () => {
    expect(stdinReadiness(undefined)).toEqual({ nbytes: 0n, hangup: true });
    const fd = openSync("/dev/null", "r");
    try {
      expect(stdinReadiness(fd).hangup).toBe(true);
    } finally {
      closeSync(fd);
    }
    const f = openSync(join(sandbox, "five.txt"), "r");
    try {
      expect(stdinReadiness(f)).toEqual({ nbytes: 5n, hangup: false });
      readSync(f, Buffer.alloc(8), 0, 8, null);
      expect(stdinReadiness(f)).toEqual({ nbytes: 0n, hangup: true });
    } finally {
      closeSync(f);
    }
  });
});

describe("other fds", () => {
  const cases = ["poll:stdout", "poll:file", "advise", "setflags:stdio", "setflags:dir", "setflags:file", "readdir:dots", "sock:notsock"];
  let r: ReturnType<typeof run>;
  beforeAll(() => {
    r = run(cases);
  });
  test("the guest ran them all", () => {
    expect(r.done, r.stderr).toBe(true);
  });
  test("poll: stdout/stderr writable, entries past nfds untouched; a file at end of file is hung up (wasmtime)", () => {
    expect(caseReport(r, "poll:stdout")).toBe("ok");
    expect(caseReport(r, "poll:file")).toBe("ok");
  });
  test("fd_advise: EBADF on a directory, the preopen and stdio; every advice on a file", () => {
    expect(caseReport(r, "advise")).toBe("ok");
  });
  test("fd_fdstat_set_flags: stdio and directories are EBADF (no O_NONBLOCK on fledge's stdout); files toggle NONBLOCK and APPEND", () => {
    expect(caseReport(r, "setflags:stdio")).toBe("ok");
    expect(caseReport(r, "setflags:dir")).toBe("ok");
    expect(caseReport(r, "setflags:file")).toBe("ok");
    // The refused flags left stdout usable.
    expect(r.stdout).toContain("stdout still works\n");
  });
  test("fd_readdir lists . and .. first (wasmtime; Node's readdir.c expects them absent)", () => {
    expect(caseReport(r, "readdir:dots")).toBe("ok");
  });
  test("sock_accept/sock_shutdown on a non-socket: ENOTSOCK (wasmtime; Node's sock.c expects ENOTSUP)", () => {
    expect(caseReport(r, "sock:notsock")).toBe("ok");
  });
});
