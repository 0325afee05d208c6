/**
 * `fledge canary --native` runs the probes as a confined native plugin: with planted
 * secrets in a temp HOME, the credential reads, the writes that plant code, the
 * sockets and the signals to fledge are BLOCKED; `--native --unconfined` shows them
 * working (today's threat). Never prints what it read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
let dir: { path: string; cleanup: () => void };
let home: string;
beforeAll(() => {
  dir = tempDir("fledge-canary-native-");
  home = join(realpathSync(dir.path), "home");
  for (const d of [".ssh", ".aws", ".config/gh", "work"]) mkdirSync(join(home, d), { recursive: true });
  writeFileSync(join(home, ".ssh", "id_ed25519"), "PLANTED-canary-key\n");
  writeFileSync(join(home, ".aws", "credentials"), "PLANTED-canary-aws\n");
  writeFileSync(join(home, ".config", "gh", "hosts.yml"), "PLANTED-canary-gh\n");
});
afterAll(() => dir.cleanup());

type Row = { id: string; verdict: string };
const canary = (args: string[]) => {
  const r = runFledge(["canary", "--native", "--json", ...args], { env: { HOME: home, GITHUB_TOKEN: "ghp_canarytoken", FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") }, cwd: join(home, "work"), timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).not.toContain("PLANTED");
  expect(r.stdout).not.toContain("ghp_canarytoken");
  const j = JSON.parse(r.stdout) as { mode: string; results: Row[] };
  return { mode: j.mode, verdict: (id: string) => j.results.find((x) => x.id === id)?.verdict };
};

describe.skipIf(!confinable)("fledge canary --native", () => {
  test("confined: secrets, planted code, sockets and signals to fledge are BLOCKED", () => {
    const c = canary([]);
    expect(c.mode).toBe("native-confined");
    for (const id of ["read.ssh_ed25519", "read.aws_credentials", "read.gh_hosts", "list.ssh_dir", "write.bashrc", "write.ssh_authorized_keys", "net.sock_accept", "proc.raise_sigterm", "fd.read_3_1024"]) {
      expect([id, c.verdict(id)]).toEqual([id, "BLOCKED"]);
    }
    expect(c.verdict("env.GITHUB_TOKEN")).toBe("ABSENT"); // not passed to the plugin at all
  }, 90_000);

  test("--unconfined: the same probes work (today's threat)", () => {
    const c = canary(["--unconfined"]);
    expect(c.mode).toBe("native");
    for (const id of ["read.ssh_ed25519", "read.aws_credentials", "read.gh_hosts", "env.GITHUB_TOKEN"]) expect([id, c.verdict(id)]).toEqual([id, "LEAKED"]);
  }, 90_000);
});
