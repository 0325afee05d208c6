import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wasiClangTargetFlags } from "../../src/core/guest-toolchain.ts";
import { decodeCode, encodeCode, encodeModule, parseModule, type Module } from "../../src/wasm/index.ts";
import { encodeS32, encodeS64, readS32, readS33, readS64, readU32, readU64, encodeU64, writeU32 } from "../../src/wasm/leb128.ts";
import { have, rel, repoWasmFiles, ttfModule } from "./helpers.ts";

/** Read → write → read: same structure; same bytes at module level (code bodies are kept as bytes). */
function roundTrip(bytes: Uint8Array): { module: Module; identical: boolean; bodies: number; canonicalBodies: number } {
  const m = parseModule(bytes);
  const out = encodeModule(m);
  const m2 = parseModule(out);
  expect(m2).toEqual(m);
  let canonicalBodies = 0;
  for (const body of m.codes) {
    // The full instruction decoder/encoder: decode, re-encode, decode again.
    const instrs = decodeCode(body.code);
    const enc = encodeCode(instrs).finish();
    expect(decodeCode(enc)).toEqual(instrs);
    if (Buffer.from(enc).equals(Buffer.from(body.code))) canonicalBodies++;
  }
  for (const g of m.globals) expect(encodeCode(decodeCode(g.init)).finish()).toEqual(new Uint8Array(g.init));
  return { module: m, identical: Buffer.from(out).equals(Buffer.from(bytes)), bodies: m.codes.length, canonicalBodies };
}

describe("LEB128", () => {
  test("reads minimal and padded encodings", () => {
    expect(readU32(new Uint8Array([0xe5, 0x8e, 0x26]), 0)).toBe(624485);
    expect(readU32(new Uint8Array([0x85, 0x80, 0x80, 0x80, 0x00]), 0)).toBe(5);
    expect(readU32(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 0)).toBe(0xffffffff);
    expect(() => readU32(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x1f]), 0)).toThrow(/out of range/);
    expect(readS32(new Uint8Array([0x7f]), 0)).toBe(-1);
    expect(readS32(new Uint8Array([0xff, 0x7f]), 0)).toBe(-1);
    expect(readS32(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x78]), 0)).toBe(-2147483648);
    expect(readS33(new Uint8Array([0x40]), 0)).toBe(-64);
    expect(readS64(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]), 0)).toBe(-(2n ** 63n));
    expect(readU64(new Uint8Array(encodeU64(2n ** 64n - 1n)), 0)).toBe(2n ** 64n - 1n);
  });

  test("encodes minimally and round-trips edge values", () => {
    for (const v of [0, 1, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31)]) {
      const b = new Uint8Array(encodeS32(v));
      expect(readS32(b, 0)).toBe(v);
    }
    for (const v of [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 123456789012345n]) expect(readS64(new Uint8Array(encodeS64(v)), 0)).toBe(v);
    const buf = new Uint8Array(5);
    expect(writeU32(buf, 0, 0xffffffff)).toBe(5);
    expect(readU32(buf, 0)).toBe(0xffffffff);
    expect(encodeS32(-64)).toEqual([0x40]);
    expect(encodeS32(64)).toEqual([0xc0, 0x00]);
  });

  test("a module with padded section and code LEBs parses and re-encodes canonically", () => {
    // (module (func (result i32) i32.const 5)) with every size written as 5-byte LEBs.
    const pad = (v: number): number[] => [(v & 0x7f) | 0x80, 0x80, 0x80, 0x80, 0x00];
    const type = [0x01, 0x60, 0x00, 0x01, 0x7f];
    const func = [0x01, 0x00];
    const body = [0x00, 0x41, 0x85, 0x80, 0x80, 0x80, 0x00, 0x0b]; // i32.const 5 (padded)
    const code = [0x01, ...pad(body.length), ...body];
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, ...pad(type.length), ...type, 3, ...pad(func.length), ...func, 10, ...pad(code.length), ...code]);
    expect(WebAssembly.validate(bytes)).toBe(true);
    const m = parseModule(bytes);
    const out = encodeModule(m);
    expect(out.length).toBeLessThan(bytes.length);
    expect(parseModule(out)).toEqual(m);
    expect(decodeCode(m.codes[0]!.code)).toEqual([{ op: 0x41, value: 5 }, { op: 0x0b }]);
    expect(encodeCode(decodeCode(m.codes[0]!.code)).finish()).toEqual(new Uint8Array([0x41, 0x05, 0x0b]));
  });

  test("truncated and malformed input is rejected with a FledgeError", () => {
    expect(() => parseModule(new Uint8Array([1, 2, 3]))).toThrow(/bad magic/);
    expect(() => parseModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 10, 1]))).toThrow(/malformed/);
  });
});

describe("round trip", () => {
  const files = repoWasmFiles();
  test("the repository has wasm files to test", () => {
    expect(files.length).toBeGreaterThan(10);
  });
  for (const file of files) {
    test(`every .wasm in the repo: ${rel(file)}`, () => {
      const bytes = new Uint8Array(readFileSync(file));
      let m: Module;
      try {
        m = parseModule(bytes);
      } catch (e) {
        // Modules that exist to be refused are covered by proposals.test.ts.
        expect(String(e)).toMatch(/which fledge does not run/);
        return;
      }
      // Module level holds even when the code uses a refused opcode (bodies are bytes).
      expect(Buffer.from(encodeModule(m)).equals(Buffer.from(bytes))).toBe(true);
      let r: ReturnType<typeof roundTrip>;
      try {
        r = roundTrip(bytes);
      } catch (e) {
        // Code using a refused proposal (e.g. EH without a tag section) is refused when decoded.
        expect(String(e)).toMatch(/which fledge does not run/);
        return;
      }
      expect(r.identical).toBe(true);
    });
  }

  test.skipIf(!have("clang"))("clang-built C programs (wasm32-wasi)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fledge-clang-"));
    const programs: Record<string, string> = {
      "hello.c": `#include <stdio.h>\nint main(int c, char **v) { printf("hello %d %s\\n", c, v[0]); return 0; }`,
      "sort.c": `#include <stdlib.h>\n#include <string.h>\nstatic int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }\nint main(void) { int *x = malloc(4000); for (int i = 0; i < 1000; i++) x[i] = (i * 7919) % 1000; qsort(x, 1000, 4, cmp); char buf[64]; memset(buf, 0, 64); return x[999] == 999 ? 0 : 1; }`,
      "float.c": `#include <math.h>\ndouble g(double x) { return sin(x) * exp(-x) + sqrt(fabs(x)); }\nint main(int c, char **v) { double s = 0; for (int i = 0; i < c * 100; i++) s += g(i * 0.01); return (int)s & 1; }`,
    };
    for (const [name, src] of Object.entries(programs)) {
      const c = join(dir, name);
      writeFileSync(c, src);
      for (const opt of ["-O0", "-O2", "-Oz"]) {
        const out = join(dir, `${name}${opt}.wasm`);
        const r = Bun.spawnSync(["clang", ...wasiClangTargetFlags(), opt, "-g", "-o", out, c, "-lm"], { stderr: "pipe" });
        expect(r.exitCode).toBe(0);
        const bytes = new Uint8Array(readFileSync(out));
        const rt = roundTrip(bytes);
        expect(rt.identical).toBe(true);
        expect(rt.bodies).toBeGreaterThan(0);
      }
    }
  }, 120_000);

  test.skipIf(!have("wasm-opt"))("wasm-opt -ttf random modules (40 seeds)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fledge-ttf-"));
    let n = 0;
    for (let seed = 1000; seed < 1040; seed++) {
      const bytes = ttfModule(dir, seed);
      if (!bytes) continue;
      const r = roundTrip(bytes);
      expect(r.identical).toBe(true);
      // binaryen writes canonical LEBs, so instruction re-encoding is byte-identical too.
      expect(r.canonicalBodies).toBe(r.bodies);
      n++;
    }
    expect(n).toBeGreaterThan(30);
  }, 60_000);
});
