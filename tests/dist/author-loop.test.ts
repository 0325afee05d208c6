/**
 * The compiled binary, end to end, as a plugin author and a new user meet it: the
 * examples install from a clone (the quick start's next step), the author loop
 * (install . -> edit -> build -> run, native and wasm) works without reinstalling, a
 * linked plugin.toml asking for more is refused, and an automatic build (cargo) runs
 * where the toolchain is installed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";

const out = tempDir("fledge-dist-loop-");
const bin = join(out.path, "fledge");
const WAT2WASM = Bun.which("wat2wasm");
const CARGO = Bun.which("cargo") ?? (existsSync("/root/.cargo/bin/cargo") ? "/root/.cargo/bin/cargo" : null);
if (!WAT2WASM) console.log("author-loop: wat2wasm not found; the wasm rebuild step is skipped (apt-get install wabt)");
if (!CARGO) console.log("author-loop: cargo not found; the automatic-build step is skipped (install Rust)");

beforeAll(() => {
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build.ts"), bin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
}, 180_000);
afterAll(() => out.cleanup());

function world(): { cfg: string; work: string; run: (args: string[], cwd?: string, extra?: Record<string, string>) => ReturnType<typeof runFledge> } {
  const t = tempDir("fledge-loop-");
  afterAll(t.cleanup);
  const cfg = join(t.path, "config");
  return { cfg, work: t.path, run: (args, cwd = t.path, extra = {}) => runFledge(args, { bin, cwd, env: { FLEDGE_CONFIG_DIR: cfg, ...extra }, timeoutMs: 120_000 }) };
}

describe("the compiled binary: examples and the author loop", () => {
  test("the examples from the README install from a clone and run", () => {
    const w = world();
    expect(w.run(["plugins", "install", "./examples/hello-wasm", "--yes"], ROOT).code).toBe(0);
    expect(w.run(["hello-wasm"]).stdout).toBe("hello from wasm\n");
    expect(w.run(["plugins", "install", "./examples/hello-native", "--yes", "--trust-native"], ROOT).code).toBe(0);
    const native = w.run(["hello-native"]);
    expect(native.code).toBe(0);
    expect(native.stdout).toContain("hello");
    expect(w.run(["plugins", "list"]).stdout).toContain(`live link to ${join(ROOT, "examples", "hello-wasm")}`);
  }, 60_000);

  test("native: create -> install . -> edit -> run, no reinstall", () => {
    const w = world();
    expect(w.run(["plugins", "create", "loopy"]).code).toBe(0);
    const dir = join(w.work, "loopy");
    const inst = w.run(["plugins", "install", ".", "--yes", "--trust-native"], dir);
    expect(inst.stderr).not.toContain("error");
    expect(inst.code).toBe(0);
    const first = w.run(["loopy"]);
    expect(first.code).toBe(0);
    const toml = readFileSync(join(dir, "plugin.toml"), "utf8");
    const binary = /binary\s*=\s*"([^"]+)"/.exec(toml)![1]!;
    writeFileSync(join(dir, binary), "#!/bin/sh\necho edited by the author\n");
    const second = w.run(["loopy"]);
    expect(second.stderr).not.toContain("refusing");
    expect(second.stdout).toContain("edited by the author");
    const verify = w.run(["plugins", "verify"]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain("[linked]");
  }, 60_000);

  test.skipIf(!WAT2WASM)("wasm: install . -> edit the source -> wat2wasm -> run shows the new build", () => {
    const w = world();
    const dir = join(w.work, "hw");
    cpSync(join(ROOT, "examples", "hello-wasm"), dir, { recursive: true });
    expect(w.run(["plugins", "install", ".", "--yes"], dir).code).toBe(0);
    expect(w.run(["hello-wasm"]).stdout).toBe("hello from wasm\n");
    writeFileSync(join(dir, "hello.wat"), readFileSync(join(dir, "hello.wat"), "utf8").replaceAll("hello from wasm", "hello, edited!!"));
    expect(Bun.spawnSync([WAT2WASM!, "hello.wat", "-o", "hello.wasm"], { cwd: dir }).exitCode).toBe(0);
    const run = w.run(["hello-wasm"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("hello, edited!!\n");
    // Asking for more than was granted: refused until approved again.
    writeFileSync(join(dir, "plugin.toml"), readFileSync(join(dir, "plugin.toml"), "utf8").replace("store = false", "store = true"));
    const more = w.run(["hello-wasm"]);
    expect(more.code).not.toBe(0);
    expect(more.stderr).toContain("now asks for store");
    expect(w.run(["plugins", "install", ".", "--yes", "--force"], dir).code).toBe(0);
    expect(w.run(["hello-wasm"]).stdout).toBe("hello, edited!!\n");
  }, 60_000);

  test.skipIf(!CARGO)("an automatic build: a Cargo project with no build hook installs and runs", () => {
    const w = world();
    const dir = join(w.work, "rs");
    cpSync(join(ROOT, "tests", "fixtures", "install", "auto-cargo"), dir, { recursive: true });
    const path = `${join(CARGO!, "..")}${delimiter}${process.env.PATH}`;
    const r = w.run(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], w.work, { PATH: path, CARGO_NET_OFFLINE: "true" });
    expect(r.stderr).toContain("cargo build --release");
    expect(r.code).toBe(0);
    expect(w.run(["auto-cargo", "x"]).stdout).toBe("auto-cargo says x\n");
  }, 150_000);
});
