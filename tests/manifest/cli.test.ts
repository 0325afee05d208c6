/** `fledge plugins validate` as a user runs it: a real child process, real files. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runFledgeInProcess, tempDir } from "../helpers/cli.ts";

const HELLO_WASM = join("tests", "fixtures", "plugins", "hello-wasm");
const HELLO_NATIVE = join("tests", "fixtures", "plugins", "hello-native");

let tmp: { path: string; cleanup: () => void };
let broken: string;
let warnOnly: string;
beforeAll(() => {
  tmp = tempDir("fledge-validate-cli-");
  broken = join(tmp.path, "broken");
  mkdirSync(broken);
  writeFileSync(
    join(broken, "plugin.toml"),
    `[plugin]\nname = "broken"\nversion = "1.0"\n\n[[commands]]\nname = "../up"\nbinary = "../../bin/sh"\n\n[capabilities]\nexec = "yes"\n`,
  );
  warnOnly = join(tmp.path, "warn-only");
  mkdirSync(warnOnly);
  writeFileSync(join(warnOnly, "plugin.toml"), `[plugin]\nname = "warn-only"\nversion = "1.0.0"\nlicense = "MIT"\n`);
});
afterAll(() => tmp.cleanup());

describe("fledge plugins validate", () => {
  test("the README quick start: hello-wasm validates cleanly", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", HELLO_WASM]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hello-wasm — valid (0.1.0, wasm, 1 command)\n  ${join(HELLO_WASM, "plugin.toml")}\n`);
  });

  test("hello-native validates cleanly through the `plugin` alias, with --strict", async () => {
    const r = await runFledgeInProcess(["plugin", "validate", HELLO_NATIVE, "--strict"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello-native — valid (0.1.0, native, 1 command)");
  });

  test("the path defaults to the current directory", async () => {
    const r = await runFledgeInProcess(["plugins", "validate"], { cwd: join(ROOT, HELLO_WASM) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello-wasm — valid");
  });

  test("a path to the plugin.toml itself works", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", join(HELLO_NATIVE, "plugin.toml")]);
    expect(r.code).toBe(0);
  });

  test("text report: every problem with its key path, a summary, exit 1", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", broken]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`broken — ${join(broken, "plugin.toml")}`);
    expect(lines).toContain("  error: plugin.version is not valid semver: '1.0' (expected major.minor.patch, like 1.2.3)");
    expect(lines).toContain("  error: capabilities.exec must be a boolean (true or false), got a string");
    expect(lines.some((l) => l.startsWith("  error: Command name '../up' is not allowed") && l.endsWith("[commands[0].name]"))).toBe(true);
    expect(lines).toContain("  error: Command '../up' binary '../../bin/sh' contains '..': binaries must stay inside the plugin directory  [commands[0].binary]");
    expect(lines).toContain("  warn: plugin.description is not set");
    expect(lines).toContain("  warn: plugin.author is not set");
    expect(lines.at(-1)).toBe("invalid: 4 errors, 2 warnings");
  });

  test("--json: the versioned object, printed even when failing", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", broken, "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(["errors", "path", "plugin_name", "schema_version", "warnings"]);
    expect(out.schema_version).toBe(1);
    expect(out.path).toBe(join(broken, "plugin.toml"));
    expect(out.plugin_name).toBe("broken");
    expect(out.errors.map((e: { path: string }) => e.path).sort()).toEqual(["capabilities.exec", "commands[0].binary", "commands[0].name", "plugin.version"]);
    expect(out.warnings).toContainEqual({ path: "plugin.author", message: "plugin.author is not set" });
  });

  test("--json on a valid plugin: empty lists, exit 0", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", HELLO_WASM, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ schema_version: 1, path: join(HELLO_WASM, "plugin.toml"), plugin_name: "hello-wasm", errors: [], warnings: [] });
  });

  test("--json: a syntax error carries line and column; plugin_name is null", async () => {
    const dir = join(tmp.path, "syntax");
    mkdirSync(dir);
    writeFileSync(join(dir, "plugin.toml"), `[plugin]\nname = "x"\nexec = {{ y }}\n`);
    const r = await runFledgeInProcess(["plugins", "validate", dir, "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.plugin_name).toBeNull();
    expect(out.errors).toEqual([{ path: "", message: "Invalid plugin.toml: illegal character in key (line 3, column 9)", line: 3, column: 9 }]);
  });

  test("warnings alone pass; with --strict they fail, and unknown keys are listed", async () => {
    const plain = await runFledgeInProcess(["plugins", "validate", warnOnly]);
    expect(plain.code).toBe(0);
    expect(plain.stdout.trimEnd().split("\n").at(-1)).toBe("valid with 3 warnings");
    expect(plain.stdout).not.toContain("plugin.license");

    const strict = await runFledgeInProcess(["plugins", "validate", warnOnly, "--strict"]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain("  warn: unknown key plugin.license is ignored");
    expect(strict.stdout.trimEnd().split("\n").at(-1)).toBe("invalid with --strict: 0 errors, 4 warnings");

    const json = JSON.parse((await runFledgeInProcess(["plugins", "validate", warnOnly, "--strict", "--json"])).stdout);
    expect(json.warnings.map((w: { path: string }) => w.path)).toContain("plugin.license");
  });

  test("a missing path: exit 1 and a clear message on stderr, nothing on stdout", async () => {
    const missing = join(tmp.path, "does-not-exist");
    const r = await runFledgeInProcess(["plugins", "validate", missing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`No plugin.toml found at ${missing}: that path does not exist`);
  });

  test("a directory without plugin.toml in --json mode: the error envelope", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", tmp.path, "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.schema_version).toBe(1);
    expect(out.error.code).toBe("manifest_not_found");
    expect(out.error.message).toBe(`No plugin.toml found in ${tmp.path}. Point to a directory containing plugin.toml.`);
  });

  test("--help describes the command with an example", async () => {
    const r = await runFledgeInProcess(["plugins", "validate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("fledge plugins validate ./my-plugin --strict");
    expect(r.stdout).toContain("--strict");
    expect(r.stdout).toContain("--json");
  });

  test("escape sequences from a hostile manifest never reach the terminal", async () => {
    const dir = join(tmp.path, "hostile");
    mkdirSync(dir);
    writeFileSync(join(dir, "plugin.toml"), `[plugin]\nname = "x\\u001b]0;pwned\\u0007"\nversion = "\\u001b[2J"\n`);
    const r = await runFledgeInProcess(["plugins", "validate", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("\u001b");
    expect(r.stdout).not.toContain("\u0007");
  });
});
