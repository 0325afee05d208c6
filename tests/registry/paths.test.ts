import { describe, expect, test } from "bun:test";
import { posix, win32 } from "node:path";
import { assertSafePathSegment, configDir, fledgePaths } from "../../src/registry/index.ts";

describe("configDir precedence", () => {
  test("FLEDGE_CONFIG_DIR wins over XDG_CONFIG_HOME and HOME", () => {
    expect(configDir({ FLEDGE_CONFIG_DIR: "/a/b", XDG_CONFIG_HOME: "/x", HOME: "/h" }, "linux")).toBe("/a/b");
  });

  test("XDG_CONFIG_HOME/fledge when FLEDGE_CONFIG_DIR is unset", () => {
    expect(configDir({ XDG_CONFIG_HOME: "/x", HOME: "/h" }, "linux")).toBe("/x/fledge");
  });

  test("empty or blank values are ignored", () => {
    expect(configDir({ FLEDGE_CONFIG_DIR: "", XDG_CONFIG_HOME: "/x", HOME: "/h" }, "linux")).toBe("/x/fledge");
    expect(configDir({ FLEDGE_CONFIG_DIR: "  ", XDG_CONFIG_HOME: "", HOME: "/h" }, "linux")).toBe("/h/.config/fledge");
  });

  test("platform defaults", () => {
    expect(configDir({ HOME: "/home/u" }, "linux")).toBe("/home/u/.config/fledge");
    expect(configDir({ HOME: "/Users/u" }, "darwin")).toBe("/Users/u/Library/Application Support/fledge");
    expect(configDir({ APPDATA: "C:\\Users\\u\\AppData\\Roaming", USERPROFILE: "C:\\Users\\u" }, "win32")).toBe(
      "C:\\Users\\u\\AppData\\Roaming\\fledge",
    );
    expect(configDir({ USERPROFILE: "C:\\Users\\u" }, "win32")).toBe("C:\\Users\\u\\AppData\\Roaming\\fledge");
  });

  test("XDG_CONFIG_HOME applies on macOS too (explicit user choice)", () => {
    expect(configDir({ XDG_CONFIG_HOME: "/x", HOME: "/Users/u" }, "darwin")).toBe("/x/fledge");
  });

  test("a relative FLEDGE_CONFIG_DIR is made absolute", () => {
    expect(posix.isAbsolute(configDir({ FLEDGE_CONFIG_DIR: "rel/dir" }, "linux"))).toBe(true);
    expect(win32.isAbsolute(configDir({ FLEDGE_CONFIG_DIR: "C:\\cfg" }, "win32"))).toBe(true);
  });
});

describe("fledgePaths", () => {
  const p = fledgePaths({ FLEDGE_CONFIG_DIR: "/cfg" }, "linux");

  test("everything lives under the config dir", () => {
    expect(p.configDir).toBe("/cfg");
    expect(p.pluginsDir).toBe("/cfg/plugins");
    expect(p.binDir).toBe("/cfg/plugins/bin");
    expect(p.registryFile).toBe("/cfg/plugins.toml");
    expect(p.configFile).toBe("/cfg/config.toml");
    expect(p.lockFile).toBe("/cfg/plugins.toml.lock");
    expect(p.pluginDir("hello")).toBe("/cfg/plugins/hello");
    expect(p.stateFile("hello")).toBe("/cfg/plugins/hello/state.json");
    expect(p.dataDir("hello")).toBe("/cfg/plugins/hello/data");
  });

  test("plugin names that would escape plugins/ are refused", () => {
    for (const bad of ["", ".", "..", "../x", "a/b", "a\\b", "C:evil", "nul\0byte"]) {
      expect(() => p.pluginDir(bad)).toThrow(/Invalid plugin name/);
      expect(() => p.stateFile(bad)).toThrow(/single path segment/);
    }
    expect(assertSafePathSegment("my-plugin.v2")).toBe("my-plugin.v2");
  });

  test("defaults to process.env", () => {
    const saved = process.env.FLEDGE_CONFIG_DIR;
    process.env.FLEDGE_CONFIG_DIR = "/from/env";
    try {
      expect(fledgePaths().configDir).toBe("/from/env");
    } finally {
      if (saved === undefined) delete process.env.FLEDGE_CONFIG_DIR;
      else process.env.FLEDGE_CONFIG_DIR = saved;
    }
  });
});
