/**
 * parseManifest must never throw, whatever it is given: random bytes, TOML-shaped
 * noise, deep nesting, huge strings, prototype-polluting keys. The generator is
 * seeded so a failure reproduces.
 */
import { describe, expect, test } from "bun:test";
import { prng } from "../helpers/prng.ts";
import { decodeManifest, parseManifest, type ManifestResult } from "../../src/manifest/index.ts";

const rng = prng;

function wellFormed(r: ManifestResult): void {
  expect(Array.isArray(r.errors)).toBe(true);
  expect(Array.isArray(r.warnings)).toBe(true);
  for (const p of [...r.errors, ...r.warnings]) {
    expect(typeof p.path).toBe("string");
    expect(typeof p.message).toBe("string");
    expect(p.message.length).toBeLessThan(2000);
    // The catch-all in parseManifest exists for safety; reaching it would be a bug.
    expect(p.message).not.toStartWith("internal error");
  }
  if (r.manifest) expect(r.errors).toEqual([]);
  // The JSON report must always be printable (no BigInt or cycles leak out).
  expect(() => JSON.stringify(r)).not.toThrow();
}

const TOKENS = ["[plugin]", "[[commands]]", "[hooks]", "[capabilities]", "name", "version", "binary", "runtime", "protocol", "exec", "filesystem", " = ", '"', "'", '"""', "\n", "[", "]", "{", "}", ",", ".", "1", "1.5", "true", "1979-05-27", '"wasm"', '"fledge-v1"', '"../x"', '"/abs"', "#", "\\", "__proto__", "constructor", "=", "\u0000", "\u001b[31m", "é", "🦀"];

describe("fuzz: parseManifest never throws", () => {
  test("random bytes decoded leniently", () => {
    const rand = rng(1);
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(Math.floor(rand() * 400));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      wellFormed(parseManifest(new TextDecoder().decode(bytes)));
      const strictDecode = decodeManifest(bytes);
      if ("problem" in strictDecode) expect(strictDecode.problem.path).toBe("");
    }
  });

  test("TOML-shaped token soup", () => {
    const rand = rng(2);
    for (let i = 0; i < 2000; i++) {
      let text = "";
      const n = Math.floor(rand() * 60);
      for (let j = 0; j < n; j++) text += TOKENS[Math.floor(rand() * TOKENS.length)];
      wellFormed(parseManifest(text, { strict: rand() < 0.5 }));
    }
  });

  test("valid manifests with one field replaced by a random value", () => {
    const rand = rng(3);
    const values = ["1", "-1", "1.5", "true", "[]", "[1, 2]", "{}", "{ a = 1 }", '""', '"x"', "1979-05-27T00:00:00Z", "[[1]]", "inf", "nan", "0x10", '"\\u0000"'];
    const keys = ["name", "version", "description", "author", "protocol", "runtime"];
    for (let i = 0; i < 500; i++) {
      const key = keys[Math.floor(rand() * keys.length)]!;
      const value = values[Math.floor(rand() * values.length)]!;
      const lines = keys.map((k) => (k === key ? `${k} = ${value}` : `${k} = "x"`));
      const text = `[plugin]\n${lines.join("\n")}\n[[commands]]\nname = ${values[Math.floor(rand() * values.length)]}\nbinary = ${values[Math.floor(rand() * values.length)]}\n[capabilities]\nexec = ${values[Math.floor(rand() * values.length)]}\n`;
      wellFormed(parseManifest(text, { strict: true }));
    }
  });

  test("deeply nested inline arrays and tables", () => {
    wellFormed(parseManifest(`a = ${"[".repeat(10_000)}${"]".repeat(10_000)}`));
    wellFormed(parseManifest(`a = ${"{ b = ".repeat(5_000)}1${" }".repeat(5_000)}`));
    const r = parseManifest(`[plugin]\nname = ${"[".repeat(100)}${"]".repeat(100)}\n`);
    expect(r.errors[0]!.message).toMatch(/^Invalid plugin.toml: .*nested/);
  });

  test("very long dotted table names and many tables", () => {
    wellFormed(parseManifest(`[${Array.from({ length: 20_000 }, () => "a").join(".")}]\nx = 1\n`, { strict: true }));
    wellFormed(parseManifest(Array.from({ length: 5_000 }, (_, i) => `[[commands]]\nname = "c${i}"\nbinary = "b${i}"\n`).join(""), { strict: true }));
  });

  test("huge strings: under the limit they parse, over it they are refused", () => {
    const big = "x".repeat(900_000);
    const r = parseManifest(`[plugin]\nname = "${big}"\nversion = "1.0.0"\n`);
    wellFormed(r);
    expect(r.errors.find((e) => e.path === "plugin.name")!.message.length).toBeLessThan(400);
    const over = parseManifest(`[plugin]\nname = "${"x".repeat(2_000_000)}"\n`);
    expect(over.errors).toHaveLength(1);
    expect(over.errors[0]!.message).toStartWith("plugin.toml is too large");
  });

  test("prototype-polluting keys are plain unknown keys", () => {
    const r = parseManifest(`__proto__ = { polluted = true }\n[plugin]\nname = "demo"\nversion = "1.0.0"\nconstructor = 1\n[plugin.__proto__]\nx = 1\n`, { strict: true });
    wellFormed(r);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(r.warnings.map((w) => w.path)).toContain("__proto__");
  });
});
