import { defineCommand } from "citty";
import { readFileSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { FledgeError, usageError } from "../ui/index.ts";
import { markPassthrough } from "./framework.ts";
import { processExitCode, runCommand, type Preopen } from "../wasi/index.ts";

/**
 * `fledge wasm run [--dir HOST[::GUEST][:ro]]... [--env K=V]... <file.wasm> [args...]`
 * Everything after the module path goes to the guest verbatim (markPassthrough);
 * a `--` right before or after the path is dropped. We parse the raw arguments
 * ourselves because the flags repeat.
 */

export interface RunArgs {
  dirs: Preopen[];
  env: [string, string][];
  file: string;
  guestArgs: string[];
}

/** `HOST[::GUEST][:ro]` → a preopen. Checks syntax and that HOST is a directory. */
export function parseDir(spec: string): Preopen {
  let rest = spec;
  let readOnly = false;
  if (rest.endsWith(":ro")) {
    readOnly = true;
    rest = rest.slice(0, -3);
  }
  let host = rest;
  let guest: string | undefined;
  const sep = rest.indexOf("::");
  if (sep !== -1) {
    host = rest.slice(0, sep);
    guest = rest.slice(sep + 2);
    if (guest === "" || guest.includes("\0")) throw badDir(spec, "the guest path after '::' is empty");
  }
  if (host === "") throw badDir(spec, "the host directory is empty");
  let st;
  try {
    st = statSync(host);
  } catch {
    throw badDir(spec, `host directory '${host}' does not exist`);
  }
  if (!st.isDirectory()) throw badDir(spec, `'${host}' is not a directory`);
  if (guest === undefined) {
    // `--dir .` (or `/`) becomes the guest root "/", which wasi-libc also uses for relative
    // paths, like `wasmtime --dir .`; `..` is named by the directory's real name.
    const literal = basename(host.replace(/\/+$/, ""));
    const base = literal === ".." ? basename(resolve(host)) : literal;
    guest = base === "" || base === "." ? "/" : `/${base}`;
  }
  return { hostPath: host, guestPath: guest, readOnly };
}

function badDir(spec: string, why: string): FledgeError {
  return new FledgeError(`bad --dir '${spec}': ${why}`, { code: "bad_dir", hint: "use --dir HOST[::GUEST][:ro], e.g. --dir ./data::/data:ro" });
}

export function parseEnv(spec: string): [string, string] {
  const eq = spec.indexOf("=");
  const key = eq === -1 ? "" : spec.slice(0, eq);
  if (eq <= 0 || key.includes("\0") || spec.includes("\0")) {
    throw new FledgeError(`bad --env '${spec}': expected K=V with a non-empty name`, { code: "bad_env", hint: "e.g. --env GREETING=hello" });
  }
  return [key, spec.slice(eq + 1)];
}

/** Split the leaf's raw arguments into our flags, the module path and the guest's arguments. */
export function parseRunArgs(raw: readonly string[]): RunArgs {
  const dirs: Preopen[] = [];
  const env: [string, string][] = [];
  let i = 0;
  let file: string | undefined;
  const value = (flag: string, tok: string): string => {
    if (tok.includes("=")) return tok.slice(tok.indexOf("=") + 1);
    const v = raw[++i];
    if (v === undefined) throw usageError(`option '${flag}' needs a value`);
    return v;
  };
  for (; i < raw.length; i++) {
    const tok = raw[i]!;
    if (tok === "--") {
      file = raw[++i];
      i++;
      break;
    }
    if (tok === "--dir" || tok.startsWith("--dir=")) dirs.push(parseDir(value("--dir", tok)));
    else if (tok === "--env" || tok.startsWith("--env=")) env.push(parseEnv(value("--env", tok)));
    else if (tok.startsWith("-") && tok !== "-") throw usageError(`unknown option '${tok}' for 'fledge wasm run'`, "run 'fledge wasm run --help' to see the options");
    else {
      file = tok;
      i++;
      break;
    }
  }
  if (file === undefined) throw usageError("missing the module to run", "usage: fledge wasm run [--dir HOST[::GUEST][:ro]]... [--env K=V]... <file.wasm> [args...]");
  if (raw[i] === "--") i++;
  return { dirs, env, file, guestArgs: raw.slice(i) as string[] };
}

/** Read and compile a module file with clear errors for the usual mistakes. */
export async function loadModule(file: string): Promise<WebAssembly.Module> {
  let bytes: Uint8Array;
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
    bytes = readFileSync(file);
  } catch {
    throw new FledgeError(`cannot read module '${file}': no such file`, { code: "not_found", hint: "check the path to the .wasm file" });
  }
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new FledgeError(`'${file}' is not a WebAssembly module (no \\0asm header)`, { code: "not_wasm", hint: "pass a compiled .wasm file, e.g. clang --target=wasm32-wasi -o x.wasm x.c" });
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    throw new FledgeError(`'${file}' is not a valid WebAssembly module: ${e instanceof Error ? e.message : String(e)}`, { code: "not_wasm" });
  }
}

const run = markPassthrough(
  defineCommand({
    meta: {
      name: "run",
      description:
        "Run a wasm32-wasip1 module in fledge's WASI sandbox. Example: fledge wasm run --dir ./data::/data:ro --env NAME=x app.wasm -- --verbose",
    },
    args: {
      dir: { type: "string", description: "preopen HOST[::GUEST][:ro] (repeatable; default guest path /<basename>; :ro read-only)" },
      env: { type: "string", description: "K=V passed to the guest (repeatable; nothing else from the host environment is passed)" },
      module: { type: "positional", required: false, description: "the .wasm file; everything after it goes to the module as arguments" },
    },
    async run({ rawArgs }) {
      const a = parseRunArgs(rawArgs);
      const module = await loadModule(a.file);
      const { exitCode } = await runCommand(module, {
        args: [basename(a.file), ...a.guestArgs],
        env: a.env,
        preopens: a.dirs,
        stdin: 0,
        stdout: 1,
        stderr: 2,
      });
      return processExitCode(exitCode);
    },
  }),
);

export default defineCommand({
  meta: { name: "wasm", description: "Run WebAssembly modules directly (for plugin authors)" },
  subCommands: { run: () => run },
});
