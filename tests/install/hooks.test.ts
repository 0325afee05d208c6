/** Hook command lines are split like sh words but never run by a shell; hook programs stay inside the plugin. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { detectBuild, hookArgv, splitWords } from "../../src/install/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { writeTree } from "./helpers.ts";

let tmp: { path: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir("fledge-hooks-");
});
afterEach(() => tmp.cleanup());

describe("splitWords", () => {
  test("quotes and backslashes group words; nothing is expanded", () => {
    expect(splitWords("cargo build --release")).toEqual(["cargo", "build", "--release"]);
    expect(splitWords(`sh -c 'exit 3'`)).toEqual(["sh", "-c", "exit 3"]);
    expect(splitWords(`echo "a \\"b\\" $HOME" c\\ d ''`)).toEqual(["echo", 'a "b" $HOME', "c d", ""]);
    expect(splitWords("a && b | c > d; e")).toEqual(["a", "&&", "b", "|", "c", ">", "d;", "e"]);
  });

  test("an unterminated quote is an error", () => {
    expect(() => splitWords("echo 'oops")).toThrow(/unterminated ' quote/);
    expect(() => splitWords('echo "oops')).toThrow(/unterminated " quote/);
  });
});

describe("hookArgv", () => {
  test("a hook naming a file in the plugin dir runs that file (made executable)", () => {
    const dir = writeTree(join(tmp.path, "p"), { "build.sh": { data: "#!/bin/sh\n", mode: 0o644 }, "scripts/gen": "#!/bin/sh\n" });
    expect(hookArgv("build.sh", dir)).toEqual([join(dir, "build.sh")]);
    expect(hookArgv("./scripts/gen --fast", dir)).toEqual([join(dir, "scripts/gen"), "--fast"]);
    expect(hookArgv("make all", dir)).toEqual(["make", "all"]);
  });

  test("a program path leading outside the plugin dir is refused", () => {
    const dir = writeTree(join(tmp.path, "q"), { "plugin.toml": "", "escape": { symlink: "/bin/sh" } });
    expect(() => hookArgv("../../bin/sh -c x", dir)).toThrow(/not a file inside the plugin directory/);
    expect(() => hookArgv("escape", dir)).toThrow(/leads outside the plugin directory/);
    expect(() => hookArgv("   ", dir)).toThrow(/empty/);
  });
});

describe("detectBuild", () => {
  test("build systems in the original's order, wasm-aware for Rust", () => {
    expect(detectBuild(writeTree(join(tmp.path, "r"), { "Cargo.toml": "" }), "wasm")).toMatchObject({ language: "Rust", command: "cargo build --target wasm32-wasip1 --release", tool: "cargo" });
    expect(detectBuild(join(tmp.path, "r"), "wasm", ["target/wasm32-wasi/release/x.wasm"])?.command).toBe("cargo build --target wasm32-wasi --release");
    expect(detectBuild(writeTree(join(tmp.path, "s"), { "Package.swift": "" }), "native")).toMatchObject({ command: "swift build -c release", tool: "swift", getIt: expect.stringContaining("swift.org") });
    expect(detectBuild(writeTree(join(tmp.path, "g"), { "go.mod": "", "package.json": "" }), "native")?.language).toBe("Go");
    expect(detectBuild(writeTree(join(tmp.path, "n"), { "package.json": "" }), "native")?.command).toBe("npm install");
    expect(detectBuild(writeTree(join(tmp.path, "e"), { "x": "" }), "native")).toBeNull();
  });
});
