#!/usr/bin/env bash
# Install everything fledge's build and tests need on a fresh Debian/Ubuntu machine:
# system tools from apt (only those missing), then the pinned npm dependencies (Bun included).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v git >/dev/null || need+=(git)
# Later parts add: binaryen (wasm-opt, fuzzing), wabt (wat2wasm, guest freshness check).
if [ "${#need[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install: ${need[*]}" >&2
    exit 1
  fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
