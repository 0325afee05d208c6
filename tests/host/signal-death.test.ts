import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { signalDeathMessage } from "../../src/host/native.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

/** A native plugin killed by a signal (a crash) says which signal, instead of a bare 139. */

const work = tempDir("fledge-signal-");
afterAll(() => work.cleanup());
const HARNESS = join(ROOT, "tests", "fixtures", "host", "run-native.ts");

function plugin(name: string, body: string): string {
  const dir = join(work.path, name);
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, "run");
  writeFileSync(bin, `#!/bin/sh\n${body}\n`);
  chmodSync(bin, 0o755);
  return bin;
}

function run(bin: string, protocol: string | undefined) {
  const cfg = {
    entry: { name: "crashy", dir: join(work.path), version: "1.0.0", protocol, capabilities: NO_CAPABILITIES },
    binaryPath: bin,
    args: [],
    projectRoot: work.path,
    stateFile: join(work.path, "state.json"),
    env: { PATH: "/usr/bin:/bin" },
  };
  const p = Bun.spawnSync([process.execPath, HARNESS, JSON.stringify(cfg)], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  return { code: p.exitCode, stderr: p.stderr.toString() };
}

describe("a native plugin killed by a signal", () => {
  for (const protocol of [undefined, "fledge-v1"]) {
    test(`SIGSEGV (${protocol ?? "legacy"}): exit 139 and a message naming the signal`, () => {
      const r = run(plugin(`segv-${protocol ?? "legacy"}`, "kill -SEGV $$"), protocol);
      expect(r.code).toBe(139);
      expect(r.stderr).toContain("plugin 'crashy' was killed by a segmentation fault");
      expect(r.stderr).toContain("(exit 139)");
    });
  }

  test("an ordinary exit code, or a Ctrl+C, gets no such message", () => {
    const r = run(plugin("exit3", "exit 3"), undefined);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain("was killed");
    expect(signalDeathMessage("p", "SIGINT")).toBeUndefined();
    expect(signalDeathMessage("p", "SIGTERM", true)).toBeUndefined();
    expect(signalDeathMessage("p", "SIGABRT")).toContain("abort");
    expect(signalDeathMessage("p", null)).toBeUndefined();
  });
});
