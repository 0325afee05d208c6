#!/usr/bin/env bash
# Rebuild the fledge-v1 compatibility guests in tests/fixtures/compat from their C
# sources, the way published wasm plugins are built (wasm32-wasi, importing
# fledge.send/recv/exit and the capability functions).
#
#   scripts/build-compat.sh [OUT_DIR]
#
# Flags are fixed and the toolchain is deterministic, so a rebuild is byte-identical
# to the committed .wasm (tests/run/compat-fresh.test.ts checks this). With OUT_DIR
# the modules are written there instead of beside their sources.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$HERE/tests/fixtures/compat"
OUT="${1:-$SRC}"
mkdir -p "$OUT"

CLANG="${CLANG:-clang}"
SYSROOT="${WASI_SYSROOT:-/usr}"
CFLAGS=(--target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -std=c11 -Wall -Wextra -Werror
        -Wno-unused-function -Wno-unused-parameter
        "-ffile-prefix-map=$SRC=." -s)

cd "$SRC"
for c in compat-*.c; do
  echo "clang    $c" >&2
  "$CLANG" "${CFLAGS[@]}" -o "$OUT/${c%.c}.wasm" "$c"
  chmod 644 "$OUT/${c%.c}.wasm"
done
