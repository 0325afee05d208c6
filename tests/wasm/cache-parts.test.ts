/** An entry written piece by piece (no copy of the module into one buffer) is byte for byte the encoded entry, and reads back; compiling it holds no copy. */
import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeEntry, encodeEntry, entryParts, forgetPreparedInMemory, preparedInMemory, sha256Hex, writeEntryFile } from "../../src/wasm/cache.ts";
import { hostVersionString, loadPreparedModule } from "../../src/wasm/prepared.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

const t = tempDir("fledge-parts-");
afterAll(() => t.cleanup());

test("entryParts written in order equal encodeEntry, and decode to the same module", () => {
  const key = randomBytes(32);
  const p = { bytes: new Uint8Array(randomBytes(100_000)), analysis: { memoryImport: { module: "env", name: "memory", initial: 1, maximum: 2 } } };
  const path = join(t.path, "e.cwasm");
  writeEntryFile(path, entryParts(key, "ab".repeat(32), "hv", p));
  const written = new Uint8Array(readFileSync(path));
  expect(Buffer.from(written).equals(Buffer.from(encodeEntry(key, "ab".repeat(32), "hv", p)))).toBe(true);
  const back = decodeEntry(key, "ab".repeat(32), "hv", written);
  expect(back.analysis).toEqual(p.analysis);
  expect(Buffer.from(back.bytes).equals(Buffer.from(p.bytes))).toBe(true);
});

test("two loads of one module at once share one compile, and the prepared bytes are let go once it starts", async () => {
  forgetPreparedInMemory();
  const hello = new Uint8Array(readFileSync(join(ROOT, "tests", "fixtures", "plugins", "hello-wasm", "hello.wasm")));
  const opts = { maxMemoryBytes: 1 << 26, configDir: join(t.path, "config") };
  const [a, b] = await Promise.all([loadPreparedModule("hello.wasm", hello, opts), loadPreparedModule("hello.wasm", hello, opts)]);
  expect(a.module).toBe(b.module);
  expect(WebAssembly.Module.exports(a.module).map((e) => e.name)).toContain("_start");
  expect(preparedInMemory(sha256Hex(hello), hostVersionString(opts.maxMemoryBytes))?.bytes.length).toBe(0);
  // A later load in the same process reuses the compiled module.
  expect((await loadPreparedModule("hello.wasm", hello, opts)).module).toBe(a.module);
  forgetPreparedInMemory();
});
