/**
 * The build command `validate` suggests for a wasm plugin without a build hook, from
 * what is in its folder: a cargo package gets the cargo command for the target its
 * binary path names (wasm32-wasip1 on current Rust, wasm32-wasi on older Rust such
 * as Debian's), C sources get the clang command for wasi-libc. Without a folder (or
 * with neither) the suggestion is the original's cargo command.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cargoWasmCommand, rustWasiTarget, wasiClangCommand } from "../core/index.ts";

const DEFAULT = cargoWasmCommand("wasm32-wasip1");

function cSources(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ["", "src"]) {
    try {
      for (const f of readdirSync(join(dir, sub))) if (f.endsWith(".c")) out.push(sub ? `${sub}/${f}` : f);
    } catch {
      // no such folder
    }
  }
  return out.sort();
}

/** The command line to suggest, and the language it is for. */
export function suggestBuildCommand(pluginDir: string | undefined, binaries: readonly string[]): { language: "rust" | "c" | undefined; command: string } {
  if (pluginDir === undefined) return { language: undefined, command: DEFAULT };
  if (existsSync(join(pluginDir, "Cargo.toml"))) {
    return { language: "rust", command: cargoWasmCommand(rustWasiTarget(binaries)) };
  }
  const sources = cSources(pluginDir);
  if (sources.length > 0) {
    const out = binaries.find((b) => b.endsWith(".wasm")) ?? "plugin.wasm";
    return { language: "c", command: wasiClangCommand(out, sources).join(" ") };
  }
  return { language: undefined, command: DEFAULT };
}
