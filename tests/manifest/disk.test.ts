/**
 * Rules that look at the plugin directory: binaries that exist or not, symlinks that
 * lead out, files that are not files, and runtimes that contradict the binary's bytes.
 * Every case builds a real directory; nothing is mocked.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspectBinary, loadManifest, resolveRuntime, type ManifestResult, type Problem } from "../../src/manifest/index.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { expectFledgeError } from "../helpers/errors.ts";

const HELLO_WASM = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm");

let tmp: { path: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir("fledge-manifest-");
});
afterEach(() => tmp.cleanup());

/** A plugin dir with this manifest body (after a complete [plugin] table) and files. */
function plugin(body: string, files: Record<string, string | Uint8Array> = {}, plugin = `name = "demo"\nversion = "1.0.0"\ndescription = "d"\nauthor = "a"\n`): string {
  const dir = join(tmp.path, "demo");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "plugin.toml"), `[plugin]\n${plugin}${body}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const script = "#!/bin/sh\necho hi\n";
const cmd = (binary: string, name = "demo"): string => `[[commands]]\nname = "${name}"\nbinary = "${binary}"\n`;
const at = (list: Problem[], path: string): string[] => list.filter((p) => p.path === path).map((p) => p.message);

function executable(dir: string, rel: string): void {
  chmodSync(join(dir, rel), 0o755);
}

describe("binaries on disk", () => {
  test("an existing executable native binary is clean", () => {
    const dir = plugin(cmd("bin/demo"), { "bin/demo": script });
    executable(dir, "bin/demo");
    const r = loadManifest(dir);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.manifest?.runtime).toBe("native");
    expect(r.pluginDir).toBe(dir);
  });

  test("missing binary without a build hook is an error (the original's rule)", () => {
    const r = loadManifest(plugin(cmd("bin/demo")));
    expect(at(r.errors, "commands[0].binary")).toEqual([
      `Command 'demo' binary 'bin/demo' not found and no build hook defined: build it first, or add [hooks] build = "..." that creates it`,
    ]);
  });

  test("missing binary with a build hook is a warning", () => {
    const r = loadManifest(plugin(`${cmd("bin/demo")}[hooks]\nbuild = "make"\n`));
    expect(r.errors).toEqual([]);
    expect(at(r.warnings, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin/demo' not found (may be created by build hook)"]);
  });

  test("a native binary that is not executable is a warning", () => {
    const r = loadManifest(plugin(cmd("bin/demo"), { "bin/demo": script }));
    expect(r.errors).toEqual([]);
    expect(at(r.warnings, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin/demo' is not executable: run chmod +x on it"]);
  });

  test("a directory as binary is an error", () => {
    const dir = plugin(cmd("bin"));
    mkdirSync(join(dir, "bin"));
    expect(at(loadManifest(dir).errors, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin' is a directory, not a regular file"]);
  });

  test("a FIFO as binary is an error and does not hang", () => {
    const dir = plugin(cmd("bin/pipe"));
    mkdirSync(join(dir, "bin"));
    const made = Bun.spawnSync(["mkfifo", join(dir, "bin", "pipe")]);
    expect(made.exitCode).toBe(0);
    expect(at(loadManifest(dir).errors, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin/pipe' is a special file, not a regular file"]);
  });

  test("a symlink to a file outside the plugin dir is an error", () => {
    const dir = plugin(cmd("bin/sh"));
    mkdirSync(join(dir, "bin"));
    symlinkSync("/bin/sh", join(dir, "bin", "sh"));
    const msgs = at(loadManifest(dir).errors, "commands[0].binary");
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatch(/^Command 'demo' binary 'bin\/sh' resolves through a symlink to '.*', outside the plugin directory$/);
  });

  test("a relative symlink climbing out of the dir is an error", () => {
    writeFileSync(join(tmp.path, "outside"), script);
    const dir = plugin(cmd("bin/tool"));
    mkdirSync(join(dir, "bin"));
    symlinkSync("../../outside", join(dir, "bin", "tool"));
    expect(at(loadManifest(dir).errors, "commands[0].binary")[0]).toContain("outside the plugin directory");
  });

  test("a symlinked directory in the middle of the path is followed and caught", () => {
    const dir = plugin(cmd("tools/env"));
    symlinkSync("/usr/bin", join(dir, "tools"));
    expect(at(loadManifest(dir).errors, "commands[0].binary")[0]).toContain("resolves through a symlink to '/usr/bin/env'");
  });

  test("a dangling symlink pointing outside is an error, not 'not found'", () => {
    const dir = plugin(`${cmd("bin/x")}[hooks]\nbuild = "make"\n`);
    mkdirSync(join(dir, "bin"));
    symlinkSync("/nonexistent/fledge/x", join(dir, "bin", "x"));
    const r = loadManifest(dir);
    expect(at(r.errors, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin/x' resolves through a symlink to '/nonexistent/fledge/x', outside the plugin directory"]);
    expect(at(r.warnings, "commands[0].binary")).toEqual([]);
  });

  test("a symlink that stays inside the dir is fine", () => {
    const dir = plugin(cmd("bin/demo"), { "build/out/demo": script });
    executable(dir, "build/out/demo");
    mkdirSync(join(dir, "bin"));
    symlinkSync("../build/out/demo", join(dir, "bin", "demo"));
    expect(loadManifest(dir).errors).toEqual([]);
  });

  test("a symlink loop is reported, not followed forever", () => {
    const dir = plugin(cmd("bin/a"));
    mkdirSync(join(dir, "bin"));
    symlinkSync("b", join(dir, "bin", "a"));
    symlinkSync("a", join(dir, "bin", "b"));
    expect(at(loadManifest(dir).errors, "commands[0].binary")).toEqual(["Command 'demo' binary 'bin/a' cannot be read: too many levels of symbolic links"]);
  });

  test("a plugin dir that is itself a symlink (a live-linked install) still works", () => {
    const dir = plugin(cmd("bin/demo"), { "bin/demo": script });
    executable(dir, "bin/demo");
    const link = join(tmp.path, "linked");
    symlinkSync(dir, link);
    const r = loadManifest(link);
    expect(r.errors).toEqual([]);
    expect(inspectBinary(link, "bin/demo")).toEqual({ kind: "file", wasm: false, executable: true });
  });
});

describe("runtime against the binary's bytes", () => {
  const wasm = (): Uint8Array => new Uint8Array(readFileSync(HELLO_WASM));
  const v1 = `name = "demo"\nversion = "1.0.0"\ndescription = "d"\nauthor = "a"\nprotocol = "fledge-v1"\n`;

  test('runtime = "native" with a real \\0asm binary is an error', () => {
    const r = loadManifest(plugin(cmd("bin/demo"), { "bin/demo": wasm() }, `${v1}runtime = "native"\n`));
    expect(at(r.errors, "commands[0].binary")).toEqual([
      `plugin.runtime is "native" but Command 'demo' binary 'bin/demo' is a WebAssembly module: set runtime = "wasm" (with protocol = "fledge-v1")`,
    ]);
  });

  test('runtime = "wasm" with a shell script is an error', () => {
    const dir = plugin(cmd("demo.wasm"), { "demo.wasm": script }, `${v1}runtime = "wasm"\n`);
    const r = loadManifest(dir);
    expect(at(r.errors, "commands[0].binary")).toEqual([
      `plugin.runtime is "wasm" but Command 'demo' binary 'demo.wasm' is not a WebAssembly module (it does not start with \\0asm): rebuild it for wasm32-wasip1 or set runtime = "native"`,
    ]);
  });

  test("no declared runtime: a \\0asm file is wasm whatever its name", () => {
    const dir = plugin(cmd("bin/demo"), { "bin/demo": wasm() }, v1);
    const r = loadManifest(dir);
    expect(r.errors).toEqual([]);
    expect(r.manifest?.runtime).toBe("wasm");
    expect(at(r.warnings, "commands[0].binary")[0]).toStartWith("WASM command 'demo' binary 'bin/demo' does not end in .wasm");
    expect(resolveRuntime(r.manifest!, dir)).toBe("wasm");
  });

  test("no declared runtime: a .wasm file that is not wasm is native, with a warning", () => {
    const dir = plugin(cmd("demo.wasm"), { "demo.wasm": script });
    executable(dir, "demo.wasm");
    const r = loadManifest(dir);
    expect(r.errors).toEqual([]);
    expect(r.manifest?.runtime).toBe("native");
    expect(at(r.warnings, "commands[0].binary")).toEqual(["Command 'demo' binary 'demo.wasm' ends in .wasm but is not a WebAssembly module (it does not start with \\0asm)"]);
  });

  test("a wasm plugin with its module present needs no build hook", () => {
    const r = loadManifest(plugin(cmd("demo.wasm"), { "demo.wasm": wasm() }, `${v1}runtime = "wasm"\n`));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  test("commands mixing a wasm module and a script are an error", () => {
    const dir = plugin(`${cmd("a.bin", "a")}${cmd("b.sh", "b")}`, { "a.bin": wasm(), "b.sh": script }, v1);
    executable(dir, "b.sh");
    expect(at(loadManifest(dir).errors, "commands[1].binary")).toEqual([
      "Command 'a' binary 'a.bin' is WebAssembly but Command 'b' binary 'b.sh' is native: a plugin has a single runtime, so split it into two plugins",
    ]);
  });

  test("resolveRuntime: explicit wins; else magic bytes; else the .wasm name; else native", () => {
    const dir = plugin("", { "mod.bin": wasm(), "run.sh": script });
    const m = (binary: string, runtime?: "wasm" | "native") => ({ plugin: { name: "x", version: "1.0.0", ...(runtime ? { runtime } : {}) }, commands: [{ name: "x", binary }] });
    expect(resolveRuntime(m("run.sh", "wasm"), dir)).toBe("wasm");
    expect(resolveRuntime(m("mod.bin", "native"), dir)).toBe("native");
    expect(resolveRuntime(m("mod.bin"), dir)).toBe("wasm");
    expect(resolveRuntime(m("run.sh"), dir)).toBe("native");
    expect(resolveRuntime(m("later.wasm"), dir)).toBe("wasm");
    expect(resolveRuntime(m("later"), dir)).toBe("native");
    expect(resolveRuntime(m("mod.bin"))).toBe("native"); // no dir: only the name counts
    expect(resolveRuntime({ plugin: { name: "x", version: "1" }, commands: [] })).toBe("native");
  });
});

describe("finding and reading plugin.toml", () => {
  const thrown = expectFledgeError;

  test("a missing path throws manifest_not_found naming the path", () => {
    const e = thrown(() => loadManifest(join(tmp.path, "nope")));
    expect(e.code).toBe("manifest_not_found");
    expect(e.message).toBe(`No plugin.toml found at ${join(tmp.path, "nope")}: that path does not exist`);
  });

  test("a directory without plugin.toml throws the original's message", () => {
    const e = thrown(() => loadManifest(tmp.path));
    expect(e.message).toBe(`No plugin.toml found in ${tmp.path}. Point to a directory containing plugin.toml.`);
  });

  test("a directory named plugin.toml is not a manifest", () => {
    mkdirSync(join(tmp.path, "plugin.toml"));
    expect(thrown(() => loadManifest(tmp.path)).code).toBe("manifest_not_found");
  });

  test("a path to another .toml file validates it against its own directory", () => {
    const dir = plugin("", { "bin/demo": script });
    executable(dir, "bin/demo");
    writeFileSync(join(dir, "plugin-alt.toml"), `[plugin]\nname = "alt"\nversion = "1.0.0"\ndescription = "d"\nauthor = "a"\n${cmd("bin/demo")}`);
    const r: ManifestResult = loadManifest(join(dir, "plugin-alt.toml"));
    expect(r.errors).toEqual([]);
    expect(r.pluginName).toBe("alt");
    expect(r.pluginDir).toBe(dir);
  });

  test("invalid UTF-8 is one clear error", () => {
    const dir = join(tmp.path, "bad");
    mkdirSync(dir);
    writeFileSync(join(dir, "plugin.toml"), new Uint8Array([0x5b, 0x70, 0xff, 0xfe, 0x5d]));
    expect(loadManifest(dir).errors).toEqual([{ path: "", message: "Invalid plugin.toml: the file is not valid UTF-8 text" }]);
  });

  test("a manifest over 1 MiB is refused without parsing it", () => {
    const dir = join(tmp.path, "big");
    mkdirSync(dir);
    writeFileSync(join(dir, "plugin.toml"), `# ${"x".repeat(2 * 1024 * 1024)}\n`);
    const r = loadManifest(dir);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toMatch(/^plugin.toml is too large \(1048577 bytes; the limit is 1048576\)$/);
  });

  test("a FIFO named plugin.toml is refused without blocking", () => {
    const dir = join(tmp.path, "fifo");
    mkdirSync(dir);
    expect(Bun.spawnSync(["mkfifo", join(dir, "plugin.toml")]).exitCode).toBe(0);
    expect(thrown(() => loadManifest(dir)).code).toBe("manifest_not_found");
    expect(thrown(() => loadManifest(join(dir, "plugin.toml"))).code).toBe("manifest_not_found");
  });
});
