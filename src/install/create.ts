/**
 * `fledge plugins create`: scaffolds that validate and install as generated.
 * - native: a POSIX sh script (no protocol: argv in, plain stdio).
 * - wasm: a C program for wasm32-wasi speaking fledge-v1 through the `fledge` import
 *   module: `fledge.send(ptr, len)` (no return value, as the host defines it) with an
 *   `{"type":"output","text":...}` message. The original's Rust scaffold printed JSON
 *   to stdout instead, which the user saw raw; its docs declared `send` returning i32,
 *   which fails to link. The build hook is a plain clang command (no shell).
 */
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isSafeCommandName, isSafePluginName } from "../manifest/index.ts";
import { reservedNameReason } from "../registry/index.ts";
import { FledgeError, usageError } from "../core/index.ts";

export interface CreateOptions {
  name: string;
  wasm: boolean;
  output: string;
  description?: string;
}

export interface CreateResult {
  path: string;
  name: string;
  description: string;
  runtime: "wasm" | "native";
  files_created: string[];
}

function tomlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid TOML basic string for printable text
}

function nativeFiles(name: string, description: string): Record<string, string> {
  return {
    "plugin.toml": `[plugin]
name = ${tomlString(name)}
version = "0.1.0"
description = ${tomlString(description)}
author = "you"
runtime = "native"

[[commands]]
name = ${tomlString(name)}
description = ${tomlString(description)}
binary = "bin/${name}"

# [hooks]
# build = "make"              # run without a shell, in the plugin dir
# post_install = "bin/setup"

[capabilities]
exec = false
store = false
metadata = false
`,
    [`bin/${name}`]: `#!/bin/sh
# ${name}: a native fledge plugin. It runs unsandboxed with the user's rights.
# fledge sets FLEDGE_PLUGIN_DIR to the plugin's directory.
set -eu
echo "Hello from ${name}! Arguments: $*"
`,
    "README.md": `# ${name}

${description}

A native fledge plugin (a shell script). Try it:

    fledge plugins validate .
    fledge plugins install . --trust-native
    fledge ${name}
`,
    ".gitignore": "*.cwasm\n*.cwasm.sha256\nstate.json\ndata/\n",
  };
}

export const WASM_BUILD_HOOK = (name: string): string => `clang --target=wasm32-wasi --sysroot=/usr -O2 -o ${name}.wasm src/main.c`;

function wasmFiles(name: string, description: string): Record<string, string> {
  return {
    "plugin.toml": `[plugin]
name = ${tomlString(name)}
version = "0.1.0"
description = ${tomlString(description)}
author = "you"
protocol = "fledge-v1"
runtime = "wasm"

[[commands]]
name = ${tomlString(name)}
description = ${tomlString(description)}
binary = "${name}.wasm"

[hooks]
# Run without a shell, in the plugin dir. --sysroot is where wasi-libc lives: /usr on
# Debian/Ubuntu (package wasi-libc); with wasi-sdk use its share/wasi-sysroot.
build = ${tomlString(WASM_BUILD_HOOK(name))}

[capabilities]
exec = false
store = false
metadata = false
filesystem = "none"
network = false
`,
    "src/main.c": `/*
 * ${name}: a fledge wasm plugin (protocol fledge-v1), built for wasm32-wasi.
 * It talks to fledge through the "fledge" import module: recv() gets the init
 * message, send() sends one JSON message (here an "output" line for stdout).
 */
#include <stdio.h>
#include <string.h>

__attribute__((import_module("fledge"), import_name("send")))
void fledge_send(const char *ptr, int len);

__attribute__((import_module("fledge"), import_name("recv")))
int fledge_recv(char *ptr, int max_len);

/* Send {"type":"output","text":"..."} with text escaped as a JSON string. */
static void fledge_output(const char *text) {
  static char msg[8192];
  size_t n = 0;
  const char *head = "{\\"type\\":\\"output\\",\\"text\\":\\"";
  size_t head_len = strlen(head);
  memcpy(msg, head, head_len);
  n = head_len;
  for (const unsigned char *p = (const unsigned char *)text; *p && n < sizeof msg - 8; p++) {
    if (*p == '"' || *p == '\\\\') {
      msg[n++] = '\\\\';
      msg[n++] = (char)*p;
    } else if (*p == '\\n') {
      msg[n++] = '\\\\';
      msg[n++] = 'n';
    } else if (*p < 0x20) {
      n += (size_t)snprintf(msg + n, sizeof msg - n, "\\\\u%04x", *p);
    } else {
      msg[n++] = (char)*p;
    }
  }
  msg[n++] = '"';
  msg[n++] = '}';
  fledge_send(msg, (int)n);
}

int main(void) {
  /* The init message carries args, project and capabilities as JSON; a real plugin
   * would parse it. Reading it is optional. */
  static char init[65536];
  int len = fledge_recv(init, (int)sizeof init - 1);
  if (len < 0) len = 0;
  init[len] = '\\0';

  fledge_output("Hello from ${name}!");
  return 0;
}
`,
    "README.md": `# ${name}

${description}

A sandboxed fledge plugin in C for wasm32-wasi. Build and install:

    fledge plugins validate .
    fledge plugins install .        # runs the build hook: ${WASM_BUILD_HOOK(name)}
    fledge ${name}

Needs clang with the wasm32 target and wasi-libc (Debian/Ubuntu: \`apt install clang lld wasi-libc\`).
`,
    ".gitignore": `${name}.wasm\n*.cwasm\n*.cwasm.sha256\nstate.json\ndata/\n`,
  };
}

/** --output must be (or become) a folder: refuse when it, or a parent, is a file. */
function checkOutputDir(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(d, { throwIfNoEntry: false });
    } catch {
      st = undefined; // ENOTDIR: a parent is a file, found further up
    }
    if (st !== undefined) {
      if (!st.isDirectory()) {
        throw new FledgeError(`--output '${dir}' cannot be a folder: '${d}' is a file`, { code: "invalid_output", hint: "pass an --output directory that is a folder (or does not exist yet)" });
      }
      return;
    }
    if (dirname(d) === d) return;
  }
}

export function createPlugin(o: CreateOptions): CreateResult {
  if (!isSafePluginName(o.name) || !isSafeCommandName(o.name)) {
    throw usageError(`'${o.name}' is not a usable plugin name`, "use letters, digits, '-' and '_', starting with a letter or digit (it is also the command name)");
  }
  const reserved = reservedNameReason(o.name);
  if (reserved !== undefined) throw usageError(`'${o.name}' is reserved: ${reserved}`, "choose another plugin name");
  const description = o.description?.trim() || `The ${o.name} plugin`;
  const path = resolve(o.output, o.name);
  checkOutputDir(resolve(o.output));
  if (existsSync(path)) throw new FledgeError(`directory '${path}' already exists`, { code: "already_exists", hint: "choose another name or --output directory" });
  const files = o.wasm ? wasmFiles(o.name, description) : nativeFiles(o.name, description);
  try {
    mkdirSync(path, { recursive: true });
    for (const [rel, text] of Object.entries(files)) {
      const file = join(path, rel);
      mkdirSync(join(file, ".."), { recursive: true });
      writeFileSync(file, text);
      if (rel.startsWith("bin/")) chmodSync(file, 0o755);
    }
  } catch (e) {
    rmSync(path, { recursive: true, force: true }); // no half-written scaffold
    const err = e as NodeJS.ErrnoException;
    throw new FledgeError(`cannot create the plugin in '${path}': ${err.code ?? err.message}`, { code: "create_failed", hint: "choose an --output directory you can write to" });
  }
  return { path, name: o.name, description, runtime: o.wasm ? "wasm" : "native", files_created: Object.keys(files) };
}
