/**
 * The Rust scaffold (`fledge plugins create NAME --wasm`): a cargo package on the
 * fledge-plugin-sdk crate, vendored into the plugin as `fledge-plugin-sdk/` and
 * referenced by path, so it builds offline wherever it is created and wherever it is
 * installed from. The build hook is `sh build.sh`: it picks the first Rust that has
 * a WASI standard library (rustup's `wasm32-wasip1` on current Rust, Debian's
 * `wasm32-wasi` on older Rust), builds with that toolchain's cargo, and copies the
 * module to `NAME.wasm`, the path plugin.toml names whatever the target was.
 */
import { RUST_SDK_FILES } from "./sdk-sources.ts";
import { WASM_NO_CAPABILITIES, manifestHead, tomlString as toml } from "./manifest.ts";
import { RUST_RELEASE_PROFILE, RUST_WASI_TARGETS } from "../../core/index.ts";

export const RUST_BUILD_HOOK = "sh build.sh";

/** The build script; `name` is a checked plugin name (letters, digits, '-', '_'). */
export function rustBuildScript(name: string): string {
  return `#!/bin/sh
# Build ${name}.wasm with the first Rust toolchain that has a WASI standard library:
# ${RUST_WASI_TARGETS[0]} (current Rust: rustup target add ${RUST_WASI_TARGETS[0]}) or ${RUST_WASI_TARGETS[1]} (older
# Rust, e.g. Debian/Ubuntu: apt install rustc cargo libstd-rust-dev-wasm32).
# fledge runs this as the build hook (\`sh build.sh\`, in the plugin folder).
set -eu
cd "$(dirname "$0")"
for rustc in "\${RUSTC:-}" rustc /usr/bin/rustc; do
  [ -n "$rustc" ] || continue
  path=$(command -v "$rustc" 2>/dev/null) || continue
  sysroot=$("$path" --print sysroot 2>/dev/null) || continue
  for target in ${RUST_WASI_TARGETS.join(" ")}; do
    [ -d "$sysroot/lib/rustlib/$target/lib" ] || continue
    cargo="$(dirname "$path")/cargo"
    [ -x "$cargo" ] || cargo=cargo
    echo "building with $("$path" --version) for $target" >&2
    RUSTC="$path" "$cargo" build --offline --release --target "$target"
    cp "target/$target/release/plugin.wasm" ${name}.wasm
    exit 0
  done
done
echo "no Rust toolchain with a WASI target found: run 'rustup target add wasm32-wasip1', or on Debian/Ubuntu 'apt install rustc cargo libstd-rust-dev-wasm32'" >&2
exit 1
`;
}

/** Cargo.toml's [profile.release] lines, from the shared table. */
function releaseProfile(): string {
  return Object.entries(RUST_RELEASE_PROFILE)
    .map(([k, v]) => `${k} = ${typeof v === "string" ? toml(v) : String(v)}\n`)
    .join("");
}

export function rustFiles(name: string, description: string): Record<string, string> {
  const files: Record<string, string> = {
    "plugin.toml": `${manifestHead(name, description, "wasm", `${name}.wasm`)}[hooks]
# Run without a shell, in the plugin folder: picks a Rust with a WASI target and
# writes ${name}.wasm (see build.sh).
build = ${toml(RUST_BUILD_HOOK)}

${WASM_NO_CAPABILITIES}# To call HTTP APIs with fledge_plugin_sdk::http, set network = true and list each
# host (host or host:port; loopback and private addresses only when written literally):
# hosts = ["api.example.com"]
`,
    "Cargo.toml": `[package]
name = ${toml(`fledge-plugin-${name}`)}
version = "0.1.0"
edition = "2021"
publish = false

[[bin]]
name = "plugin"
path = "src/main.rs"

[dependencies]
# Vendored by \`fledge plugins create\`: builds offline, no registry needed.
fledge-plugin-sdk = { path = "fledge-plugin-sdk" }

[profile.release]
${releaseProfile()}
# This plugin is its own workspace, even when created inside another cargo project.
[workspace]
`,
    "src/main.rs": `//! ${name}: a sandboxed fledge plugin (fledge-v1 over the \`fledge\` wasm imports).
use fledge_plugin_sdk as fledge;

fn main() {
    let init = fledge::init();
    if init.args.is_empty() {
        fledge::outputln(&format!("Hello from ${name}! Try: fledge ${name} some words"));
    } else {
        fledge::outputln(&format!("Hello from ${name}! Arguments: {}", init.args.join(" ")));
    }
    // More of the SDK (each needs its capability in plugin.toml):
    //   fledge::log("info", "...");                     fledge::progress("working", Some(1), Some(3));
    //   fledge::confirm("Continue?", false);            fledge::store("key", &"value".into());  // store
    //   fledge::exec("git status", None, None);          // exec
    //   fledge::http(&fledge::HttpRequest::get("https://api.example.com/"));  // network + hosts
}
`,
    "build.sh": rustBuildScript(name),
    "README.md": `# ${name}

${description}

A sandboxed fledge plugin in Rust, on the fledge-plugin-sdk crate (vendored in
\`fledge-plugin-sdk/\`, so it builds offline). Build, check and install:

    sh build.sh                            # what the build hook runs; writes ${name}.wasm
    fledge plugins validate --strict .
    fledge plugins install . --yes
    fledge ${name} some words

Needs Rust with a WASI target: \`rustup target add wasm32-wasip1\`, or on
Debian/Ubuntu \`apt install rustc cargo libstd-rust-dev-wasm32\` (target wasm32-wasi).

To let users install without a toolchain, release ${name}.wasm with a SHA256SUMS
file (\`sha256sum ${name}.wasm > SHA256SUMS\`) as GitHub release assets.
`,
    ".gitignore": `target/\nCargo.lock\n${name}.wasm\n*.cwasm\n*.cwasm.sha256\nstate.json\ndata/\n`,
  };
  for (const [rel, text] of Object.entries(RUST_SDK_FILES)) files[`fledge-plugin-sdk/${rel}`] = text;
  return files;
}
