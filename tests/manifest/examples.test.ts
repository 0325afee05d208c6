/** The example plugins in tests/fixtures/plugins are what their README says. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadManifest } from "../../src/manifest/index.ts";
import { ROOT } from "../helpers/cli.ts";

const PLUGINS = join(ROOT, "tests", "fixtures", "plugins");

describe("example plugins", () => {
  test("hello-wasm: a clean wasm plugin manifest, also under --strict", () => {
    const r = loadManifest(join(PLUGINS, "hello-wasm"), { strict: true });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.manifest).toEqual({
      plugin: {
        name: "hello-wasm",
        version: "0.1.0",
        description: "Says hello from inside the WASI sandbox",
        author: "fledge",
        protocol: "fledge-v1",
        runtime: "wasm",
      },
      commands: [{ name: "hello-wasm", description: "Print a greeting from a sandboxed wasm module", binary: "hello.wasm" }],
      hooks: {},
      capabilities: { exec: false, store: false, metadata: false, filesystem: "none", network: false },
      runtime: "wasm",
    });
  });

  test("hello.wasm is a valid module exporting memory and _start, importing only WASI", () => {
    const mod = new WebAssembly.Module(readFileSync(join(PLUGINS, "hello-wasm", "hello.wasm")));
    expect(WebAssembly.Module.exports(mod).map((e) => e.name).sort()).toEqual(["_start", "memory"]);
    expect(new Set(WebAssembly.Module.imports(mod).map((i) => i.module))).toEqual(new Set(["wasi_snapshot_preview1"]));
  });

  test("hello-native: a clean native plugin whose script runs", () => {
    const r = loadManifest(join(PLUGINS, "hello-native"), { strict: true });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.manifest?.runtime).toBe("native");
    expect(r.manifest?.plugin.protocol).toBeUndefined();
    const run = Bun.spawnSync([join(PLUGINS, "hello-native", "bin", "hello-native"), "a", "b"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toBe("hello from a native plugin, a b\n");
  });
});

describe("examples/ (linked from the README's quick start)", () => {
  test("are the same files as the tested fixtures", () => {
    for (const [plugin, files] of [
      ["hello-wasm", ["plugin.toml", "hello.wat", "hello.wasm"]],
      ["hello-native", ["plugin.toml", "bin/hello-native"]],
    ] as const) {
      for (const f of files) expect(readFileSync(join(ROOT, "examples", plugin, f))).toEqual(readFileSync(join(PLUGINS, plugin, f)));
    }
  });
});
