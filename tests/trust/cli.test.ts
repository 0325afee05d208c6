import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFledgeInProcess, tempDir } from "../helpers/cli.ts";

let empty: { path: string; cleanup: () => void };
let configured: { path: string; cleanup: () => void };

beforeAll(() => {
  empty = tempDir();
  configured = tempDir();
  writeFileSync(join(configured.path, "config.toml"), '[trust]\norgs = ["acme", "corvidlabs"]\nusers = ["Alice"]\n');
});
afterAll(() => {
  empty.cleanup();
  configured.cleanup();
});

function trust(args: string[], configDir: string = empty.path) {
  return runFledgeInProcess(["trust", ...args], { env: { FLEDGE_CONFIG_DIR: configDir } });
}

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("fledge trust: text", () => {
  test("official source: one line with the tier and why", async () => {
    const r = await trust(["CorvidLabs/fledge-plugin-hello"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("official: owner 'CorvidLabs' is on the official list\n");
    expect(r.stderr).toBe("");
  });

  test("unknown owner is unverified and says how to trust it", async () => {
    const r = await trust(["stranger/tool"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("unverified: ");
    expect(r.stdout).toContain("[trust] orgs or users");
  });

  test("local path", async () => {
    const r = await trust(["./my-plugin"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("local: ");
  });

  test("dot-segment source: unverified, and a warning on stderr that install would refuse it", async () => {
    const r = await trust(["CorvidLabs/../attacker/evil"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("unverified: ");
    expect(r.stdout).toContain("'..' segment");
    expect(r.stderr).toContain("install would refuse");
  });

  test("--help shows an example", async () => {
    const r = await runFledgeInProcess(["trust", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Example: fledge trust CorvidLabs/");
  });
});

describe("fledge trust --json", () => {
  test("exact shape for a GitHub source with a ref containing '/'", async () => {
    const r = await trust(["someone/rune@chore/0.2.0-launch-prep", "--json"]);
    expect(r.code).toBe(0);
    expect(json(r.stdout)).toEqual({
      schema_version: 1,
      source: "someone/rune@chore/0.2.0-launch-prep",
      kind: "github",
      base: "someone/rune",
      ref: "chore/0.2.0-launch-prep",
      owner: "someone",
      repo: "rune",
      tier: "unverified",
      reasons: [expect.stringContaining("owner 'someone'")],
    });
  });

  test("ref is null without '@', owner/repo null for local paths", async () => {
    const gh = json((await trust(["--json", "https://github.com/0xLeif/plugin.git"])).stdout);
    expect(gh).toMatchObject({ kind: "github", ref: null, owner: "0xLeif", repo: "plugin", tier: "team" });
    const local = json((await trust(["--json", "local:../x"])).stdout);
    expect(local).toMatchObject({ kind: "local", base: "../x", ref: null, owner: null, repo: null, tier: "local" });
  });

  test("config.toml [trust] orgs and users grant team, never official", async () => {
    expect(json((await trust(["acme/tool", "--json"], configured.path)).stdout)).toMatchObject({ tier: "team", reasons: [expect.stringContaining("[trust] orgs")] });
    expect(json((await trust(["ALICE/tool", "--json"], configured.path)).stdout)).toMatchObject({ tier: "team", reasons: [expect.stringContaining("[trust] users")] });
    const shouty = json((await trust(["CORVIDLABS/tool", "--json"], configured.path)).stdout);
    expect(shouty.tier).toBe("team");
    expect(json((await trust(["acme/tool", "--json"])).stdout).tier).toBe("unverified");
  });

  test("a credential URL's token never appears in stdout or stderr", { timeout: 60_000 }, async () => {
    const token = "ghp_SuperSecretToken1234567890";
    for (const args of [
      [`https://user:${token}@github.com/CorvidLabs/x.git@feature/thing`, "--json"],
      [`https://user:${token}@github.com/CorvidLabs/x.git@feature/thing`],
      [`https://${token}@gitlab.com/g/r.git`],
      [`https://${token}@github.com/CorvidLabs/%2e%2e/evil`],
      [`https://user:${token}@github.com/o/r?t=${token}`, "--json"],
      [`${token}@github.com/o/r`],
    ]) {
      const r = await trust(args);
      expect(`${r.stdout}\n${r.stderr}`).not.toContain(token);
      expect(`${r.stdout}\n${r.stderr}`).not.toContain("SuperSecret");
    }
    const r = await trust([`https://user:${token}@github.com/CorvidLabs/x.git@feature/thing`, "--json"]);
    expect(json(r.stdout)).toMatchObject({
      source: "https://***@github.com/CorvidLabs/x.git@feature/thing",
      base: "https://github.com/CorvidLabs/x.git",
      ref: "feature/thing",
      owner: "CorvidLabs",
      tier: "official",
    });
  });
});

describe("fledge trust: errors", () => {
  test("empty source: exit 1 with a clear message", async () => {
    const r = await trust([""]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("the plugin source is empty");
  });

  test("whitespace source in JSON mode: error envelope on stdout", async () => {
    const r = await trust(["   ", "--json"]);
    expect(r.code).toBe(1);
    expect(json(r.stdout)).toMatchObject({ schema_version: 1, error: { code: "invalid_source", message: expect.stringContaining("empty") } });
  });

  test("unrecognised source names the input and the forms", async () => {
    const r = await trust(["just-a-word"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'just-a-word' is not a recognised plugin source");
    expect(r.stderr).toContain("./just-a-word");
  });

  test("missing source is a usage error", async () => {
    const r = await trust([]);
    expect(r.code).toBe(2);
  });

  test("a broken config.toml is reported, not ignored", async () => {
    const bad = tempDir();
    try {
      writeFileSync(join(bad.path, "config.toml"), "[trust]\norgs = 3\n");
      const r = await trust(["acme/tool"], bad.path);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("trust.orgs");
    } finally {
      bad.cleanup();
    }
  });
});
