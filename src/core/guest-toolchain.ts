/**
 * THE flags wasm guests are built with, for every builder fledge has: the committed
 * guests (scripts/build-guests.ts), the build hooks and scripts `fledge plugins create`
 * writes (src/install/scaffold/), the build command `validate` suggests and the one
 * fledge runs by itself (src/manifest/), and the real-program tests' native reference
 * build. One table, so a scaffold cannot drift from what the repository's own guests
 * are known to build and run with (tests/install/scaffold-flags.test.ts checks the
 * written commands against it).
 */

/** clang's target for WASI preview 1 with wasi-libc (clang 14 knows no wasm32-wasip1). */
export const WASI_C_TARGET = "wasm32-wasi";

/** Where wasi-libc lives on Debian/Ubuntu (package wasi-libc); wasi-sdk has share/wasi-sysroot. */
export const DEFAULT_WASI_SYSROOT = "/usr";

/** The optimisation level of every C guest, and of the native reference build it is compared with. */
export const C_OPTIMIZE = "-O2";

/**
 * clang flags of every C guest: a plugin author's and the repository's own.
 * -s drops the DWARF that wasi-libc's archive brings along (about 140 KB per module,
 * and it names the build machine's paths); nothing reads it: traps are reported by
 * fledge, not from debug info.
 */
export function wasiClangFlags(sysroot: string = DEFAULT_WASI_SYSROOT): string[] {
  return [...wasiClangTargetFlags(sysroot), C_OPTIMIZE, "-s"];
}

/** Target and sysroot alone: for builds that pick their own optimisation and debug info on purpose. */
export function wasiClangTargetFlags(sysroot: string = DEFAULT_WASI_SYSROOT): string[] {
  return [`--target=${WASI_C_TARGET}`, `--sysroot=${sysroot}`];
}

/**
 * Warnings are errors in the repository's own C (guests and the real programs' native
 * reference build), so a fixture cannot quietly rely on undefined behaviour. Not in
 * the scaffolds: an author's new warning must not break their install.
 */
export const REPO_C_WARNINGS: readonly string[] = ["-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-Wno-unused-parameter"];

/** The repository's wasm guests are plain C11 (wasi-libc exposes POSIX without feature macros). */
export const REPO_C_STD = "-std=c11";

/** The clang command line that builds `sources` into `out` for WASI, as an argv. */
export function wasiClangCommand(out: string, sources: readonly string[], sysroot?: string): string[] {
  return ["clang", ...wasiClangFlags(sysroot), "-o", out, ...sources];
}

/**
 * Rust's WASI preview 1 targets, preferred first: wasm32-wasip1 on current Rust,
 * wasm32-wasi on older Rust such as Debian's (which has no wasm32-wasip1).
 */
export const RUST_WASI_TARGETS = ["wasm32-wasip1", "wasm32-wasi"] as const;
export type RustWasiTarget = (typeof RUST_WASI_TARGETS)[number];

/** The target a plugin's binary paths name (…/wasm32-wasi/… means older Rust), else the current one. */
export function rustWasiTarget(binaries: readonly string[]): RustWasiTarget {
  return binaries.some((b) => /(^|\/)wasm32-wasi\//.test(b)) ? "wasm32-wasi" : "wasm32-wasip1";
}

/** The cargo command that builds a wasm plugin for `target`. */
export function cargoWasmCommand(target: RustWasiTarget): string {
  return `cargo build --target ${target} --release`;
}

/**
 * The release profile of the Rust scaffold, in Cargo.toml's words: small modules
 * (size over speed, whole-program LTO, no symbols) and no unwinding tables, since a
 * panic ends the plugin anyway.
 */
export const RUST_RELEASE_PROFILE: Readonly<Record<string, string | boolean>> = {
  "opt-level": "s",
  lto: true,
  strip: true,
  panic: "abort",
};
