/** `validate` on a wasm plugin without a build hook suggests the build command for its sources. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runFledge, tempDir } from "../helpers/cli.ts";

const tmp = tempDir("fledge-suggest-");
afterAll(tmp.cleanup);

function plugin(name: string, binary: string, files: Record<string, string>): string {
  const dir = join(tmp.path, name);
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "plugin.toml"), `[plugin]\nname = "${name}"\nversion = "0.1.0"\ndescription = "d"\nauthor = "a"\nprotocol = "fledge-v1"\nruntime = "wasm"\n\n[[commands]]\nname = "${name}"\nbinary = "${binary}"\n`);
  for (const [rel, text] of Object.entries(files)) writeFileSync(join(dir, rel), text);
  return dir;
}

function warnings(dir: string): string {
  const r = runFledge(["plugins", "validate", dir, "--json"], { env: { FLEDGE_CONFIG_DIR: join(tmp.path, "cfg") } });
  return JSON.stringify(JSON.parse(r.stdout));
}

describe("validate suggests the build command", () => {
  test("Rust: cargo for the target the binary path names", () => {
    expect(warnings(plugin("r1", "target/wasm32-wasip1/release/r1.wasm", { "Cargo.toml": "[package]\n" }))).toContain("cargo build --target wasm32-wasip1 --release");
    const old = warnings(plugin("r2", "target/wasm32-wasi/release/r2.wasm", { "Cargo.toml": "[package]\n" }));
    expect(old).toContain("cargo build --target wasm32-wasi --release");
    expect(old).toContain("names the target wasm32-wasi");
  });

  test("C: clang for wasm32-wasi with the sources and the binary", () => {
    expect(warnings(plugin("c1", "c1.wasm", { "src/main.c": "int main(void){return 0;}\n" }))).toContain("clang --target=wasm32-wasi --sysroot=/usr -O2 -s -o c1.wasm src/main.c");
  });
});
