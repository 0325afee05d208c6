/**
 * Attack: a guest names imports that fledge never provided but that ordinary JS
 * property lookup answers (the prototype chain of the import object): the host's
 * Function constructor, Object.* helpers, Object.prototype. Linking any of them would
 * let a guest compile JavaScript inside fledge and run commands with the user's
 * rights. Every such import must be refused before instantiation, by name, for both
 * `fledge wasm run` and plugins; nothing may run, nothing may say "internal error".
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveImports } from "../../src/wasi/link.ts";
import { createWasi } from "../../src/wasi/host.ts";
import { runFledge, tempDir } from "../helpers/cli.ts";

const haveWat = Bun.which("wat2wasm") !== null;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir("fledge-link-proto-");
});
afterAll(() => tmp.cleanup());

function watFile(src: string): string {
  const w = join(tmp.path, `m${Math.random().toString(36).slice(2)}.wat`);
  writeFileSync(w, src);
  const out = `${w}.wasm`;
  const r = Bun.spawnSync(["wat2wasm", "--enable-all", w, "-o", out]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return out;
}

/** A WASI command that imports one extra thing and calls it (if a function) before writing "RAN". */
function guest(importDecl: string, call = ""): string {
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  ${importDecl}
  (memory (export "memory") 1)
  (data (i32.const 16) "RAN\\n")
  (func (export "_start")
    ${call}
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 4))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
}

// Names JS property lookup answers on a plain object or a function, none of them fledge's.
const PROTO_NAMES = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__", "__lookupGetter__", "propertyIsEnumerable", "toLocaleString"];
const MODULES = ["constructor", "__proto__", "wasi_snapshot_preview1", "fledge", "toString", "hasOwnProperty", "prototype"];

const cases: { label: string; decl: string; call?: string }[] = [];
for (const mod of MODULES) {
  for (const name of [...PROTO_NAMES, "constructor.constructor", "keys", "groupBy", "defineProperty", "prototype"]) {
    if (mod === "wasi_snapshot_preview1" && name === "fd_write") continue;
    cases.push({ label: `${mod}.${name} as a function`, decl: `(import "${mod}" "${name}" (func $x))`, call: "(call $x)" });
  }
}
cases.push({ label: "constructor.prototype as a global externref", decl: `(import "constructor" "prototype" (global $g externref))` });
cases.push({ label: "__proto__.constructor as a global externref", decl: `(import "__proto__" "constructor" (global $g externref))` });
cases.push({ label: "constructor.constructor as a table", decl: `(import "constructor" "constructor" (table 1 funcref))` });
cases.push({ label: "an unknown module (env)", decl: `(import "env" "f" (func $x))`, call: "(call $x)" });
cases.push({ label: "a WASI function imported as a global", decl: `(import "wasi_snapshot_preview1" "proc_exit" (global $g i32))` });
cases.push({ label: "the fuel meter's own module", decl: `(import "fledge:meter" "refuel" (func $x (param i64) (result i64)))` });

describe.skipIf(!haveWat)("imports fledge did not provide are refused before anything runs", () => {
  test("resolveImports refuses every prototype-chain name, in process", () => {
    const available = { wasi_snapshot_preview1: { fd_write: () => 0, proc_exit: () => undefined }, fledge: { send: () => 0 } };
    for (const c of cases) {
      const mod = new WebAssembly.Module(readFileSync(watFile(guest(c.decl, c.call))));
      expect(() => resolveImports(mod, available), c.label).toThrow(/cannot link the module/);
    }
  });

  test("the resolved import object holds exactly the declared imports, with no prototype", () => {
    const mod = new WebAssembly.Module(readFileSync(watFile(guest(""))));
    const fdWrite = () => 0;
    const resolved = resolveImports(mod, { wasi_snapshot_preview1: { fd_write: fdWrite, proc_exit: () => undefined } });
    expect(Object.getPrototypeOf(resolved)).toBeNull();
    expect(Object.keys(resolved)).toEqual(["wasi_snapshot_preview1"]);
    const wasi = resolved.wasi_snapshot_preview1!;
    expect(Object.getPrototypeOf(wasi)).toBeNull();
    expect(Object.keys(wasi)).toEqual(["fd_write"]);
    expect(wasi.fd_write).toBe(fdWrite);
  });

  test("a host built for the declared WASI functions only has those, and still refuses prototype-chain names", () => {
    const wasi = createWasi({ args: ["t"], env: [], preopens: [], only: new Set(["fd_write", "constructor", "__proto__", "no_such_call"]) });
    try {
      expect(Object.keys(wasi.imports)).toEqual(["fd_write"]);
      expect(typeof wasi.imports.fd_write).toBe("function");
      const mod = new WebAssembly.Module(readFileSync(watFile(guest(`(import "wasi_snapshot_preview1" "constructor" (func $x))`))));
      expect(() => resolveImports(mod, { wasi_snapshot_preview1: wasi.imports })).toThrow(/cannot link the module/);
    } finally {
      wasi.closeAll();
    }
  });

  test("fledge wasm run refuses each one by name, runs nothing, and reports no internal error", () => {
    // A sample across modules and names keeps the run short; the in-process test covers all.
    const sample = cases.filter((_, i) => i % 7 === 0 || i >= cases.length - 6);
    for (const c of sample) {
      const path = watFile(guest(c.decl, c.call));
      const r = runFledge(["wasm", "run", "--no-cache", "--timeout", "10", path], { env: { FLEDGE_CONFIG_DIR: join(tmp.path, "cfg"), HOME: tmp.path } });
      expect(r.stdout, c.label).not.toContain("RAN");
      expect(r.code, c.label).not.toBe(0);
      expect(r.stderr, c.label).toMatch(/cannot link the module|reserved module/);
      expect(r.stderr, c.label).not.toContain("internal error");
    }
  }, 60_000); // several real fledge processes: 5 s is too short on a loaded machine

  test("the demonstrated escape: calling the host's Function constructor cannot create a file", () => {
    // The real exploit assembled source text through Object.* helpers; if the
    // constructor itself is unreachable, every variant is.
    const marker = join(tmp.path, "pwned");
    const path = watFile(guest(`(import "constructor" "constructor" (func $F (result externref)))`, "(drop (call $F))"));
    const r = runFledge(["wasm", "run", "--no-cache", path], { env: { FLEDGE_CONFIG_DIR: join(tmp.path, "cfg2"), HOME: tmp.path } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("constructor.constructor");
    expect(existsSync(marker)).toBe(false);
  });
});
