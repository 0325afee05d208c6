/**
 * The Rust SDK (src/sdk/rust): its own unit tests (the JSON layer, natively with
 * `cargo test`), then every SDK function in a real plugin, built for wasm from the
 * scaffold and run under fledge: init/args, output, log, progress, prompt, confirm,
 * select, multi_select, store/load, exec, metadata, http (to a loopback server:
 * the listed host answers, another is refused) and exit.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { startHttpServer, type TestHttpServer } from "../helpers/http-server.ts";
import { rustWasm, skipLine } from "../helpers/toolchains.ts";
import { baseEnv, runFledgeAsync } from "../install/helpers.ts";

setDefaultTimeout(600_000);

const rust = rustWasm();
/** The cargo that goes with the rustc that has a WASI target (Debian's /usr/bin/cargo for /usr/bin/rustc). */
const cargo = rust && rust.rustc.includes("/") ? join(dirname(rust.rustc), "cargo") : "cargo";
const HAVE_CARGO = spawnSync(cargo, ["--version"]).status === 0;
if (!rust || !HAVE_CARGO) skipLine("the Rust SDK tests", "no Rust with a wasm32-wasip1/wasm32-wasi standard library and cargo (run scripts/setup.sh: rustc cargo libstd-rust-dev-wasm32)");

let srv: TestHttpServer;
let tmp: { path: string; cleanup: () => void };
beforeAll(async () => {
  srv = await startHttpServer();
  tmp = tempDir("fledge-sdk-");
});
afterAll(() => {
  srv.stop();
  tmp.cleanup();
});

describe.skipIf(!rust || !HAVE_CARGO)("fledge-plugin-sdk", () => {
  test("its own unit tests pass (cargo test, offline, natively)", () => {
    const dir = join(tmp.path, "sdk-copy");
    cpSync(join(ROOT, "src/sdk/rust"), dir, { recursive: true, filter: (s) => !s.includes("/target") });
    // rustdoc (for the doc test) from the same toolchain as rustc, like RUSTC itself.
    const rustdoc = rust!.rustc.includes("/") ? join(dirname(rust!.rustc), "rustdoc") : "rustdoc";
    const r = spawnSync(cargo, ["test", "--offline", "--quiet"], { cwd: dir, env: { ...baseEnv(), RUSTC: rust!.rustc, RUSTDOC: rustdoc }, encoding: "utf8", timeout: 600_000 });
    expect(r.stderr + r.stdout).toContain("test result: ok. 3 passed");
    expect(r.status).toBe(0);
  });

  test("every SDK function works in a plugin run by fledge", async () => {
    const env = { FLEDGE_CONFIG_DIR: join(tmp.path, "config"), HOME: join(tmp.path, "home") };
    const fledge = (args: string[]) => runFledgeAsync(args, { env, cwd: tmp.path, timeoutMs: 300_000 });
    expect((await fledge(["plugins", "create", "sdkx", "--wasm", "-o", tmp.path])).code).toBe(0);
    const dir = join(tmp.path, "sdkx");
    writeFileSync(
      join(dir, "src/main.rs"),
      `use fledge_plugin_sdk as f;
fn main() {
    let init = f::init();
    f::log("info", "sdk log line");
    f::progress("working", Some(1), Some(2));
    f::progress_done();
    f::outputln(&format!("plugin={} v{} args={}", init.plugin_name, init.plugin_version, init.args.len()));
    f::store("k", &f::Value::from(vec!["v1", "v2"]));
    f::outputln(&format!("load={}", f::load("k").to_json()));
    let e = f::exec("echo exec-ok", None, Some(20));
    f::outputln(&format!("exec={} {}", e.code, e.stdout.trim()));
    f::outputln(&format!("meta={}", f::metadata(&["env"]).get("env").is_some()));
    f::outputln(&format!("prompt={} confirm={} select={} multi={}", f::prompt("Name?", Some("dflt"), None), f::confirm("Sure?", true), f::select("Pick", &["a", "b"], Some(1)), f::multi_select("Some", &["a", "b", "c"], &[0, 2]).join(",")));
    for url in &init.args {
        match f::http(&f::HttpRequest::get(url).header("X-Test", "1")) {
            Ok(r) => f::outputln(&format!("http {} {} x-echo={}", r.status, r.text(), r.header("X-Echo").unwrap_or(""))),
            Err(e) => f::outputln(&format!("http error {}", e)),
        }
    }
    f::exit(7);
}
`,
    );
    const toml = readFileSync(join(dir, "plugin.toml"), "utf8");
    writeFileSync(join(dir, "plugin.toml"), `${toml.slice(0, toml.indexOf("[capabilities]"))}[capabilities]\nexec = true\nstore = true\nmetadata = true\nnetwork = true\nhosts = ["127.0.0.1:${srv.port}"]\n`);
    const inst = await fledge(["plugins", "install", dir, "--yes"]);
    expect(inst.stderr).not.toContain("error");
    expect(inst.code).toBe(0);
    const run = await fledge(["sdkx", srv.url("/hello"), "http://127.0.0.1:9/"]);
    expect(run.stdout.split("\n")).toEqual([
      "plugin=sdkx v0.1.0 args=2",
      'load=["v1","v2"]',
      "exec=0 exec-ok",
      "meta=true",
      "prompt=dflt confirm=true select=b multi=a,c",
      "http 200 hello from loopback x-echo=yes",
      "http error refused: host 127.0.0.1:9 is not in the plugin's [capabilities] hosts (127.0.0.1:" + srv.port + ")",
      "",
    ]);
    expect(run.stderr).toContain("sdk log line");
    expect(run.code).toBe(7);
  });
});
