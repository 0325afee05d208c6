/**
 * Large modules are validated by the engine on another thread while the main thread
 * rewrites them; the answer still decides before anything is returned.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { instrument } from "../../src/wasm/instrument.ts";
import { PARALLEL_VALIDATE_MIN_BYTES, sourceBuffer, validateInParallel } from "../../src/wasm/validate-async.ts";
import { ROOT } from "../helpers/cli.ts";

const hello = readFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm"));

/** hello.wasm with a custom section that makes it `size` bytes or more. */
function large(size: number): Uint8Array {
  const name = Buffer.from("padding");
  const body = Buffer.concat([Buffer.from([name.length]), name, Buffer.alloc(size, 7)]);
  const leb: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    leb.push(b);
  } while (n);
  return new Uint8Array(Buffer.concat([hello, Buffer.from([0, ...leb]), body]));
}

describe("validation on another thread", () => {
  test("the worker's answer is the engine's: valid and invalid bytes", () => {
    const ok = validateInParallel(new Uint8Array(hello));
    expect(ok).toBeDefined();
    expect(ok!()).toBe(true);
    const bad = new Uint8Array(hello);
    bad[4] = 2; // binary format version 2: not a module this engine takes
    expect(WebAssembly.validate(bad)).toBe(false);
    expect(validateInParallel(bad)!()).toBe(false);
    expect(validateInParallel(new Uint8Array([1, 2, 3]))!()).toBe(false);
  }, 30_000);

  test("a large module is prepared exactly as without the thread", () => {
    const big = large(PARALLEL_VALIDATE_MIN_BYTES);
    const a = instrument(big, { fuel: true, maxMemoryBytes: 64 << 20 });
    const b = instrument(big, { fuel: true, maxMemoryBytes: 64 << 20, validate: false });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(WebAssembly.validate(a.bytes)).toBe(true);
  }, 60_000);

  test("a large module over a cap is refused with the cap's error, as without the thread", () => {
    const big = large(PARALLEL_VALIDATE_MIN_BYTES);
    let err: unknown;
    try {
      instrument(big, { fuel: true, maxMemoryBytes: 64 << 20, maxTableElements: 0 });
    } catch (e) {
      err = e;
    }
    let small: unknown;
    try {
      instrument(new Uint8Array(hello), { fuel: true, maxMemoryBytes: 64 << 20, maxTableElements: 0 });
    } catch (e) {
      small = e;
    }
    expect(String(err)).toBe(String(small));
  }, 60_000);
  test("a large source read into shared memory is validated in place, with the same answers", () => {
    const big = large(PARALLEL_VALIDATE_MIN_BYTES);
    const shared = sourceBuffer(big.length);
    expect(shared.buffer instanceof SharedArrayBuffer).toBe(true);
    expect(sourceBuffer(1024).buffer instanceof SharedArrayBuffer).toBe(false);
    shared.set(big);
    expect(validateInParallel(shared)!()).toBe(true);
    const a = instrument(shared, { fuel: true, maxMemoryBytes: 64 << 20 });
    const b = instrument(big, { fuel: true, maxMemoryBytes: 64 << 20, validate: false });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    shared[4] = 2; // not a version this engine takes
    expect(validateInParallel(shared)!()).toBe(false);
  }, 60_000);
});
