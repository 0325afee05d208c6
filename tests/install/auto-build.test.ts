/**
 * Automatic builds (the original's detection when there is no build hook and a
 * binary is missing): Cargo.toml, Package.swift, go.mod, package.json. Real builds
 * where the toolchain is installed (cargo offline with no dependencies, npm install
 * with no dependencies); stand-in programs on PATH only where the build must never
 * run (consent refused, toolchain missing, failing build).
 * Attacks: an automatic build runs the project's own code (build.rs, npm scripts), so
 * it needs the same consent as a build hook, from every tier; a failed build leaves
 * nothing behind.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { delimiter, join } from "node:path";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { pluginsState, readReg, runFledgeAsync, sandbox, writeTree } from "./helpers.ts";

setDefaultTimeout(180_000);

const CARGO_DIR = [join(process.env.HOME ?? "/root", ".cargo", "bin"), "/root/.cargo/bin", ...(process.env.PATH ?? "").split(delimiter)].find((d) => d && existsSync(join(d, "cargo")));
const GO_DIR = (process.env.PATH ?? "").split(delimiter).find((d) => d && existsSync(join(d, "go")));
const NPM_DIR = (process.env.PATH ?? "").split(delimiter).find((d) => d && existsSync(join(d, "npm")));
if (!CARGO_DIR) console.log("auto-build: cargo not found; the real Rust build test is skipped (install Rust to run it)");
if (!GO_DIR) console.log("auto-build: go not found; the real Go build test is skipped (apt-get install golang-go to run it)");
if (!NPM_DIR) console.log("auto-build: npm not found; the real npm build test is skipped (apt-get install npm to run it)");

let gh: GithubServer;
let sb: ReturnType<typeof sandbox>;
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => gh.stop());
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

function fledge(args: string[], env: Record<string, string> = {}) {
  return runFledgeAsync(args, { env: { ...sb.env, FLEDGE_GITHUB_API_URL: gh.url, ...env }, cwd: sb.root, timeoutMs: 170_000 });
}

const NATIVE_TOML = (name: string, binary: string): string =>
  `[plugin]\nname = "${name}"\nversion = "0.1.0"\ndescription = "d"\nauthor = "a"\n\n[[commands]]\nname = "${name}"\nbinary = "${binary}"\n`;

/** A folder of stand-in programs, each a shell script with `body`. */
function fakeTools(tools: Record<string, string>): string {
  const dir = join(sb.root, "fake-bin");
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

function nothingInstalled(): void {
  expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
  expect(readReg(sb.config).plugins).toEqual([]);
}

describe("real automatic builds", () => {
  test.skipIf(!CARGO_DIR)("Cargo.toml without a build hook: cargo build --release, then the command runs", async () => {
    const dir = writeTree(join(sb.root, "rs"), {
      "plugin.toml": NATIVE_TOML("hello-rs", "target/release/hello-rs"),
      "Cargo.toml": '[package]\nname = "hello-rs"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
      "src/main.rs": 'fn main() { println!("hello from rust: {}", std::env::args().skip(1).collect::<Vec<_>>().join(" ")); }\n',
    });
    const env = { PATH: `${CARGO_DIR}${delimiter}${process.env.PATH}`, CARGO_NET_OFFLINE: "true" };
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], env);
    expect(r.stderr.replace(/\s+/g, " ")).toContain("fledge will run 'cargo build --release' (Rust project detected)");
    expect(r.code).toBe(0);
    const run = await fledge(["hello-rs", "a", "b"], env);
    expect(run.stdout).toBe("hello from rust: a b\n");
    expect(run.code).toBe(0);
  });

  test.skipIf(!GO_DIR)("go.mod without a build hook: go build ., then the command runs", async () => {
    const dir = writeTree(join(sb.root, "gosrc"), {
      "plugin.toml": NATIVE_TOML("hello-go", "hello-go"),
      "go.mod": "module example.com/hello-go\n\ngo 1.19\n",
      "main.go": 'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\nfunc main() { fmt.Println("hello from go: " + strings.Join(os.Args[1:], " ")) }\n',
    });
    // Offline, with Go's build cache private to the test.
    const env = { GOFLAGS: "-mod=mod", GOPROXY: "off", GOCACHE: join(sb.root, "go-cache"), GOPATH: join(sb.root, "gopath"), GOTOOLCHAIN: "local" };
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], env);
    expect(r.stderr.replace(/\s+/g, " ")).toContain("fledge will run 'go build .' (Go project detected)");
    expect(r.code).toBe(0);
    const run = await fledge(["hello-go", "a", "b"], env);
    expect(run.stdout).toBe("hello from go: a b\n");
    expect(run.code).toBe(0);
  });

  test.skipIf(!NPM_DIR)("package.json without a build hook: npm install (its install script builds the command)", async () => {
    const dir = writeTree(join(sb.root, "js"), {
      "plugin.toml": NATIVE_TOML("hello-js", "bin/hello-js"),
      "package.json": JSON.stringify({
        name: "hello-js",
        version: "0.1.0",
        private: true,
        scripts: { install: "node make.js" },
      }),
      "make.js": "const fs=require('fs');fs.mkdirSync('bin',{recursive:true});fs.writeFileSync('bin/hello-js','#!/bin/sh\\necho built by npm install\\n',{mode:0o755});\n",
    });
    const env = { npm_config_offline: "true", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", npm_config_cache: join(sb.root, "npm-cache") };
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], env);
    expect(r.stderr.replace(/\s+/g, " ")).toContain("fledge will run 'npm install' (Node project detected)");
    expect(r.code).toBe(0);
    expect((await fledge(["hello-js"])).stdout).toBe("built by npm install\n");
  });
});

describe("what the automatic build needs", () => {
  test("the toolchain is missing: the message names it and how to get it, before any question; nothing installed", async () => {
    const dir = writeTree(join(sb.root, "go"), { "plugin.toml": NATIVE_TOML("hello-go", "hello-go"), "go.mod": "module example.com/hello\n\ngo 1.21\n", "main.go": "package main\nfunc main() {}\n" });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], { PATH: fakeTools({}) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Go project built with 'go build .', but 'go' is not installed");
    expect(r.stderr).toContain("golang-go");
    expect(r.stderr).not.toContain("Installing hello-go");
    nothingInstalled();
  });

  test("the same consent as a build hook: shown, and required from an unverified GitHub source", async () => {
    const tools = fakeTools({ cargo: "echo cargo-ran >&2; exit 1" });
    const src = writeTree(join(sb.root, "gh-rs"), { "plugin.toml": NATIVE_TOML("gh-rs", "target/release/gh-rs"), "Cargo.toml": "[package]\nname='gh-rs'\n" });
    gh.addRepo("stranger/gh-rs", { dir: src });
    const r = await fledge(["plugins", "install", "stranger/gh-rs", "--trust-native"], { PATH: `${tools}${delimiter}${process.env.PATH}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr.replace(/\s+/g, " ")).toContain("fledge will run 'cargo build --release'");
    expect(r.stderr).toContain("--yes");
    expect(r.stderr).not.toContain("cargo-ran");
    nothingInstalled();
  });

  test("a failing automatic build says which build failed and rolls back", async () => {
    const tools = fakeTools({ cargo: "echo compile error >&2; exit 3" });
    const dir = writeTree(join(sb.root, "bad-rs"), { "plugin.toml": NATIVE_TOML("bad-rs", "target/release/bad-rs"), "Cargo.toml": "[package]\nname='bad-rs'\n" });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"], { PATH: `${tools}${delimiter}${process.env.PATH}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("automatic build (cargo build --release) failed with exit code 3");
    nothingInstalled();
  });

  test("a wasm Rust project builds for wasm32-wasip1 and a failure names the missing target", async () => {
    const tools = fakeTools({ cargo: 'echo "error: can\'t find crate for std (target wasm32-wasip1 not installed)" >&2; exit 101' });
    const dir = writeTree(join(sb.root, "w-rs"), {
      "plugin.toml": `[plugin]\nname = "w-rs"\nversion = "0.1.0"\nruntime = "wasm"\nprotocol = "fledge-v1"\n\n[[commands]]\nname = "w-rs"\nbinary = "target/wasm32-wasip1/release/w-rs.wasm"\n`,
      "Cargo.toml": "[package]\nname='w-rs'\n",
    });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes"], { PATH: `${tools}${delimiter}${process.env.PATH}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cargo build --target wasm32-wasip1 --release");
    expect(r.stderr).toContain("rustup target add wasm32-wasip1");
    nothingInstalled();
  });

  test("a hook written for a shell (as in real manifests: 'cd wasm && cargo build ...') is refused before consent, naming the fix", async () => {
    const tools = fakeTools({ cd: "echo ran >&2", cargo: "echo cargo-ran >&2" });
    const dir = writeTree(join(sb.root, "sh"), {
      "plugin.toml": `${NATIVE_TOML("shy", "bin/shy")}\n[hooks]\nbuild = "cd wasm && cargo build --target wasm32-wasip1 --release"\n`,
    });
    const r = await fledge(["plugins", "install", dir, "--copy", "--trust-native"], { PATH: `${tools}${delimiter}${process.env.PATH}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("uses the shell operator '&&', but hooks run without a shell");
    expect(r.stderr).toContain("put these steps in a script (for example build.sh)");
    expect(r.stderr).not.toContain("Installing shy");
    expect(r.stderr).not.toContain("ran");
    nothingInstalled();
  });

  test("a hook naming a script file is run as that file, even with words that look like operators in its name", async () => {
    const dir = writeTree(join(sb.root, "scr"), {
      "plugin.toml": `${NATIVE_TOML("scr", "bin/scr")}\n[hooks]\nbuild = "hooks/build.sh"\n`,
      "hooks/build.sh": { data: "#!/bin/sh\nmkdir -p bin\nprintf '#!/bin/sh\\necho scripted\\n' > bin/scr\n", mode: 0o644 },
    });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).toBe(0);
    expect((await fledge(["scr"])).stdout).toBe("scripted\n");
  });

  test("no build hook and no build file: still refused, naming the missing binary", async () => {
    const dir = writeTree(join(sb.root, "none"), { "plugin.toml": NATIVE_TOML("none", "bin/none") });
    const r = await fledge(["plugins", "install", dir, "--copy", "--yes", "--trust-native"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("binary 'bin/none' not found and no build hook defined");
    nothingInstalled();
  });
});
