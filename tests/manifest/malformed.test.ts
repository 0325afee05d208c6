/**
 * Malformed manifests, one rule each: every case states the key path and the message
 * it must produce. Validated as bare text (no plugin dir); on-disk rules live in
 * disk.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { isSafeCommandName, isSafePluginName, isValidVersion, parseManifest, type Problem } from "../../src/manifest/index.ts";

const HEAD = `[plugin]
name = "demo"
version = "1.0.0"
description = "d"
author = "a"
`;
const CMD = `
[[commands]]
name = "demo"
binary = "bin/demo"
`;

interface Case {
  name: string;
  toml: string;
  /** Expected [path, message] among the errors (exact message, or a RegExp). */
  error?: [string, string | RegExp];
  warning?: [string, string | RegExp];
  strict?: boolean;
}

const cases: Case[] = [
  // ---- [plugin] table ----
  { name: "missing [plugin] table", toml: CMD, error: ["plugin", "the [plugin] table is missing: plugin.toml needs a [plugin] table with at least name and version"] },
  { name: "plugin is a string", toml: `plugin = "demo"\n${CMD}`, error: ["plugin", "plugin must be a table ([plugin]), got a string"] },
  { name: "plugin is an array of tables", toml: `[[plugin]]\nname = "x"\n${CMD}`, error: ["plugin", "plugin must be a table ([plugin]), got an array of tables"] },
  { name: "name missing", toml: `[plugin]\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", 'plugin.name is missing: add name = "my-plugin" under [plugin]'] },
  { name: "name empty", toml: `[plugin]\nname = ""\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", "plugin.name is empty"] },
  { name: "name blank", toml: `[plugin]\nname = "   "\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", "plugin.name is empty"] },
  { name: "name is an integer", toml: `[plugin]\nname = 42\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", "plugin.name must be a string, got an integer"] },
  { name: "name with ..", toml: `[plugin]\nname = "../evil"\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", /^plugin.name '..\/evil' is not a safe name: use letters, digits/] },
  { name: "name with a slash", toml: `[plugin]\nname = "a/b"\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", /^plugin.name 'a\/b' is not a safe name/] },
  { name: "name starting with -", toml: `[plugin]\nname = "-x"\nversion = "1.0.0"\n${CMD}`, error: ["plugin.name", /^plugin.name '-x' is not a safe name/] },
  { name: "version missing", toml: `[plugin]\nname = "demo"\n${CMD}`, error: ["plugin.version", 'plugin.version is missing: add version = "0.1.0" under [plugin]'] },
  { name: "version empty", toml: `[plugin]\nname = "demo"\nversion = ""\n${CMD}`, error: ["plugin.version", "plugin.version is empty"] },
  { name: "version two parts", toml: `[plugin]\nname = "demo"\nversion = "1.0"\n${CMD}`, error: ["plugin.version", "plugin.version is not valid semver: '1.0' (expected major.minor.patch, like 1.2.3)"] },
  { name: "version with an empty pre-release", toml: `[plugin]\nname = "demo"\nversion = "1.0.0-"\n${CMD}`, error: ["plugin.version", "plugin.version is not valid semver: '1.0.0-' (expected major.minor.patch, like 1.2.3)"] },
  { name: "version is a float", toml: `[plugin]\nname = "demo"\nversion = 1.0\n${CMD}`, error: ["plugin.version", "plugin.version must be a string, got a float"] },
  { name: "version is a date", toml: `[plugin]\nname = "demo"\nversion = 2024-01-01\n${CMD}`, error: ["plugin.version", "plugin.version must be a string, got a date/time"] },
  { name: "description wrong type", toml: `[plugin]\nname = "demo"\nversion = "1.0.0"\ndescription = 5\nauthor = "a"\n${CMD}`, error: ["plugin.description", "plugin.description must be a string, got an integer"] },
  { name: "author is an array", toml: `[plugin]\nname = "demo"\nversion = "1.0.0"\ndescription = "d"\nauthor = ["a"]\n${CMD}`, error: ["plugin.author", "plugin.author must be a string, got an array"] },
  { name: "description missing warns", toml: `[plugin]\nname = "demo"\nversion = "1.0.0"\nauthor = "a"\n${CMD}`, warning: ["plugin.description", "plugin.description is not set"] },
  { name: "author missing warns", toml: `[plugin]\nname = "demo"\nversion = "1.0.0"\ndescription = "d"\n${CMD}`, warning: ["plugin.author", "plugin.author is not set"] },
  { name: "unknown protocol", toml: `${HEAD}protocol = "fledge-v2"\n${CMD}`, error: ["plugin.protocol", 'plugin.protocol \'fledge-v2\' is not supported: the only known protocol is "fledge-v1" (remove the key for a plain native plugin)'] },
  { name: "empty protocol", toml: `${HEAD}protocol = ""\n${CMD}`, error: ["plugin.protocol", /^plugin.protocol '' is not supported/] },
  { name: "protocol is a boolean", toml: `${HEAD}protocol = true\n${CMD}`, error: ["plugin.protocol", "plugin.protocol must be a string, got a boolean"] },
  { name: "bad runtime value", toml: `${HEAD}runtime = "python"\n${CMD}`, error: ["plugin.runtime", 'plugin.runtime must be "wasm" or "native", got "python"'] },
  { name: "runtime wrong type", toml: `${HEAD}runtime = 1\n${CMD}`, error: ["plugin.runtime", "plugin.runtime must be a string, got an integer"] },

  // ---- wasm rules ----
  {
    name: "wasm without protocol",
    toml: `${HEAD}runtime = "wasm"\n[[commands]]\nname = "demo"\nbinary = "demo.wasm"\n[hooks]\nbuild = "make"\n`,
    error: ["plugin.protocol", 'WASM plugins must set plugin.protocol = "fledge-v1" — without this, capabilities will not be granted at install time'],
  },
  {
    name: "a .wasm binary makes it wasm, which needs the protocol",
    toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "target/demo.wasm"\n[hooks]\nbuild = "make"\n`,
    error: ["plugin.protocol", /^WASM plugins must set plugin.protocol = "fledge-v1"/],
  },
  {
    name: "inferred wasm suggests declaring the runtime",
    toml: `${HEAD}protocol = "fledge-v1"\n[[commands]]\nname = "demo"\nbinary = "target/demo.wasm"\n[hooks]\nbuild = "make"\n`,
    warning: ["plugin.runtime", /^plugin.runtime is not set: fledge detects wasm from the binary/],
  },
  {
    name: "wasm binary not ending in .wasm",
    toml: `${HEAD}protocol = "fledge-v1"\nruntime = "wasm"\n[[commands]]\nname = "demo"\nbinary = "bin/demo"\n[hooks]\nbuild = "make"\n`,
    warning: ["commands[0].binary", "WASM command 'demo' binary 'bin/demo' does not end in .wasm — WASM plugins should point to a .wasm file (e.g. target/wasm32-wasip1/release/demo.wasm)"],
  },
  {
    name: "wasm without build hook",
    toml: `${HEAD}protocol = "fledge-v1"\nruntime = "wasm"\n[[commands]]\nname = "demo"\nbinary = "demo.wasm"\n`,
    warning: ["hooks.build", 'WASM plugin has no build hook — add [hooks] build = "cargo build --target wasm32-wasip1 --release" so the .wasm binary is compiled during install'],
  },
  {
    name: "commands mixing wasm and native binaries",
    toml: `${HEAD}protocol = "fledge-v1"\n[[commands]]\nname = "a"\nbinary = "a.wasm"\n[[commands]]\nname = "b"\nbinary = "bin/b"\n[hooks]\nbuild = "make"\n`,
    error: ["commands[1].binary", "Command 'a' binary 'a.wasm' is WebAssembly but Command 'b' binary 'bin/b' is native: a plugin has a single runtime, so split it into two plugins"],
  },

  // ---- [[commands]] ----
  { name: "commands is a string", toml: `commands = "demo"\n${HEAD}`, error: ["commands", "commands must be an array of tables (write [[commands]], with double brackets), got a string"] },
  { name: "[commands] single table", toml: `${HEAD}[commands]\nname = "demo"\nbinary = "bin/demo"\n`, error: ["commands", "commands must be an array of tables (write [[commands]], with double brackets), got a table"] },
  { name: "commands entry is a string", toml: `commands = ["demo"]\n${HEAD}`, error: ["commands[0]", "commands[0] must be a table (one [[commands]] entry), got a string"] },
  { name: "command name missing", toml: `${HEAD}[[commands]]\nbinary = "bin/demo"\n`, error: ["commands[0].name", 'commands[0].name is missing: add name = "my-command" to this [[commands]] entry'] },
  { name: "command name empty", toml: `${HEAD}[[commands]]\nname = ""\nbinary = "bin/demo"\n`, error: ["commands[0].name", "Command has empty name (commands[0].name)"] },
  { name: "command name wrong type", toml: `${HEAD}[[commands]]\nname = 7\nbinary = "bin/demo"\n`, error: ["commands[0].name", "commands[0].name must be a string, got an integer"] },
  { name: "command name with a slash", toml: `${HEAD}[[commands]]\nname = "a/b"\nbinary = "bin/demo"\n`, error: ["commands[0].name", /^Command name 'a\/b' is not allowed: use letters, digits, '_' and '-'/] },
  { name: "command name ..", toml: `${HEAD}[[commands]]\nname = ".."\nbinary = "bin/demo"\n`, error: ["commands[0].name", /^Command name '..' is not allowed/] },
  { name: "command name with leading -", toml: `${HEAD}[[commands]]\nname = "-rf"\nbinary = "bin/demo"\n`, error: ["commands[0].name", /^Command name '-rf' is not allowed/] },
  { name: "command name with a space", toml: `${HEAD}[[commands]]\nname = "two words"\nbinary = "bin/demo"\n`, error: ["commands[0].name", /^Command name 'two words' is not allowed/] },
  { name: "command name too long", toml: `${HEAD}[[commands]]\nname = "${"a".repeat(65)}"\nbinary = "bin/demo"\n`, error: ["commands[0].name", /is not allowed: .* at most 64 characters/] },
  {
    name: "duplicate command names",
    toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "bin/a"\n[[commands]]\nname = "other"\nbinary = "bin/b"\n[[commands]]\nname = "demo"\nbinary = "bin/c"\n`,
    error: ["commands[2].name", "Command name 'demo' is declared twice (commands[0] and commands[2]): each command needs its own name"],
  },
  {
    name: "command names differing only in case",
    toml: `${HEAD}[[commands]]\nname = "Demo"\nbinary = "bin/a"\n[[commands]]\nname = "demo"\nbinary = "bin/b"\n`,
    error: ["commands[1].name", "Command name 'demo' differs from 'Demo' (commands[0]) only in case: their shims would collide on case-insensitive file systems"],
  },
  { name: "version with spaces", toml: `[plugin]\nname = "demo"\nversion = " 1.0.0"\n${CMD}`, error: ["plugin.version", /^plugin.version is not valid semver: ' 1.0.0'/] },
  { name: "version part over u64", toml: `[plugin]\nname = "demo"\nversion = "1.0.18446744073709551616"\n${CMD}`, error: ["plugin.version", /^plugin.version is not valid semver/] },
  { name: "command shadowed by a built-in", toml: `${HEAD}[[commands]]\nname = "trust"\nbinary = "bin/trust"\n`, warning: ["commands[0].name", "Command 'trust' is shadowed by the built-in 'fledge trust': users can only run it as 'fledge plugins run trust'"] },
  { name: "command shadowed by the built-in completion", toml: `${HEAD}[[commands]]\nname = "completion"\nbinary = "bin/c"\n`, warning: ["commands[0].name", "Command 'completion' is shadowed by the built-in 'fledge completion': users can only run it as 'fledge plugins run completion'"] },
  { name: "no commands", toml: HEAD, warning: ["commands", "No [[commands]] defined — plugin won't register any subcommands"] },
  { name: "empty commands array", toml: `commands = []\n${HEAD}`, warning: ["commands", "No [[commands]] defined — plugin won't register any subcommands"] },
  { name: "binary missing", toml: `${HEAD}[[commands]]\nname = "demo"\n`, error: ["commands[0].binary", `Command 'demo' has no binary: add binary = "path/to/executable" (relative to the plugin directory)`] },
  { name: "binary empty", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = ""\n`, error: ["commands[0].binary", "Command 'demo' has empty binary path"] },
  { name: "binary wrong type", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = false\n`, error: ["commands[0].binary", "commands[0].binary must be a string, got a boolean"] },
  { name: "binary absolute", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "/usr/bin/env"\n`, error: ["commands[0].binary", "Command 'demo' binary '/usr/bin/env' is an absolute path: binaries must be relative to the plugin directory"] },
  { name: "binary home-relative", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "~/bin/x"\n`, error: ["commands[0].binary", /binary '~\/bin\/x' is an absolute path/] },
  { name: "binary Windows drive path", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = 'C:\\tools\\x.exe'\n`, error: ["commands[0].binary", /binary 'C:\\tools\\x.exe' is an absolute path/] },
  { name: "binary escaping with ..", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "../../bin/sh"\n`, error: ["commands[0].binary", "Command 'demo' binary '../../bin/sh' contains '..': binaries must stay inside the plugin directory"] },
  { name: "binary with .. in the middle", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "bin/../../x"\n`, error: ["commands[0].binary", /contains '..'/] },
  { name: "binary in the writable data/ folder", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "data/demo.wasm"\n`, error: ["commands[0].binary", /lies in the plugin's data\/ folder: move it out of data\//] },
  { name: "binary in ./Data/ (same folder on case-insensitive disks)", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "./Data/sub/demo"\n`, error: ["commands[0].binary", /lies in the plugin's data\/ folder/] },
  { name: "binary with backslash ..", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = 'bin\\..\\..\\x'\n`, error: ["commands[0].binary", /contains '..'/] },
  { name: "binary with a NUL", toml: `${HEAD}[[commands]]\nname = "demo"\nbinary = "bin/a\\u0000b"\n`, error: ["commands[0].binary", "Command 'demo' binary 'bin/a\\x00b' contains a NUL character"] },
  { name: "unnamed command is labelled by its index", toml: `${HEAD}[[commands]]\nbinary = "/bin/sh"\n`, error: ["commands[0].binary", "Command commands[0] binary '/bin/sh' is an absolute path: binaries must be relative to the plugin directory"] },

  // ---- [hooks] ----
  { name: "hooks is a string", toml: `hooks = "make"\n${HEAD}${CMD}`, error: ["hooks", "hooks must be a table ([hooks], not [[hooks]]), got a string"] },
  { name: "[[hooks]] array", toml: `${HEAD}${CMD}[[hooks]]\nevent = "x"\n`, error: ["hooks", "hooks must be a table ([hooks], not [[hooks]]), got an array of tables"] },
  { name: "hook wrong type", toml: `${HEAD}${CMD}[hooks]\nbuild = 1\n`, error: ["hooks.build", "hooks.build must be a string, got an integer"] },
  { name: "hook as array of words", toml: `${HEAD}${CMD}[hooks]\npost_install = ["make", "install"]\n`, error: ["hooks.post_install", "hooks.post_install must be a string, got an array"] },
  { name: "empty build hook", toml: `${HEAD}${CMD}[hooks]\nbuild = ""\n`, warning: ["hooks.build", "hooks.build is set but empty"] },
  { name: "blank post_install hook", toml: `${HEAD}${CMD}[hooks]\npost_install = "  "\n`, warning: ["hooks.post_install", "hooks.post_install is set but empty"] },

  // ---- [capabilities] ----
  { name: 'exec = "yes"', toml: `${HEAD}${CMD}[capabilities]\nexec = "yes"\n`, error: ["capabilities.exec", "capabilities.exec must be a boolean (true or false), got a string"] },
  { name: "network = 1", toml: `${HEAD}${CMD}[capabilities]\nnetwork = 1\n`, error: ["capabilities.network", "capabilities.network must be a boolean (true or false), got an integer"] },
  { name: "store = [true]", toml: `${HEAD}${CMD}[capabilities]\nstore = [true]\n`, error: ["capabilities.store", "capabilities.store must be a boolean (true or false), got an array"] },
  { name: "bad filesystem value", toml: `${HEAD}${CMD}[capabilities]\nfilesystem = "all"\n`, error: ["capabilities.filesystem", 'capabilities.filesystem must be "none", "project", or "plugin", got "all"'] },
  { name: "filesystem = true", toml: `${HEAD}${CMD}[capabilities]\nfilesystem = true\n`, error: ["capabilities.filesystem", "capabilities.filesystem must be a string, got a boolean"] },
  { name: "capabilities is an array", toml: `capabilities = ["exec"]\n${HEAD}${CMD}`, error: ["capabilities", "capabilities must be a table ([capabilities]), got an array"] },
  {
    name: "capabilities without protocol on a native plugin",
    toml: `${HEAD}${CMD}[capabilities]\nexec = true\nfilesystem = "project"\n`,
    warning: ["capabilities", /^\[capabilities\] asks for exec, filesystem but plugin.protocol is not set/],
  },

  // ---- TOML syntax: one error with line and column ----
  { name: "unterminated string", toml: `[plugin]\nname = "demo\nversion = "1.0.0"\n`, error: ["", /^Invalid plugin.toml: .* \(line 2, column \d+\)$/] },
  { name: "duplicate key", toml: `[plugin]\nname = "a"\nname = "b"\n`, error: ["", /^Invalid plugin.toml: .*redefine.* \(line 3, column 1\)$/] },
  { name: "unclosed table header", toml: `[plugin\nname = "a"\n`, error: ["", /\(line 1, column \d+\)$/] },

  // ---- --strict: unknown keys, with did-you-mean ----
  { name: "strict: misspelled key", strict: true, toml: `${HEAD}autor = "x"\n${CMD}`, warning: ["plugin.autor", "unknown key plugin.autor is ignored (did you mean author?)"] },
  { name: "strict: unknown top-level table", strict: true, toml: `${HEAD}${CMD}[extra]\nx = 1\n`, warning: ["extra", "unknown key extra is ignored"] },
  { name: "strict: unknown hook", strict: true, toml: `${HEAD}${CMD}[hooks]\npre_commit = "x"\n`, warning: ["hooks.pre_commit", /^unknown key hooks.pre_commit is ignored/] },
  { name: "strict: unknown capability", strict: true, toml: `${HEAD}${CMD}[capabilities]\nnetwrok = true\n`, warning: ["capabilities.netwrok", "unknown key capabilities.netwrok is ignored (did you mean network?)"] },
  { name: "strict: odd key is quoted in its path", strict: true, toml: `${HEAD}"a b" = 1\n${CMD}`, warning: ['plugin."a b"', 'unknown key plugin."a b" is ignored'] },
];

function find(list: Problem[], [path, message]: [string, string | RegExp]): Problem | undefined {
  return list.find((p) => p.path === path && (typeof message === "string" ? p.message === message : message.test(p.message)));
}

describe("malformed manifests", () => {
  test("there are at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of cases) {
    test(c.name, () => {
      const r = parseManifest(c.toml, { strict: c.strict ?? false });
      const show = (): string => JSON.stringify({ errors: r.errors, warnings: r.warnings }, null, 2);
      if (c.error) {
        expect(find(r.errors, c.error), show()).toBeDefined();
        expect(r.manifest).toBeUndefined();
      }
      if (c.warning) expect(find(r.warnings, c.warning), show()).toBeDefined();
    });
  }
});

describe("rules that need more than one assertion", () => {
  test("every problem is reported at once, each with its key path", () => {
    const r = parseManifest(`[plugin]
name = "../x"
version = "one"
protocol = "v9"
runtime = "jvm"

[[commands]]
name = "-a"
binary = "/bin/sh"

[[commands]]
name = "ok"
binary = "../../etc/passwd"

[[commands]]
name = "ok"
binary = 3

[hooks]
build = 7

[capabilities]
exec = "yes"
filesystem = "everything"
`);
    expect(r.errors.map((e) => e.path).sort()).toEqual(
      [
        "capabilities.exec",
        "capabilities.filesystem",
        "commands[0].binary",
        "commands[0].name",
        "commands[1].binary",
        "commands[2].binary",
        "commands[2].name",
        "hooks.build",
        "plugin.name",
        "plugin.protocol",
        "plugin.runtime",
        "plugin.version",
      ].sort(),
    );
    expect(r.warnings.map((w) => w.path).sort()).toEqual(["plugin.author", "plugin.description"]);
    expect(r.manifest).toBeUndefined();
    expect(r.pluginName).toBe("../x");
  });

  test("a wrong-typed description is a type error, not also a 'not set' warning", () => {
    const r = parseManifest(`${HEAD.replace('description = "d"', "description = 5")}${CMD}`);
    expect(r.warnings.filter((w) => w.path === "plugin.description")).toEqual([]);
  });

  test("isValidVersion: semver (leading v allowed, three u64 parts, pre-release and build metadata)", () => {
    for (const ok of ["0.0.0", "1.2.3", "v1.2.3", "10.20.30", "1.0.18446744073709551615", "0.3.0-dev", "1.2.3-rc1", "1.2.3-rc.1", "1.2.3+b", "1.0.0-beta.1+exp.sha.5114f85"]) expect(isValidVersion(ok)).toBe(true);
    for (const bad of ["", "1", "1.2", "1.2.3.4", "V1.2.3", "1.2.3-", "1.2.3+", "1.2.3-a..b", "-1.2.3", "1.2.x", "vv1.2.3", " 1.2.3", "1.2.3\n", "1.2.3-a b"]) expect(isValidVersion(bad)).toBe(false);
  });

  test("isSafeCommandName and isSafePluginName", () => {
    for (const ok of ["a", "A1", "hello-world", "x_y", "9lives"]) expect(isSafeCommandName(ok)).toBe(true);
    for (const bad of ["", "-a", "_a", "a/b", "..", ".", "a.b", "a b", "a\u0000", "é", "a".repeat(65)]) expect(isSafeCommandName(bad)).toBe(false);
    for (const ok of ["canary-wasm", "fledge.plugin", "a"]) expect(isSafePluginName(ok)).toBe(true);
    for (const bad of ["", "..", ".hidden", "a/b", "a\\b", "-x"]) expect(isSafePluginName(bad)).toBe(false);
  });

  test("version with a leading v is accepted", () => {
    const r = parseManifest(`${HEAD.replace('"1.0.0"', '"v1.2.3"')}${CMD}`);
    expect(r.errors).toEqual([]);
    expect(r.manifest?.plugin.version).toBe("v1.2.3");
  });

  test("a syntax error carries line and column fields, and nothing else is reported", () => {
    const r = parseManifest(`[plugin]\nname = "a"\nversion = "1.0.0"\n\n[capabilities]\nexec = {{ x }}\n`);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: "", line: 6, column: 9 });
    expect(r.warnings).toEqual([]);
  });

  test("terminal escapes in values are escaped in messages", () => {
    const r = parseManifest(`[plugin]\nname = "x\\u001b]52;c;ZXZpbA==\\u0007"\nversion = "1.0.0"\n${CMD}`);
    const msg = r.errors.find((e) => e.path === "plugin.name")!.message;
    expect(msg).not.toContain("\u001b");
    expect(msg).not.toContain("\u0007");
    expect(msg).toContain("\\x1b]52;c;");
  });

  test("huge values are shortened in messages", () => {
    const r = parseManifest(`[plugin]\nname = "demo"\nversion = "${"9".repeat(100_000)}x"\n${CMD}`);
    const msg = r.errors.find((e) => e.path === "plugin.version")!.message;
    expect(msg.length).toBeLessThan(300);
    expect(msg).toContain("…");
  });

  test("a valid manifest fills capability defaults and keeps only known hooks", () => {
    const r = parseManifest(`${HEAD}protocol = "fledge-v1"\n${CMD}[hooks]\nbuild = "make"\npre_commit = "nope"\n[capabilities]\nstore = true\n`);
    expect(r.errors).toEqual([]);
    expect(r.manifest).toEqual({
      plugin: { name: "demo", version: "1.0.0", description: "d", author: "a", protocol: "fledge-v1" },
      commands: [{ name: "demo", binary: "bin/demo" }],
      hooks: { build: "make" },
      capabilities: { exec: false, store: true, metadata: false, filesystem: "none", network: false },
      runtime: "native",
    });
  });

  test("an explicit runtime wins over the binary's name when the file does not exist", () => {
    const r = parseManifest(`${HEAD}runtime = "native"\n[[commands]]\nname = "demo"\nbinary = "demo.wasm"\n`);
    expect(r.errors).toEqual([]);
    expect(r.manifest?.runtime).toBe("native");
  });

  test("unknown keys are ignored without --strict", () => {
    const r = parseManifest(`${HEAD}license = "MIT"\nkeywords = ["a"]\n${CMD}args = [{ name = "x" }]\n[extra]\ny = 1\n`);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });
});
