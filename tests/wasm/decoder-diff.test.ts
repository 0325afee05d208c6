/**
 * The decoder's differential fuzz, seed set (scripts/fuzz-decoder.ts runs 10,000+):
 * modules from `wasm-opt -ttf` and byte mutations of them; for each module fledge
 * accepts, per-function loops and calls must match binaryen and wabt.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fuzzSeed, type DiffOutcome } from "./decoder-fuzz-core.ts";
import { have } from "./helpers.ts";

const SEEDS = 70; // x (1 generated + 2 mutants) = ~210 modules
const dir = mkdtempSync(join(tmpdir(), "fledge-decoder-diff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!have("wasm-opt"))("strict decoder vs binaryen (seed set)", () => {
  test(`${SEEDS} seeds: no divergence, and the comparison is not vacuous`, () => {
    const all: DiffOutcome[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) all.push(...fuzzSeed(dir, seed, 2));
    const divergent = all.filter((o) => o.divergence).map((o) => `seed ${o.seed} ${o.variant}: ${o.divergence}`);
    expect(divergent).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(200);
    // Enough modules were accepted and compared for the check to mean something.
    expect(all.filter((o) => o.accepted && !o.oracleFailed).length).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
