/**
 * Start-up loads only what the command needs: `--version` answers before the CLI
 * loads, `resolve` imports only the named sub-command (groups declare their aliases),
 * and output/logging are built on first use. These tests pin that the lazy paths say
 * exactly what the full paths say.
 */
import { describe, expect, test } from "bun:test";
import { afterAll, beforeAll } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { root } from "../src/cli/index.ts";
import { namesOf, subCommandsOf } from "../src/cli/framework.ts";
import { childEnv, MAIN, ROOT, runFledge, tempDir } from "./helpers/cli.ts";

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

describe("wasm run: the fast start", () => {
  const t = tempDir("fledge-lazy-wasm-");
  const cfg = join(t.path, "config");
  const hello = join(t.path, "hello.wasm");
  const env = { FLEDGE_CONFIG_DIR: cfg };
  beforeAll(() => copyFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm"), hello));
  afterAll(() => t.cleanup());

  /** The source files (relative to the checkout) and packages a `fledge ...` child loaded. */
  function loadedBy(args: string[]): { code: number; files: string[] } {
    const record = join(t.path, "loaded.txt");
    const r = spawnSync(process.execPath, ["--preload", join(ROOT, "tests", "helpers", "record-loads.ts"), MAIN, ...args], {
      encoding: "utf8",
      cwd: ROOT,
      env: { ...childEnv({ env }), FLEDGE_TEST_RECORD_LOADS: record },
    });
    expect(r.stderr).toBe("");
    const files = readFileSync(record, "utf8").split("\n").filter(Boolean).map((p) => relative(ROOT, p));
    return { code: r.status ?? -1, files };
  }

  test("a cache hit loads neither the instrumenter nor the command framework; a miss loads the instrumenter", () => {
    const miss = loadedBy(["wasm", "run", hello]);
    expect(miss.code).toBe(0);
    expect(miss.files).toContain("src/wasm/instrument.ts");
    const hit = loadedBy(["wasm", "run", hello]);
    expect(hit.code).toBe(0);
    // What a hit needs: the cache, the WASI host, the meter.
    for (const f of ["src/wasm/cache.ts", "src/wasm/cache-file.ts", "src/wasi/host.ts", "src/wasm/meter.ts"]) expect(hit.files).toContain(f);
    // What it must not load: the decoder and rewriter, citty, the CLI and its other commands, prompts.
    const unwanted = hit.files.filter((f) =>
      /^src\/wasm\/(instrument|decoder|blocks|checks|encode|parse|prepare)\.ts$|^src\/cli\/(index|framework|wasm|help)\.ts$|^src\/ui\/(index|prompt|choose)\.ts$|node_modules\/citty\//.test(f),
    );
    expect(unwanted).toEqual([]);
  }, 60_000);

  test("every command line answers as through the full CLI (help, errors, guest arguments)", () => {
    const lines = [
      ["wasm", "run", hello, "--json", "-x"],
      ["wasm", "run", "--fuel", "none", "--timeout=30", "--no-cache", "--", hello, "--", "a"],
      ["wasm", "run", "--fuel", "lots", hello],
      ["wasm", "run", "--dir", join(t.path, "nowhere"), hello],
      ["wasm", "run", join(t.path, "missing.wasm")],
      ["wasm", "run", "--bogus", hello],
      ["wasm", "run", "--json", hello],
      ["wasm", "run", "--help"],
      ["wasm", "run", "--dir"],
      ["wasm", "run"],
    ];
    for (const args of lines) {
      const fast = runFledge(args, { env });
      // A global flag first sends the same command line through the command framework.
      const full = runFledge(["--non-interactive", ...args], { env });
      expect({ args, ...fast }).toEqual({ args, ...full });
    }
    expect(runFledge(lines[0]!, { env }).stdout).toBe("hello from wasm\n");
  }, 120_000);
});

