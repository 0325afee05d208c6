/**
 * Opt-in differential fuzzing of the wasm instrumenter (the test suite runs 200 seeds).
 *   bun scripts/fuzz-wasm.ts [N=10000] [firstSeed=1]
 * Needs wasm-opt (binaryen). Prints every divergence and exits 1 if there was any.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fuzzOne } from "../tests/wasm/fuzz-core.ts";

const n = Number(process.argv[2] ?? 10_000);
const first = Number(process.argv[3] ?? 1);
if (!Number.isInteger(n) || n <= 0 || !Number.isInteger(first)) {
  console.error("usage: bun scripts/fuzz-wasm.ts [N] [firstSeed]");
  process.exit(2);
}
if (!Bun.which("wasm-opt")) {
  console.error("fuzz-wasm: wasm-opt (binaryen) is not installed");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "fledge-fuzz-"));
let ran = 0;
let skipped = 0;
let calls = 0;
let bytes = 0;
const divergences: string[] = [];
const started = performance.now();
for (let seed = first; seed < first + n; seed++) {
  const r = fuzzOne(dir, seed);
  // Each seed writes two files; clean as we go so long runs stay small.
  rmSync(join(dir, `seed-${seed}.bin`), { force: true });
  rmSync(join(dir, `seed-${seed}.wasm`), { force: true });
  if (r.skipped) {
    skipped++;
    continue;
  }
  ran++;
  calls += r.exportsCalled;
  bytes += r.bytes;
  if (r.divergence) {
    divergences.push(`seed ${seed}: ${r.divergence}`);
    console.error(`DIVERGENCE seed ${seed}: ${r.divergence}`);
  }
  if ((seed - first + 1) % 500 === 0) {
    const s = ((performance.now() - started) / 1000).toFixed(0);
    console.error(`.. ${seed - first + 1}/${n} seeds, ${divergences.length} divergences, ${s}s`);
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(
  `fuzz-wasm: ${ran} modules (${skipped} skipped, ${(bytes / 1e6).toFixed(1)} MB), ${calls} export calls, ${divergences.length} divergences`,
);
process.exit(divergences.length ? 1 : 0);
