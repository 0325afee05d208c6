import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROBES } from "../../src/canary/index.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";

// The tests start fledge as a child process: seconds under load.
setDefaultTimeout(60_000);

const home = tempDir("fledge-canary-home-");
const SECRET_FILE = "ssh-key-CANARY-CONTENT-7f3a";
const SECRET_ENV = "ghp_CANARY_TOKEN_VALUE_91c2";
mkdirSync(join(home.path, ".ssh"), { recursive: true });
writeFileSync(join(home.path, ".ssh", "id_ed25519"), SECRET_FILE);
mkdirSync(join(home.path, ".aws"), { recursive: true });
writeFileSync(join(home.path, ".aws", "credentials"), SECRET_FILE);
const env = { HOME: home.path, GITHUB_TOKEN: SECRET_ENV, OPENAI_API_KEY: SECRET_ENV, FLEDGE_CONFIG_DIR: join(home.path, "cfg") };

afterAll(() => home.cleanup());

describe("fledge canary", () => {
  const r = runFledge(["canary"], { env, cwd: home.path });

  test("every probe is blocked and the summary line says so; exit 0", () => {
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${PROBES.length} tests: ${PROBES.length} blocked, 0 leaked\n`);
    expect(r.stdout).not.toContain("LEAKED");
    expect(PROBES.length).toBeGreaterThanOrEqual(50);
  });

  test("covers every class of escape a zero-capability guest could try", () => {
    for (const prefix of ["env.", "read.", "traverse.", "list.", "write.", "net.", "proc.", "fd."]) {
      expect(PROBES.some((p) => p.id.startsWith(prefix))).toBe(true);
    }
  });

  test("the canary wasm prints exactly the probe ids the native list has", () => {
    const j = runFledge(["canary", "--json"], { env, cwd: home.path });
    expect(j.code).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out).toMatchObject({ schema_version: 1, mode: "sandboxed", tests: PROBES.length, blocked: PROBES.length, leaked: 0 });
    expect(out.results.map((x: { id: string }) => x.id)).toEqual(PROBES.map((p) => p.id));
  });

  test("nothing was written outside: no probe file in cwd or HOME", () => {
    expect(() => readFileSync(join(home.path, "fledge-canary-probe"))).toThrow();
  });

  test("the sandboxed canary is the one embedded from src/canary/canary.c", () => {
    expect(readFileSync(join(ROOT, "src", "canary", "canary.c"), "utf8")).toContain("probe_env_count");
  });
});

// --native alone runs the probes confined where the kernel can (tests/host/confine-canary.test.ts);
// --unconfined shows today's threat.
describe("fledge canary --native --unconfined", () => {
  const r = runFledge(["canary", "--native", "--unconfined"], { env, cwd: home.path });

  test("shows the threat is real: the planted key, the token and /etc/passwd are reachable natively", () => {
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/LEAKED\s+read \$GITHUB_TOKEN/);
    expect(r.stdout).toMatch(/LEAKED\s+read your SSH key ~\/\.ssh\/id_ed25519/);
    expect(r.stdout).toMatch(/LEAKED\s+read AWS credentials/);
  });

  test("never prints secret contents or values", () => {
    expect(r.stdout + r.stderr).not.toContain(SECRET_FILE);
    expect(r.stdout + r.stderr).not.toContain(SECRET_ENV);
  });

  test("checks writability without writing into sensitive places", () => {
    expect(() => readFileSync(join(home.path, ".bashrc"))).toThrow();
    expect(() => readFileSync(join(home.path, ".ssh", "authorized_keys"))).toThrow();
  });
});
