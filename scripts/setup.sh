#!/usr/bin/env bash
# Install everything fledge's build and tests need on a fresh Debian/Ubuntu machine:
# system packages from apt (only those missing), then the pinned npm dependencies
# (Bun itself comes from npm, pinned in package.json).
#
# Debian packages and why:
#   git                           installer tests use real git repositories
#   binaryen                      wasm-opt -ttf generates random modules for the rewriter fuzz tests
#   wabt                          wat2wasm: checks the committed WAT guests match their sources
#   clang lld wasi-libc
#   libclang-rt-14-dev-wasm32     build the C guests for wasm32-wasi (freshness checks, fledge plugins create --lang c)
#   rustc cargo libstd-rust-dev-wasm32
#                                 the Rust SDK (src/sdk/rust) and the Rust scaffold (fledge plugins create --wasm),
#                                 built offline for wasm32-wasi (Debian's Rust; current rustup Rust calls it wasm32-wasip1)
#   util-linux (script)           pseudo-terminal tests of interactive prompts
#   time                          GNU time: peak RSS of fledge under output floods (tests/run/output-flood.test.ts)
#   tmux                          a real terminal emulator: untrusted-text tests, and what an 80-column screen shows (tests/ui)
#   strace                        crash tests: kill -9 at every file-changing syscall of install/update/remove
#   openssl                       a self-signed loopback TLS server: fledge.http refuses a certificate that does not verify
#   jq zsh fish wget              the README's shell examples, completion and install-script tests
#   python3                       confinement tests: a hostile plugin opening sockets and ioctls
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(git binaryen wabt clang lld wasi-libc libclang-rt-14-dev-wasm32 rustc cargo libstd-rust-dev-wasm32 util-linux time tmux strace openssl jq zsh fish wget python3 golang-go)
need=()
if command -v dpkg-query >/dev/null; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
fi
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "setup: installing ${need[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: not a Debian machine; please install: ${need[*]} (tests that need them are skipped)" >&2
  fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
echo "setup: done. Next: npm run build && dist/fledge canary (the sandbox self-test), then dist/fledge --help" >&2
