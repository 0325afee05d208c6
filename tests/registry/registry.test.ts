import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import {
  fledgePaths,
  findCommandOwner,
  getEntry,
  installedDate,
  parseRegistry,
  readRegistry,
  serializeRegistry,
  updateRegistry,
  type Registry,
  type RegistryEntry,
} from "../../src/registry/index.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { expectFledgeRejection } from "../helpers/errors.ts";

let dir: { path: string; cleanup: () => void };
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = tempDir();
  env = { FLEDGE_CONFIG_DIR: dir.path };
});
afterEach(() => dir.cleanup());

const SHA = "a".repeat(64);

function fullEntry(name = "full"): RegistryEntry {
  return {
    name,
    source: "CorvidLabs/canary",
    version: "1.0.0",
    installed: "2025-06-01",
    commands: ["canary", "canary-x"],
    pinned_ref: "v1.0.0",
    runtime: "wasm",
    capabilities: { exec: true, store: true, metadata: false, filesystem: "plugin", network: false },
    commit: "0123456789abcdef0123456789abcdef01234567",
    trust_tier: "official",
    integrity: { "target/canary.wasm": SHA, "bin/canary-x.wasm": "b".repeat(64) },
  };
}

function minimalEntry(name: string): RegistryEntry {
  return {
    name,
    source: `someone/${name}`,
    version: "0.1.0",
    installed: "2025-01-01",
    commands: [name],
    runtime: "native",
    capabilities: { ...NO_CAPABILITIES },
  };
}

const rejection = expectFledgeRejection;

describe("round trip", () => {
  test("a missing registry reads as empty", () => {
    expect(readRegistry(env)).toEqual({ plugins: [] });
  });

  test("every field survives write and read", async () => {
    const written = await updateRegistry((reg) => {
      reg.plugins.push(fullEntry(), minimalEntry("tiny"));
    }, env);
    const read = readRegistry(env);
    expect(read).toEqual(written);
    expect(read.plugins[0]).toEqual(fullEntry());
    expect(read.plugins[1]).toEqual(minimalEntry("tiny"));
  });

  test("the file has a header comment, the original's keys and a stable order", async () => {
    await updateRegistry(() => ({ plugins: [fullEntry()] }), env);
    const text = readFileSync(fledgePaths(env).registryFile, "utf8");
    expect(text.startsWith("# fledge plugin registry")).toBe(true);
    const order = ["name =", "source =", "version =", "installed =", "commands =", "pinned_ref =", "runtime =", "commit =", "trust_tier =", "\n[plugins.capabilities]", "\n[plugins.integrity]"];
    const positions = order.map((k) => text.indexOf(k));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain('filesystem = "plugin"');
    // Integrity keys are sorted so rewrites do not churn the file.
    expect(text.indexOf('"bin/canary-x.wasm"')).toBeLessThan(text.indexOf('"target/canary.wasm"'));
    // Serializing the same registry twice gives identical bytes.
    expect(serializeRegistry(readRegistry(env))).toBe(text);
  });

  test("the mutator may return a new registry, and async mutators work", async () => {
    await updateRegistry(async () => {
      await Bun.sleep(1);
      return { plugins: [minimalEntry("a")] };
    }, env);
    const after = await updateRegistry((reg) => ({ plugins: reg.plugins.filter((p) => p.name !== "a") }), env);
    expect(after.plugins).toEqual([]);
    expect(readRegistry(env).plugins).toEqual([]);
  });

  test("unknown keys are kept across a rewrite", async () => {
    const file = fledgePaths(env).registryFile;
    writeFileSync(file, `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1.0.0"\ninstalled = "2025-01-01"\nfuture_key = "keep me"\n`);
    await updateRegistry((reg) => {
      reg.plugins.push(minimalEntry("y"));
    }, env);
    expect(readFileSync(file, "utf8")).toContain('future_key = "keep me"');
    expect(getEntry(readRegistry(env), "x")?.extra).toEqual({ future_key: "keep me" });
  });
});

describe("the original fledge's format", () => {
  const fixture = join(import.meta.dir, "fixtures", "original-plugins.toml");

  test("reads every entry with defaults for the fields it lacks", () => {
    copyFileSync(fixture, fledgePaths(env).registryFile);
    const reg = readRegistry(env);
    expect(reg.plugins.map((p) => p.name)).toEqual(["fledge-deploy", "rune", "canary-wasm", "legacy"]);

    const deploy = getEntry(reg, "fledge-deploy");
    expect(deploy).toEqual({
      name: "fledge-deploy",
      source: "CorvidLabs/fledge-deploy",
      version: "1.2.0",
      installed: "2025-03-14",
      commands: ["deploy", "deploy-status"],
      pinned_ref: "v1.2.0",
      runtime: "native", // the original ran anything without runtime = "wasm" natively
      capabilities: { ...NO_CAPABILITIES }, // no table: nothing granted, never the manifest's
    });
    expect(deploy?.commit).toBeUndefined();
    expect(deploy?.trust_tier).toBeUndefined();
    expect(deploy?.integrity).toBeUndefined();

    // A capabilities table without `filesystem` grants none.
    expect(getEntry(reg, "rune")?.capabilities).toEqual({ exec: true, store: true, metadata: false, filesystem: "none", network: false });
    expect(getEntry(reg, "rune")?.pinned_ref).toBe("chore/0.2.0-launch-prep");
    expect(getEntry(reg, "canary-wasm")?.runtime).toBe("wasm");
    expect(getEntry(reg, "canary-wasm")?.capabilities.filesystem).toBe("project");
    expect(getEntry(reg, "legacy")?.commands).toEqual([]);
  });

  test("a missing commands key defaults to [] and an unquoted date is accepted", () => {
    const reg = parseRegistry(`[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = 2025-02-03\n`, "p.toml");
    expect(reg.plugins[0]?.commands).toEqual([]);
    expect(reg.plugins[0]?.installed).toBe("2025-02-03");
  });

  test("updating an original registry keeps every entry and adds our fields", async () => {
    copyFileSync(fixture, fledgePaths(env).registryFile);
    await updateRegistry((reg) => {
      reg.plugins.push(fullEntry());
    }, env);
    const reg = readRegistry(env);
    expect(reg.plugins.map((p) => p.name)).toEqual(["fledge-deploy", "rune", "canary-wasm", "legacy", "full"]);
    expect(getEntry(reg, "rune")?.capabilities.exec).toBe(true);
    expect(getEntry(reg, "full")).toEqual(fullEntry());
  });
});

describe("corrupt registries", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["syntax error", `[[plugins]]\nname = "x\n`, /not valid TOML at line 2, column \d+/],
    ["plugins not an array", `plugins = "x"\n`, /`plugins` must be an array/],
    ["commands wrong type", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\ncommands = "x"\n`, /entry #1 \(name = "x"\): `commands` must be an array/],
    ["missing source", `[[plugins]]\nname = "x"\nversion = "1"\ninstalled = "2025-01-01"\n`, /entry #1 \(name = "x"\): `source` .* it is missing/],
    ["bad date", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "yesterday"\n`, /`installed` must be a date/],
    ["path-escaping name", `[[plugins]]\nname = "../../etc"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n`, /`name` must be/],
    ["bad capability type", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[plugins.capabilities]\nexec = "yes"\n`, /`capabilities.exec` must be true or false/],
    ["unknown filesystem grant", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[plugins.capabilities]\nfilesystem = "home"\n`, /`capabilities.filesystem` must be "none", "project" or "plugin"/],
    ["bad runtime", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\nruntime = "python"\n`, /`runtime` must be "wasm" or "native"/],
    ["bad trust tier", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\ntrust_tier = "trusted"\n`, /`trust_tier` must be one of/],
    ["bad digest", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[plugins.integrity]\n"x.wasm" = "abc"\n`, /`integrity.x.wasm` must be a lowercase sha256/],
    ["approved targets not paths", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[plugins.confinement]\nresolved_read = 3\n`, /`confinement.resolved_read` must be an array of paths/],
    ["credential variables not names", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[plugins.confinement]\ncredential_env = [1]\n`, /`confinement.credential_env/],
    ["duplicate names", `[[plugins]]\nname = "x"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[[plugins]]\nname = "x"\nsource = "o/y"\nversion = "1"\ninstalled = "2025-01-01"\n`, /entries #1 and #2 are both named "x"/],
    ["second entry bad", `[[plugins]]\nname = "ok"\nsource = "o/x"\nversion = "1"\ninstalled = "2025-01-01"\n[[plugins]]\nname = "bad"\nsource = 3\nversion = "1"\ninstalled = "2025-01-01"\n`, /entry #2 \(name = "bad"\): `source`/],
  ];

  for (const [label, text, pattern] of cases) {
    test(`${label}: reported, and the file is byte-for-byte unchanged after a failed update`, async () => {
      const file = fledgePaths(env).registryFile;
      writeFileSync(file, text);
      const readErr = (() => {
        try {
          readRegistry(env);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(readErr).toBeInstanceOf(FledgeError);
      expect((readErr as FledgeError).code).toBe("registry_corrupt");
      expect((readErr as FledgeError).message).toContain(file);
      expect((readErr as FledgeError).message).toMatch(pattern);
      expect((readErr as FledgeError).hint).toContain("never overwrites");

      let mutatorRan = false;
      const e = await rejection(
        updateRegistry((reg) => {
          mutatorRan = true;
          reg.plugins = [];
        }, env),
      );
      expect(e.code).toBe("registry_corrupt");
      expect(mutatorRan).toBe(false);
      expect(readFileSync(file, "utf8")).toBe(text);
      // No temp files or lock left behind.
      expect(readdirSync(dir.path).sort()).toEqual(["plugins.toml"]);
    });
  }

  test("a mutator that produces an invalid registry writes nothing", async () => {
    await updateRegistry((reg) => {
      reg.plugins.push(minimalEntry("good"));
    }, env);
    const file = fledgePaths(env).registryFile;
    const before = readFileSync(file, "utf8");
    const e = await rejection(
      updateRegistry((reg) => {
        reg.plugins.push({ ...minimalEntry("x"), name: "../escape" });
      }, env),
    );
    expect(e.code).toBe("registry_invalid_update");
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  test("a mutator that throws writes nothing", async () => {
    await updateRegistry((reg) => {
      reg.plugins.push(minimalEntry("good"));
    }, env);
    const file = fledgePaths(env).registryFile;
    const before = readFileSync(file, "utf8");
    await expect(
      updateRegistry(() => {
        throw new Error("boom");
      }, env),
    ).rejects.toThrow("boom");
    expect(readFileSync(file, "utf8")).toBe(before);
    expect(readdirSync(dir.path).sort()).toEqual(["plugins.toml"]);
  });
});

describe("locking", () => {
  test("an update waits for the registry lock and reports a timeout without writing", async () => {
    const paths = fledgePaths(env);
    await updateRegistry((reg) => {
      reg.plugins.push(minimalEntry("kept"));
    }, env);
    const before = readFileSync(paths.registryFile, "utf8");
    // A live holder (this very process, under another token) owns the lock.
    writeFileSync(paths.lockFile, JSON.stringify({ pid: process.pid, host: hostname(), token: "other", acquired: "" }));
    let ran = false;
    const e = await rejection(
      updateRegistry(() => {
        ran = true;
      }, env, { timeoutMs: 100 }),
    );
    expect(e.code).toBe("lock_timeout");
    expect(e.message).toContain(paths.lockFile);
    expect(ran).toBe(false);
    expect(readFileSync(paths.registryFile, "utf8")).toBe(before);
  });
});

describe("lookups", () => {
  const reg: Registry = { plugins: [minimalEntry("alpha"), { ...minimalEntry("beta"), commands: ["b1", "b2"] }] };

  test("getEntry by exact name", () => {
    expect(getEntry(reg, "beta")?.name).toBe("beta");
    expect(getEntry(reg, "Beta")).toBeUndefined();
    expect(getEntry(reg, "gamma")).toBeUndefined();
  });

  test("findCommandOwner", () => {
    expect(findCommandOwner(reg, "b2")?.name).toBe("beta");
    expect(findCommandOwner(reg, "alpha")?.name).toBe("alpha");
    expect(findCommandOwner(reg, "beta")).toBeUndefined();
  });

  test("installedDate is the local YYYY-MM-DD", () => {
    expect(installedDate(new Date(2025, 0, 5, 23, 59))).toBe("2025-01-05");
    expect(installedDate()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("in-process concurrency", () => {
  test("parallel updates in one process all land", async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        updateRegistry(async (reg) => {
          await Bun.sleep(1);
          reg.plugins.push(minimalEntry(`p${i}`));
        }, env),
      ),
    );
    expect(readRegistry(env).plugins.map((p) => p.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
  });
});
