/**
 * The build commands `fledge plugins create` writes, the ones `validate` and `wasm run`
 * suggest and the one scripts/build-guests.ts runs for the committed guests all come
 * from the one table in src/core/guest-toolchain.ts: read back from the files a scaffold puts on
 * disk, each must say what the table says. (tests/install/scaffolds.test.ts builds and
 * runs the scaffolds with those commands; tests/guests-fresh.test.ts rebuilds the
 * committed guests with theirs.)
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { C_FLAGS } from "../../scripts/build-guests.ts";
import { RUST_RELEASE_PROFILE, RUST_WASI_TARGETS, wasiClangCommand, wasiClangFlags } from "../../src/core/guest-toolchain.ts";
import { createPlugin } from "../../src/install/create.ts";
import { suggestBuildCommand } from "../../src/manifest/build-suggest.ts";
import { runFledgeInProcess, tempDir } from "../helpers/cli.ts";

let tmp: { path: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir("fledge-scaffold-flags-");
});
afterEach(() => tmp.cleanup());

const read = (dir: string, rel: string): string => readFileSync(join(dir, rel), "utf8");

test("the C scaffold's build hook and README run clang with the table's flags", () => {
  const { path } = createPlugin({ name: "cflags", wasm: true, lang: "c", output: tmp.path });
  const hook = (parse(read(path, "plugin.toml")) as { hooks: { build: string } }).hooks.build;
  expect(hook.split(" ")).toEqual(["clang", ...wasiClangFlags(), "-o", "cflags.wasm", "src/main.c"]);
  expect(read(path, "README.md")).toContain(`    ${hook}\n`);
  // validate suggests the same command for a C plugin without a hook.
  expect(suggestBuildCommand(path, ["cflags.wasm"]).command).toBe(hook);
});

test("the committed guests are built with the same clang flags, plus the repository's warnings", () => {
  const sysroot = process.env.WASI_SYSROOT;
  expect(C_FLAGS.slice(0, wasiClangFlags().length)).toEqual(sysroot ? wasiClangFlags(sysroot) : wasiClangFlags());
  expect(C_FLAGS).toContain("-Werror");
});

test("the Rust scaffold's build script tries the table's targets in order, and Cargo.toml has its release profile", () => {
  const { path } = createPlugin({ name: "rflags", wasm: true, output: tmp.path });
  const loop = /for target in ([^;]+); do/.exec(read(path, "build.sh"));
  expect(loop?.[1]?.split(" ")).toEqual([...RUST_WASI_TARGETS]);
  const cargo = parse(read(path, "Cargo.toml")) as { profile: { release: Record<string, unknown> } };
  expect(cargo.profile.release).toEqual({ ...RUST_RELEASE_PROFILE });
  expect((parse(read(path, "plugin.toml")) as { hooks: { build: string } }).hooks.build).toBe("sh build.sh");
});

test("`fledge wasm run` on a file that is not wasm suggests the table's clang command", async () => {
  const file = join(tmp.path, "x.wasm");
  writeFileSync(file, "not wasm\n");
  const r = await runFledgeInProcess(["wasm", "run", file], { env: { FLEDGE_CONFIG_DIR: join(tmp.path, "config"), HOME: join(tmp.path, "home") } });
  expect(r.code).not.toBe(0);
  expect(r.stderr.replace(/\s+/g, " ")).toContain(wasiClangCommand("x.wasm", ["x.c"]).join(" "));
});
