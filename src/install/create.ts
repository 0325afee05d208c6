/**
 * `fledge plugins create`: scaffolds that read their arguments, build with their
 * own build hook, pass `validate --strict` once built, and install as generated.
 * - native: a POSIX sh script (no protocol: argv in, plain stdio).
 * - wasm, Rust (`--wasm`, as the original): a cargo package on the vendored
 *   fledge-plugin-sdk (./scaffold/rust.ts). The original's Rust scaffold printed JSON
 *   to stdout, which the user saw raw; this one sends fledge-v1 messages.
 * - wasm, C (`--lang c`): main.c on fledge.h (./scaffold/c.ts).
 */
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isSafeCommandName, isSafePluginName } from "../manifest/index.ts";
import { reservedNameReason } from "../registry/index.ts";
import { FledgeError, usageError } from "../core/index.ts";
import { cFiles } from "./scaffold/c.ts";
import { rustFiles } from "./scaffold/rust.ts";
import { manifestHead } from "./scaffold/manifest.ts";

export { C_BUILD_HOOK, C_BUILD_HOOK as WASM_BUILD_HOOK } from "./scaffold/c.ts";
export { RUST_BUILD_HOOK } from "./scaffold/rust.ts";

/** Languages of the wasm scaffolds. */
export const SCAFFOLD_LANGS = ["rust", "c"] as const;
export type ScaffoldLang = (typeof SCAFFOLD_LANGS)[number];

export interface CreateOptions {
  name: string;
  wasm: boolean;
  /** Language of a wasm scaffold (default rust); setting it implies wasm. */
  lang?: ScaffoldLang;
  output: string;
  description?: string;
}

export interface CreateResult {
  path: string;
  name: string;
  description: string;
  runtime: "wasm" | "native";
  /** "rust", "c" or "sh". */
  language: ScaffoldLang | "sh";
  files_created: string[];
}

function nativeFiles(name: string, description: string): Record<string, string> {
  return {
    "plugin.toml": `${manifestHead(name, description, "native", `bin/${name}`)}# [hooks]
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
  const wasm = o.wasm || o.lang !== undefined;
  const language: ScaffoldLang | "sh" = wasm ? (o.lang ?? "rust") : "sh";
  const files = language === "rust" ? rustFiles(o.name, description) : language === "c" ? cFiles(o.name, description) : nativeFiles(o.name, description);
  try {
    mkdirSync(path, { recursive: true });
    for (const [rel, text] of Object.entries(files)) {
      const file = join(path, rel);
      mkdirSync(join(file, ".."), { recursive: true });
      writeFileSync(file, text);
      if (rel.startsWith("bin/") || rel === "build.sh") chmodSync(file, 0o755);
    }
  } catch (e) {
    rmSync(path, { recursive: true, force: true }); // no half-written scaffold
    const err = e as NodeJS.ErrnoException;
    throw new FledgeError(`cannot create the plugin in '${path}': ${err.code ?? err.message}`, { cause: err, code: "create_failed", hint: "choose an --output directory you can write to" });
  }
  return { path, name: o.name, description, runtime: wasm ? "wasm" : "native", language, files_created: Object.keys(files) };
}
