/**
 * The committed compatibility guests in tests/fixtures/compat: each C source has its
 * module, and the modules import the fledge module the way published plugins do. That
 * the bytes are what the sources build to is checked for every guest at once by
 * tests/guests-fresh.test.ts (scripts/build-guests.ts).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COMPAT } from "./helpers.ts";

const stem = (f: string): string => f.replace(/\.(c|wasm)$/, "");
const sources = readdirSync(COMPAT).filter((f) => f.endsWith(".c"));
const modules = readdirSync(COMPAT).filter((f) => f.endsWith(".wasm"));

test("every compat guest source has its module committed beside it, and no module lacks a source", () => {
  expect(modules.map(stem).sort()).toEqual(sources.map(stem).sort());
});

test("the guests import the fledge module the way published plugins do", () => {
  for (const m of modules) {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(join(COMPAT, m))));
    const fledge = imports.filter((i) => i.module === "fledge").map((i) => i.name);
    expect(fledge, m).toEqual(expect.arrayContaining(["send", "recv", "exit"]));
  }
});
