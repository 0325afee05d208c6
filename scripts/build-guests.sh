#!/usr/bin/env bash
# Rebuild every WASI test guest in tests/fixtures/wasi from its source.
#
#   scripts/build-guests.sh [OUT_DIR]
#   scripts/build-guests.sh --print-toolchain
#
# C sources (*.c) are built with clang for wasm32-wasi against the Debian wasi-libc
# sysroot; WAT sources (*.wat) with wabt's wat2wasm. Flags are fixed and the
# toolchains are deterministic, so a rebuild is byte-identical to the committed
# .wasm (tests/wasi/guests-fresh.test.ts checks this). With OUT_DIR the modules are
# written there instead of beside their sources.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$HERE/tests/fixtures/wasi"

CLANG="${CLANG:-clang}"
WAT2WASM="${WAT2WASM:-wat2wasm}"
SYSROOT="${WASI_SYSROOT:-/usr}"

# What the bytes depend on. The committed toolchain.txt records the toolchain the
# committed modules were built with; a different toolchain may legitimately emit
# different bytes, so the freshness test only compares when these match.
toolchain() {
  "$CLANG" --version | head -n 1
  echo "wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo unknown)"
  echo "wat2wasm $("$WAT2WASM" --version)"
}
if [ "${1:-}" = "--print-toolchain" ]; then
  toolchain
  exit 0
fi

OUT="${1:-$SRC}"
mkdir -p "$OUT"
toolchain > "$OUT/toolchain.txt"
# -ffile-prefix-map/-fdebug-prefix-map keep the checkout path out of the output; -s
# drops debug info (the name section stays, so traps still show function names).
CFLAGS=(--target=wasm32-wasi "--sysroot=$SYSROOT" -O2 -std=c11 -Wall -Wextra -Werror
        -Wno-unused-function -Wno-unused-parameter
        "-ffile-prefix-map=$SRC=." -s)

cd "$SRC"
shopt -s nullglob
# Compile the C guests in parallel (each is independent); fail if any one fails.
pids=()
for c in *.c; do
  echo "clang    $c" >&2
  "$CLANG" "${CFLAGS[@]}" -o "$OUT/${c%.c}.wasm" "$c" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for w in *.wat; do
  echo "wat2wasm $w" >&2
  "$WAT2WASM" --enable-all -o "$OUT/${w%.wat}.wasm" "$w" || status=1
done
exit "$status"
