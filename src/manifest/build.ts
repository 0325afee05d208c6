/**
 * The build fledge runs by itself for a plugin that has no build hook and whose
 * binaries are missing (the original's auto-detection): the first build file found
 * picks the toolchain. Validation uses it too, so a missing binary that this build
 * will create is a warning, not a refusal.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Runtime } from "./types.ts";
import { cargoWasmCommand, rustWasiTarget } from "../core/index.ts";

export interface AutoBuild {
  language: string;
  /** The command line fledge runs in the plugin directory. */
  command: string;
  /** The program it starts (what must be on PATH). */
  tool: string;
  /** How to get that program when it is missing. */
  getIt: string;
}

/** How to get a build tool that is not on PATH (also used for build hooks naming one). */
export const TOOLCHAIN_HELP: Readonly<Record<string, string>> = {
  cargo: "install Rust from https://rustup.rs (or: apt-get install cargo)",
  rustc: "install Rust from https://rustup.rs (or: apt-get install rustc)",
  swift: "install Swift from https://www.swift.org/install (Xcode on macOS)",
  go: "install Go from https://go.dev/dl (or: apt-get install golang-go)",
  npm: "install Node.js from https://nodejs.org (or: apt-get install npm)",
  node: "install Node.js from https://nodejs.org (or: apt-get install nodejs)",
  bun: "install Bun from https://bun.sh",
  clang: "install clang (apt-get install clang; on macOS: xcode-select --install)",
  gcc: "install a C compiler (apt-get install build-essential; on macOS: xcode-select --install)",
  cc: "install a C compiler (apt-get install build-essential; on macOS: xcode-select --install)",
  make: "install make (apt-get install make; on macOS: xcode-select --install)",
  python3: "install Python 3 (apt-get install python3 python3-venv)",
  bash: "install bash",
};

/** The build file fledge looks for, in the original's order. */
export function detectAutoBuild(dir: string, runtime: Runtime | undefined, binaries: readonly string[] = []): AutoBuild | null {
  const has = (f: string): boolean => existsSync(join(dir, f));
  const make = (language: string, command: string): AutoBuild => {
    const tool = command.split(" ")[0]!;
    return { language, command, tool, getIt: TOOLCHAIN_HELP[tool] ?? `install ${tool}` };
  };
  // Older Rust (Debian's) names the target wasm32-wasi; the binary path says which one the author uses.
  if (has("Cargo.toml")) return make("Rust", runtime === "wasm" ? cargoWasmCommand(rustWasiTarget(binaries)) : "cargo build --release");
  if (has("Package.swift")) return make("Swift", "swift build -c release");
  if (has("go.mod")) return make("Go", "go build .");
  if (has("package.json")) return make("Node", "npm install");
  return null;
}
