import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../helpers/cli.ts";

export const WAT_DIR = join(ROOT, "tests", "fixtures", "wat");

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(WAT_DIR, `${name}.wasm`)));
}

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return Bun.which(cmd) !== null;
}

/** Every .wasm file in the repository (outside node_modules and .git), so new ones are covered automatically. */
export function repoWasmFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === ".git") continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith(".wasm")) out.push(p);
    }
  };
  walk(ROOT);
  return out.sort();
}

export function rel(p: string): string {
  return relative(ROOT, p);
}

/** Instantiates bytes with the given imports, synchronously. */
export function instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>> = {}): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports as never);
}

/** Runs `fn`, returning its value or the trap/exception it threw (as "trap: <message>"). */
export function outcome(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    return `trap: ${e instanceof Error ? e.message : String(e)}`;
  }
}

import { prng } from "../helpers/prng.ts";
export { prng };

/**
 * Features wasm-opt may use in generated modules. Not reference-types: wasm-opt 108
 * generates modules that assume the old funcref <: externref subtyping, which
 * JavaScriptCore (correctly) rejects; the reference-types fixtures cover it instead.
 */
export const TTF_FEATURES = [
  "--enable-sign-ext",
  "--enable-nontrapping-float-to-int",
  "--enable-bulk-memory",
  "--enable-mutable-globals",
  "--enable-multivalue",
  "--enable-simd",
  "--enable-tail-call",
  "--enable-extended-const",
];

/**
 * A random valid module from `wasm-opt -ttf` ("translate to fuzz"), seeded.
 * Returns null if wasm-opt fails for this seed.
 */
export function ttfModule(dir: string, seed: number, size = 4096): Uint8Array | null {
  const rand = prng(seed);
  const input = new Uint8Array(size);
  for (let i = 0; i < size; i++) input[i] = Math.floor(rand() * 256);
  const inPath = join(dir, `seed-${seed}.bin`);
  const outPath = join(dir, `seed-${seed}.wasm`);
  writeFileSync(inPath, input);
  const r = Bun.spawnSync(["wasm-opt", inPath, "-ttf", ...TTF_FEATURES, "-o", outPath], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) return null;
  return new Uint8Array(readFileSync(outPath));
}
