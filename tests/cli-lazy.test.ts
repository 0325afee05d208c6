/**
 * Start-up loads only what the command needs: `--version` answers before the CLI
 * loads, `resolve` imports only the named sub-command (groups declare their aliases),
 * and output/logging are built on first use. These tests pin that the lazy paths say
 * exactly what the full paths say.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../src/cli/index.ts";
import { namesOf, subCommandsOf } from "../src/cli/framework.ts";
import { MAIN, runFledge } from "./helpers/cli.ts";

type Cmd = Parameters<typeof subCommandsOf>[0];

async function metaAliases(cmd: Cmd): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, def] of Object.entries(await subCommandsOf(cmd))) {
    out.set(name, name);
    const meta = typeof def.meta === "function" ? await def.meta() : await def.meta;
    const alias = meta?.alias;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) out.set(a, name);
  }
  return out;
}

describe("lazy start-up", () => {
  test("--version on its own prints the same line as the full CLI path", () => {
    const fast = runFledge(["--version"]);
    const full = runFledge(["--non-interactive", "--version"]);
    expect(fast.code).toBe(0);
    expect(full.code).toBe(0);
    expect(fast.stdout).toBe(full.stdout);
    expect(fast.stdout).toMatch(/^fledge \d+\.\d+\.\d+ \(.+\)\n$/);
    for (const flag of ["-v", "-V"]) expect(runFledge([flag]).stdout).toBe(fast.stdout);
    expect(fast.stderr).toBe("");
  });

  test("every group's declared aliases are exactly its sub-commands' own names and aliases", async () => {
    const groups: [string, Cmd][] = [["fledge", root as Cmd]];
    for (const [name, sub] of Object.entries(await subCommandsOf(root as Cmd))) if (sub.subCommands) groups.push([`fledge ${name}`, sub]);
    expect(groups.length).toBeGreaterThan(2);
    for (const [, cmd] of groups) {
      expect([...(await namesOf(cmd)).entries()].sort()).toEqual([...(await metaAliases(cmd)).entries()].sort());
    }
  });

  test("an alias resolves to the same command and help as its canonical name", () => {
    const a = runFledge(["plugin", "--help"]);
    const b = runFledge(["plugins", "--help"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain("install");
  });

  test("help and did-you-mean still see every sub-command", () => {
    const help = runFledge(["--help"]);
    for (const name of ["plugins", "trust", "wasm", "completion", "canary"]) expect(help.stdout).toContain(name);
    const typo = runFledge(["wasm", "prepar"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("fledge wasm prepare");
    const flag = runFledge(["plugins", "list", "--jsn"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--json");
  });

  test("a reader that closes stdout early ends fledge with exit 0 and no error", () => {
    for (const args of ["--version", "--help", "plugins --help", "plugins list --json"]) {
      // The reader closes its end at once, so fledge's first write meets EPIPE.
      const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} ${args} | { exec 0<&-; sleep 1; }; echo "rc=\${PIPESTATUS[0]}"`;
      const r = spawnSync("bash", ["-c", script], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", FLEDGE_CONFIG_DIR: join(tmpdir(), "fledge-lazy-no-config") },
      });
      expect(r.stdout).toBe("rc=0\n");
      expect(r.stderr).toBe("");
    }
  }, 60_000);
});
