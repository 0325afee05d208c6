import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";
import { describeTrap } from "../../src/wasi/traps.ts";
import { fileRefusalNote } from "../../src/host/wasm-runner.ts";

/** Errors name the cause and the fix, never the engine's own text or a staging path. */

const TRAPS = join(ROOT, "tests", "fixtures", "wat", "traps");
const work = tempDir("fledge-errors-");
afterAll(() => work.cleanup());
const env = { FLEDGE_CONFIG_DIR: join(work.path, "config"), HOME: work.path };

describe("traps under fledge wasm run", () => {
  for (const [file, kind] of [
    ["unreachable", "unreachable"],
    ["oob", "out-of-bounds memory access"],
    ["div0", "integer divide by zero"],
    ["recurse", "call stack exhausted"],
  ] as const) {
    test(`${file}: 'the module trapped: ${kind}', exit 121, no engine text`, () => {
      const r = runFledge(["wasm", "run", join(TRAPS, `${file}.wasm`)], { env });
      expect(r.code).toBe(121);
      expect(r.stderr).toContain(`the module trapped: ${kind}`);
      expect(r.stderr).not.toMatch(/evaluating|should not be executed|RuntimeError|Out of bounds/);
    });
  }

  test("a refused memory.grow followed by a trap names --max-memory (exit 123)", () => {
    const r = runFledge(["wasm", "run", join(TRAPS, "grow-refused.wasm")], { env });
    expect(r.code).toBe(123);
    expect(r.stderr).toContain("--max-memory");
    expect(r.stderr).not.toMatch(/evaluating|should not be executed/);
  });

  test("every engine message maps to fixed words", () => {
    expect(describeTrap("Unreachable code should not be executed (evaluating 'h()')").kind).toBe("unreachable");
    expect(describeTrap("something new (evaluating 'x()')").kind).toBe("an unrecognised trap");
  });
});

describe("unknown imports under fledge wasm run", () => {
  test("names the import and what the module expects; not an internal error", () => {
    const r = runFledge(["wasm", "run", join(TRAPS, "unknown-import.wasm")], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("it imports fledge.recv (a function), which fledge does not provide");
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).not.toContain("must be an object");
  });
});

describe("a plugin refused a file", () => {
  test("the note names the grant it has and filesystem = \"project\"", () => {
    expect(fileRefusalNote("p", "none")).toContain('filesystem = "project" under [capabilities]');
    expect(fileRefusalNote("p", "plugin")).toContain("only its own data/ folder");
    expect(fileRefusalNote("p", "project")).toContain("outside the project folder");
  });
});

describe("missing plugin.toml", () => {
  test("'..' is named by its absolute folder", () => {
    const sub = join(work.path, "a", "b");
    mkdirSync(sub, { recursive: true });
    const r = runFledge(["plugins", "validate", ".."], { env, cwd: sub });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`No plugin.toml found in ${join(work.path, "a")}.`);
  });

  test("installing a folder without plugin.toml names that folder, never a staging path", () => {
    const empty = join(work.path, "empty");
    mkdirSync(empty, { recursive: true });
    for (const args of [["plugins", "install", empty, "--yes"], ["plugins", "install", empty, "--copy", "--yes"]]) {
      const r = runFledge(args, { env });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`No plugin.toml found in ${empty}`);
      expect(r.stderr).not.toMatch(/staging|\.fledge-staging|\/tree\b/);
    }
  });
});
