import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ALLOWED, edgesOf, edgeViolation, fsImportsOf, layerOf, MUTATING_FS, readSource, sourceFiles } from "./helpers/architecture.ts";

const ROOT = join(import.meta.dir, "..");
const FILES = sourceFiles(ROOT);

describe("module layers (tests/helpers/architecture.ts)", () => {
  test("every import in src/ follows the allowed edges", () => {
    const violations = FILES.flatMap((f) => edgesOf(f, readSource(ROOT, f)).map(edgeViolation)).filter((v) => v !== undefined);
    expect(violations).toEqual([]);
  });

  test("every file under src/ belongs to a layer", () => {
    for (const f of FILES) expect(() => layerOf(f), f).not.toThrow();
  });

  test("the layers have no cycle", () => {
    const seen = new Set<string>();
    const visit = (l: keyof typeof ALLOWED, path: string[]): void => {
      expect(path, `cycle: ${[...path, l].join(" -> ")}`).not.toContain(l);
      if (seen.has(l)) return;
      for (const next of ALLOWED[l]) visit(next, [...path, l]);
      seen.add(l);
    };
    for (const l of Object.keys(ALLOWED) as (keyof typeof ALLOWED)[]) visit(l, []);
  });

  // The check must fail when an edge goes against the layers: feed it synthetic sources.
  test.each([
    ["src/wasm/prepared.ts", 'import { configDir } from "../registry/index.ts";'],
    ["src/install/wasm-prepare.ts", 'import { pluginLimits } from "../host/wasm-runner.ts";'],
    ["src/wasi/run.ts", 'import { EXIT, FledgeError } from "../ui/index.ts";'],
    ["src/manifest/rules.ts", 'import { reservedNameReason } from "../registry/reserved.ts";'],
    ["src/core/errors.ts", 'import { log } from "../ui/log.ts";'],
    ["src/registry/types.ts", 'import type { Preopen } from "../wasi/index.ts";'],
    ["src/wasm/run.ts", 'export { runPlugin } from "../host/index.ts";'],
    ["src/trust/policy.ts", 'const m = await import("../install/index.ts");'],
    ["src/host/dispatch.ts", 'import { main } from "../cli/index.ts";'],
  ])("%s: %s is refused", (file, code) => {
    const edges = edgesOf(file, code);
    expect(edges).toHaveLength(1);
    expect(edgeViolation(edges[0]!)).toContain("may import only");
  });

  test.each([
    ["src/wasm/run.ts", 'import { FledgeError } from "../core/index.ts";'],
    ["src/wasi/run.ts", 'import { renderUntrusted } from "../ui/sanitize.ts";'],
    ["src/cli/wasm.ts", 'import { runLoadedModule } from "../wasm/run.ts";'],
    ["src/registry/types.ts", 'import type { TrustTier } from "../trust/types.ts";'],
  ])("%s: %s is allowed", (file, code) => {
    expect(edgesOf(file, code).map(edgeViolation)).toEqual([undefined]);
  });

  test("an import named only in a comment is not an edge", () => {
    expect(edgesOf("src/wasi/run.ts", '/* import { x } from "../host/index.ts"; */\n// import { y } from "../cli/index.ts";\n')).toEqual([]);
  });
});

/**
 * The guest reaches the host file system only through src/wasi/hostfs.ts, whose `*At`
 * operations take a held directory and one component and never follow a symlink there.
 * Any other wasi module calling a path-based mutating node:fs function would bypass that.
 */
const HOSTFS = "src/wasi/hostfs.ts";

function mutatingFsCalls(code: string): string[] {
  return fsImportsOf(code).filter((n) => n === "*" || (MUTATING_FS as readonly string[]).includes(n));
}

describe("file-system containment in src/wasi", () => {
  test("only hostfs.ts imports mutating node:fs functions", () => {
    const found: Record<string, string[]> = {};
    for (const f of FILES.filter((f) => f.startsWith("src/wasi/") && f !== HOSTFS)) {
      const bad = mutatingFsCalls(readSource(ROOT, f));
      if (bad.length > 0) found[f] = bad;
    }
    expect(found).toEqual({});
  });

  test("the check sees named, renamed and namespace imports", () => {
    expect(mutatingFsCalls('import { fstatSync, unlinkSync as rm } from "node:fs";')).toEqual(["unlinkSync"]);
    expect(mutatingFsCalls('import * as fs from "node:fs";')).toEqual(["*"]);
    expect(mutatingFsCalls('import fs from "fs";')).toEqual(["*"]);
    expect(mutatingFsCalls('import { readSync, fstatSync } from "node:fs";')).toEqual([]);
  });
});

/**
 * fledge runs unconfined, so every program it starts is found by core/programs.ts on
 * absolute PATH entries only. A spawn whose program is a string literal (`"git"`) would
 * be looked up by Bun or Node, which resolve relative PATH entries against the cwd (a
 * project a plugin may write); Bun.which and Bun's shell do the same.
 */
const BARE_SPAWN = /\b(?:spawn|spawnSync|execFile|execFileSync|exec|execSync|Bun\.spawn|Bun\.spawnSync)\(\s*\[?\s*["'`]/g;

function bareSpawns(code: string): string[] {
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found = [...stripped.matchAll(BARE_SPAWN)].map((m) => m[0]);
  if (/\bBun\.which\(/.test(stripped)) found.push("Bun.which(");
  if (/\$`/.test(stripped) && /from "bun"/.test(stripped)) found.push("Bun shell $`");
  return found;
}

describe("programs fledge starts (src/core/programs.ts)", () => {
  test("no spawn site in src/ names a program by a bare literal, uses Bun.which or Bun's shell", () => {
    const found: Record<string, string[]> = {};
    for (const f of FILES.filter((f) => f !== "src/core/programs.ts")) {
      const bad = bareSpawns(readSource(ROOT, f));
      if (bad.length > 0) found[f] = bad;
    }
    expect(found).toEqual({});
  });

  test.each([
    ['spawnSync("git", ["status"])'],
    ['Bun.spawnSync(["git", "status"])'],
    ["Bun.spawn([ 'gh', 'auth'])"],
    ['const g = Bun.which("git");'],
  ])("the check catches %s", (code) => {
    expect(bareSpawns(code).length).toBeGreaterThan(0);
  });

  test("a program found through core/programs.ts passes", () => {
    expect(bareSpawns("const argv = gitCommand(args);\nBun.spawnSync(argv, { cwd });\nspawn(argv[0]!, argv.slice(1));")).toEqual([]);
  });
});
