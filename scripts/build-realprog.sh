#!/usr/bin/env bash
# Rebuild the committed wasm32-wasi fixtures in tests/fixtures/realprog/ from source.
#
# The build is deterministic: fixed flags, sources compiled by relative path from the
# fixture directory (so no absolute path can end up in the module), no debug info, and
# the output is written to a temp file and renamed so a failed build never leaves a
# half-written .wasm. BUILD-INFO records the compiler that produced the committed
# modules; tests/wasi-real/realprog.test.ts rebuilds with the same flags and checks the
# committed bytes are current when the local clang is that same version.
#
# Usage: scripts/build-realprog.sh            (CLANG=..., WASI_SYSROOT=... to override)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here/tests/fixtures/realprog"

CLANG="${CLANG:-clang}"
SYSROOT="${WASI_SYSROOT:-/usr}"
# Keep these flags in sync with WASM_FLAGS in tests/wasi-real/realprog-lib.ts.
FLAGS=(--target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -Wall -Wextra -Werror)

for src in fstool.c escape-probe.c; do
  out="${src%.c}.wasm"
  "$CLANG" "${FLAGS[@]}" -o "$out.tmp" "$src"
  mv -f "$out.tmp" "$out"
  echo "built tests/fixtures/realprog/$out ($(wc -c <"$out") bytes)"
done

"$CLANG" --version | head -n 1 >BUILD-INFO
echo "wrote tests/fixtures/realprog/BUILD-INFO: $(cat BUILD-INFO)"
