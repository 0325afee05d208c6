/**
 * The C scaffold (`fledge plugins create NAME --lang c`): main.c on fledge.h, the
 * one-header C SDK (init and arguments, messages, exec, store, metadata, http),
 * copied beside it. The build hook is a plain clang command (no shell).
 */
import { C_HEADER } from "./sdk-sources.ts";
import { WASM_NO_CAPABILITIES, manifestHead, tomlString as toml } from "./manifest.ts";
import { wasiClangCommand } from "../../core/index.ts";

/** The build hook: the shared clang flags (src/core/guest-toolchain.ts); `name` is a checked plugin name. */
export const C_BUILD_HOOK = (name: string): string => wasiClangCommand(`${name}.wasm`, ["src/main.c"]).join(" ");

export function cFiles(name: string, description: string): Record<string, string> {
  return {
    "plugin.toml": `${manifestHead(name, description, "wasm", `${name}.wasm`)}[hooks]
# Run without a shell, in the plugin dir. --sysroot is where wasi-libc lives: /usr on
# Debian/Ubuntu (package wasi-libc); with wasi-sdk use its share/wasi-sysroot.
build = ${toml(C_BUILD_HOOK(name))}

${WASM_NO_CAPABILITIES}# To call HTTP APIs with fledge_http(), set network = true and list each host
# (host or host:port; loopback and private addresses only when written literally):
# hosts = ["api.example.com"]
`,
    "src/main.c": `/*
 * ${name}: a sandboxed fledge plugin in C (fledge-v1 over the "fledge" wasm imports).
 * fledge.h reads the init message (fledge_argc/fledge_argv) and sends messages.
 */
#include "fledge.h"

int main(void) {
  fledge_init();
  if (fledge_argc == 0) {
    fledge_outputln("Hello from ${name}! Try: fledge ${name} some words");
    return 0;
  }
  fledge_buf line = {0};
  fledge_buf_str(&line, "Hello from ${name}! Arguments:");
  for (int i = 0; i < fledge_argc; i++) {
    fledge_buf_str(&line, " ");
    fledge_buf_str(&line, fledge_argv[i]);
  }
  fledge_outputln(line.data);
  free(line.data);
  /* More (each needs its capability in plugin.toml): fledge_log("info", "..."),
   * fledge_progress("working", 1, 3), fledge_exec("git status") [exec],
   * fledge_store("k", "\\"v\\"") [store], fledge_http("GET", url, NULL, NULL) [network + hosts]. */
  return 0;
}
`,
    "src/fledge.h": C_HEADER,
    "README.md": `# ${name}

${description}

A sandboxed fledge plugin in C for wasm32-wasi, on fledge.h (in src/). Build, check
and install:

    ${C_BUILD_HOOK(name)}
    fledge plugins validate --strict .
    fledge plugins install . --yes         # runs the same build hook
    fledge ${name} some words

Needs clang with the wasm32 target and wasi-libc (Debian/Ubuntu: \`apt install clang lld wasi-libc libclang-rt-14-dev-wasm32\`).

To let users install without a toolchain, release ${name}.wasm with a SHA256SUMS
file (\`sha256sum ${name}.wasm > SHA256SUMS\`) as GitHub release assets.
`,
    ".gitignore": `${name}.wasm\n*.cwasm\n*.cwasm.sha256\nstate.json\ndata/\n`,
  };
}
