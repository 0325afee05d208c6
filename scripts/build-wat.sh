#!/usr/bin/env bash
# Rebuilds every tests/fixtures/wat/**/*.wat into the .wasm beside it.
# The .wasm files are committed so tests run without wabt; tests/wasm checks they
# are up to date whenever wat2wasm is installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Everything fledge parses, without function-references/GC: with those enabled wabt
# types ref.func as a non-nullable (ref $t), which it then refuses where funcref is expected.
WAT_FEATURES="--enable-exceptions --enable-extended-const --enable-multi-memory --enable-memory64 --enable-tail-call --enable-threads"
status=0
while IFS= read -r -d '' wat; do
  out="${wat%.wat}.wasm"
  if ! wat2wasm $WAT_FEATURES "$wat" -o "$out"; then
    echo "build-wat: failed: $wat" >&2
    status=1
  fi
done < <(find "$root/tests/fixtures/wat" -name '*.wat' -print0 | sort -z)
exit $status
