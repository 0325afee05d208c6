#!/usr/bin/env bash
# Rebuild the sandbox canary embedded in fledge: src/canary/canary.c → canary.wasm.
# Usage: scripts/build-canary.sh [OUT.wasm]   (default: src/canary/canary.wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-src/canary/canary.wasm}"
clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -o "$out" src/canary/canary.c
