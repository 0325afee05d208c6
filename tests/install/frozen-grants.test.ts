/**
 * Grants are frozen at consent. The attack: the prompt said "capabilities: none", the
 * build hook rewrote plugin.toml, and the registry recorded exec and network for an
 * unverified source. Every hook that runs after consent (build, post_install) tries to
 * change each part consent covers; each attempt refuses the install and leaves nothing.
 * The tier rule is also checked where the grant is recorded (enforceGrant).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { enforceGrant } from "../../src/trust/index.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
let work: string;
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
  work = join(sb.root, "work");
  mkdirSync(work, { recursive: true });
});
afterEach(() => sb.cleanup());

const env = (): Record<string, string> => ({ ...sb.env, FLEDGE_GITHUB_API_URL: gh.url });

/** Shell edits a hook makes to plugin.toml (run as `sh edit.sh`, no shell needed by fledge). */
const EDITS: Record<string, string> = {
  "capabilities (exec + network)": `printf '\\n[capabilities]\\nexec = true\\nnetwork = true\\n' >> plugin.toml`,
  "capabilities (store)": `printf '\\n[capabilities]\\nstore = true\\n' >> plugin.toml`,
  "hooks (a new post_remove)": `sed -i 's/^\\[hooks\\]/[hooks]\\npost_remove = "sh -c evil"/' plugin.toml`,
  "runtime (wasm to native)": `sed -i 's/runtime = "wasm"/runtime = "native"/' plugin.toml`,
  "commands (another binary)": `cp hello.wasm other.wasm && sed -i 's/binary = "hello.wasm"/binary = "other.wasm"/' plugin.toml`,
  "version": `sed -i 's/version = "1.0.0"/version = "9.9.9"/' plugin.toml`,
};

let n = 0;
function plugin(hook: "build" | "post_install", edit: string): string {
  const dir = join(work, `p${n++}`);
  return wasmPlugin(dir, { name: "frozen", hooks: { [hook]: "sh edit.sh" } }, { "edit.sh": `${edit}\n` });
}

function nothingRecorded(): void {
  expect(readReg(sb.config).plugins).toEqual([]);
  expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
}

describe("a hook that edits plugin.toml after consent is refused", () => {
  for (const hook of ["build", "post_install"] as const) {
    for (const [what, edit] of Object.entries(EDITS)) {
      test(`${hook} hook changes ${what} (local source)`, async () => {
        const r = await runFledgeAsync(["plugins", "install", plugin(hook, edit), "--copy", "--yes", "--trust-native", "--json"], { env: env() });
        expect(r.code).toBe(1);
        const err = JSON.parse(r.stdout).error;
        expect(["manifest_changed", "runtime_changed"]).toContain(err.code);
        expect(err.message).toMatch(/changed plugin\.toml after you approved it|approved as wasm/);
        nothingRecorded();
      });
    }
  }

  test("unverified GitHub source: the build hook adds exec and network → refused, nothing recorded", async () => {
    gh.addRepo("stranger/frozen", { dir: plugin("build", EDITS["capabilities (exec + network)"]!) });
    const r = await runFledgeAsync(["plugins", "install", "stranger/frozen", "--yes", "--json"], { env: env() });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout).error;
    expect(err.code).toBe("manifest_changed");
    expect(err.message).toContain("changed: capabilities");
    nothingRecorded();
  });

  test("update: a new version whose build hook adds capabilities is refused; the old version and grant stay", async () => {
    gh.addRepo("acme/frozen", { dir: wasmPlugin(join(work, "v1"), { name: "frozen", version: "1.0.0" }) });
    const first = await runFledgeAsync(["plugins", "install", "acme/frozen"], { env: env() });
    expect(first.code).toBe(0);
    const before = readFileSync(join(sb.config, "plugins.toml"), "utf8");
    gh.addCommit("acme/frozen", { dir: wasmPlugin(join(work, "v2"), { name: "frozen", version: "2.0.0", hooks: { build: "sh edit.sh" } }, { "edit.sh": `${EDITS["capabilities (store)"]}\n` }) });
    const r = await runFledgeAsync(["plugins", "update", "frozen", "--yes", "--json"], { env: env() });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "failed", error_code: "manifest_changed" });
    expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
  });

  test("control: a build hook that leaves plugin.toml alone installs with exactly what was shown", async () => {
    const dir = plugin("build", "echo built > built.txt");
    const r = await runFledgeAsync(["plugins", "install", dir, "--copy", "--yes", "--json"], { env: env() });
    expect(r.code).toBe(0);
    const [entry] = readReg(sb.config).plugins;
    expect(entry?.capabilities).toEqual(NO_CAPABILITIES);
    expect(entry?.runtime).toBe("wasm");
  });
});

describe("enforceGrant: the tier rule where the grant is recorded", () => {
  const caps = { ...NO_CAPABILITIES, exec: true };
  const net = { ...NO_CAPABILITIES, network: true };
  test("unverified never gets exec or network", () => {
    for (const c of [caps, net]) {
      expect(() => enforceGrant({ name: "x", trust_tier: "unverified", runtime: "wasm", capabilities: c })).toThrow(FledgeError);
    }
  });
  test("a missing tier counts as unverified", () => {
    expect(() => enforceGrant({ name: "x", runtime: "wasm", capabilities: caps })).toThrow(/unverified/);
  });
  test("trusted tiers may; an update keeps what was already granted", () => {
    for (const tier of ["local", "official", "team"] as const) enforceGrant({ name: "x", trust_tier: tier, runtime: "wasm", capabilities: caps });
    enforceGrant({ name: "x", trust_tier: "unverified", runtime: "wasm", capabilities: caps }, caps);
    expect(() => enforceGrant({ name: "x", trust_tier: "unverified", runtime: "wasm", capabilities: { ...caps, network: true } }, caps)).toThrow(/network/);
  });
  test("unverified store/filesystem are fine", () => {
    enforceGrant({ name: "x", trust_tier: "unverified", runtime: "wasm", capabilities: { ...NO_CAPABILITIES, store: true, filesystem: "plugin" } });
  });
});
