/**
 * Which wasm toolchains this machine has, probed once per test process by building a
 * tiny program (a target in `--print target-list` is not enough: rustup lists
 * wasm32-wasip1 without its standard library installed). Tests that need one skip
 * with ONE clear line when it is missing (see {@link skipLine}).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUST_WASI_TARGETS, wasiClangCommand } from "../../src/core/guest-toolchain.ts";

export interface RustWasm {
  rustc: string;
  target: (typeof RUST_WASI_TARGETS)[number];
}

let rust: RustWasm | null | undefined;
let clang: boolean | undefined;

function works(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000 });
  return r.status === 0;
}

/** The first rustc (PATH, then Debian's /usr/bin/rustc) that builds a WASI program, or null. */
export function rustWasm(): RustWasm | null {
  if (rust !== undefined) return rust;
  rust = null;
  const dir = mkdtempSync(join(tmpdir(), "fledge-rust-probe-"));
  try {
    writeFileSync(join(dir, "p.rs"), "fn main() {}\n");
    for (const rustc of [process.env.RUSTC, "rustc", "/usr/bin/rustc"]) {
      if (!rustc) continue;
      const list = spawnSync(rustc, ["--print", "target-list"], { encoding: "utf8" });
      if (list.status !== 0) continue;
      for (const target of RUST_WASI_TARGETS) {
        if (!list.stdout.split("\n").includes(target)) continue;
        if (works(rustc, ["--target", target, "-o", join(dir, "p.wasm"), join(dir, "p.rs")])) {
          rust = { rustc, target };
          return rust;
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rust;
}

/** clang with the wasm32-wasi target and wasi-libc in /usr (what the C scaffold's hook uses). */
export function clangWasm(): boolean {
  if (clang !== undefined) return clang;
  const dir = mkdtempSync(join(tmpdir(), "fledge-clang-probe-"));
  try {
    writeFileSync(join(dir, "p.c"), "#include <stdio.h>\nint main(void){puts(\"x\");return 0;}\n");
    const [cmd, ...args] = wasiClangCommand(join(dir, "p.wasm"), [join(dir, "p.c")]);
    clang = works(cmd!, args);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return clang;
}

const said = new Set<string>();
/** Print one line saying what is skipped and how to get it, once per process. */
export function skipLine(what: string, fix: string): void {
  if (said.has(what)) return;
  said.add(what);
  process.stderr.write(`skipping ${what}: ${fix}\n`);
}
