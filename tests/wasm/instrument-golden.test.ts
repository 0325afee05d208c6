/**
 * The instrumenter's output, byte for byte: every .wasm file committed to the
 * repository is prepared (metered, and caps only) and the SHA-256 of the result (or
 * the refusal's error code) must equal the recorded one. Work on the speed of the
 * decode/rewrite/encode pipeline must not change a single emitted byte.
 *
 * When the emitted code changes ON PURPOSE (a new meter shape; bump
 * INSTRUMENTER_VERSION too), regenerate the record:
 *   FLEDGE_UPDATE_DIGESTS=1 bun test tests/wasm/instrument-golden.test.ts
 */
import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { instrument, INSTRUMENTER_VERSION } from "../../src/wasm/index.ts";
import { FledgeError } from "../../src/core/index.ts";
import { ROOT } from "../helpers/cli.ts";

const RECORD = join(ROOT, "tests", "fixtures", "instrument-digests.json");

interface Record_ {
  instrumenterVersion: string;
  digests: { [file: string]: string };
}

/** Committed .wasm files only (build outputs in a work tree are not the record's). */
function committedWasm(): string[] {
  const r = Bun.spawnSync(["git", "ls-files", "-z", "--", "*.wasm"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ls-files failed: ${r.stderr.toString()}`);
  return r.stdout
    .toString()
    .split("\0")
    .filter((f) => f.length > 0 && existsSync(join(ROOT, f)))
    .sort();
}

function digest(bytes: Uint8Array, fuel: boolean): string {
  try {
    const out = instrument(bytes, { fuel, maxMemoryBytes: 256 * 2 ** 20 }).bytes;
    return createHash("sha256").update(out).digest("hex");
  } catch (e) {
    if (e instanceof FledgeError) return `refused: ${e.code ?? "?"}`;
    throw e;
  }
}

test("every committed module prepares to exactly the recorded bytes", () => {
  const now: Record_ = { instrumenterVersion: INSTRUMENTER_VERSION, digests: {} };
  for (const f of committedWasm()) {
    const bytes = new Uint8Array(readFileSync(join(ROOT, f)));
    now.digests[`${f} metered`] = digest(bytes, true);
    now.digests[`${f} caps`] = digest(bytes, false);
  }
  if (process.env.FLEDGE_UPDATE_DIGESTS === "1") {
    writeFileSync(RECORD, `${JSON.stringify(now, null, 1)}\n`);
    return;
  }
  const record = JSON.parse(readFileSync(RECORD, "utf8")) as Record_;
  expect(now.instrumenterVersion).toBe(record.instrumenterVersion);
  // A module added since the record was written is reported as missing from it.
  expect(now.digests).toEqual(record.digests);
  expect(Object.keys(now.digests).length).toBeGreaterThan(100);
}, 120_000);
