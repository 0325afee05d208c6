/**
 * The layers of src/ and the module edges allowed between them, checked by
 * tests/architecture.test.ts. Data flows one way:
 *
 *   cli -> canary -> install/host -> registry -> trust -> manifest -> core
 *                                \-> wasm -> wasi -> core
 *                                \-> confine (the one launcher of plugin code) -> registry, manifest
 *
 * Every layer may use core (errors, exit codes, redaction, process probes), and the one
 * gate for untrusted text, src/ui/sanitize.ts. A layer that is not listed for another
 * may not import it, not even for a type: a type import is a dependency a reader has to
 * follow too. Guest-side sources (an SDK, the guests' C files) are not part of the host
 * program and are not checked.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

export type Layer = "entry" | "cli" | "canary" | "install" | "host" | "confine" | "registry" | "trust" | "manifest" | "wasm" | "wasi" | "ui" | "core";

/** What each layer may import besides itself, core and {@link SHARED_LEAVES}. */
export const ALLOWED: Readonly<Record<Layer, readonly Layer[]>> = {
  // src/main.ts, src/bin.js: start the CLI (and arm the wasm load watchdog), or the
  // confinement launcher when fledge re-executes itself for a native plugin.
  entry: ["cli", "wasm", "ui", "confine"],
  cli: ["canary", "install", "host", "confine", "ui", "manifest", "trust", "registry", "wasm", "wasi"],
  // The sandbox self-test runs a real plugin through the host.
  canary: ["host", "confine", "manifest", "wasm", "wasi", "ui"],
  // Hooks are plugin code: install starts them through the confinement launcher.
  install: ["manifest", "trust", "registry", "wasm", "wasi", "ui", "confine"],
  host: ["manifest", "trust", "registry", "wasm", "wasi", "ui", "confine"],
  // Native plugin confinement: turns grants (manifest types, fledge's paths) into kernel rules.
  confine: ["manifest", "registry", "ui"],
  // The registry stores manifests' capabilities and trust tiers.
  registry: ["manifest", "trust"],
  // Trust policy is decided over a manifest's capabilities.
  trust: ["manifest"],
  manifest: [],
  wasm: ["wasi"],
  wasi: [],
  ui: [],
  core: [],
};

/**
 * Guest-side sources under src/ (the plugin SDKs): not host modules, so not in a layer.
 * The scaffolds embed them as text (`with { type: "text" }`) to copy into new plugins.
 */
export const GUEST_SOURCES = "src/sdk/";

/** Modules any layer may import: the one gate for untrusted text (it imports nothing). */
export const SHARED_LEAVES: readonly string[] = ["src/ui/sanitize.ts"];

/** The layer of a file under src/ (a path relative to the repository, with '/'). */
export function layerOf(file: string): Layer {
  if (file === "src/main.ts" || file === "src/bin.js") return "entry";
  if (file === "src/version.ts") return "core";
  const top = file.split("/")[1] ?? "";
  if (top in ALLOWED) return top as Layer;
  throw new Error(`${file}: not in any layer; add its folder to ALLOWED in tests/helpers/architecture.ts`);
}

/** Drop comments so an import named in prose is not read as one (strings are left alone). */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Every module specifier a source file imports or re-exports (static, dynamic, type-only). */
export function importsOf(code: string): string[] {
  const text = stripComments(code);
  const out: string[] = [];
  for (const re of [/\b(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /^\s*import\s*["']([^"']+)["']/gm]) {
    for (const m of text.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

export interface Edge {
  from: string;
  to: string;
}

/** The src-internal edges of one file: relative specifiers resolved against it. */
export function edgesOf(file: string, code: string): Edge[] {
  const dir = posix.dirname(file);
  return importsOf(code)
    .filter((s) => s.startsWith("."))
    .map((s) => ({ from: file, to: posix.normalize(posix.join(dir, s)) }));
}

/** Why an edge goes against the layers, or undefined when it is allowed. */
export function edgeViolation(e: Edge): string | undefined {
  if (!e.to.startsWith("src/")) return e.to === "package.json" && e.from === "src/version.ts" ? undefined : `${e.from} imports ${e.to}, outside src/`;
  if (SHARED_LEAVES.includes(e.to)) return undefined;
  if (e.to.startsWith(GUEST_SOURCES)) return e.from.startsWith("src/install/scaffold/") ? undefined : `${e.from} imports the guest-side source ${e.to}: only the scaffolds (src/install/scaffold/) embed SDK sources`;
  const from = layerOf(e.from);
  const to = layerOf(e.to);
  if (from === to || to === "core") return undefined;
  if (ALLOWED[from].includes(to)) return undefined;
  return `${e.from} (${from}) imports ${e.to} (${to}): ${from} may import only ${[...ALLOWED[from], "core"].join(", ")}`;
}

/** node:fs functions that change the file system through a path (or may create what they open). */
export const MUTATING_FS = [
  "openSync", "open", "mkdirSync", "mkdir", "rmdirSync", "rmdir", "rmSync", "rm", "unlinkSync", "unlink",
  "renameSync", "rename", "symlinkSync", "symlink", "linkSync", "link", "utimesSync", "utimes", "lutimesSync", "lutimes",
  "chmodSync", "chmod", "lchmodSync", "chownSync", "chown", "lchownSync", "truncateSync", "truncate",
  "writeFileSync", "writeFile", "appendFileSync", "appendFile", "copyFileSync", "copyFile", "cpSync", "cp", "mkdtempSync",
] as const;

/** The named node:fs imports of a file (`import { a, b as c } from "node:fs"`; a namespace import counts as all). */
export function fsImportsOf(code: string): string[] {
  const text = stripComments(code);
  const out: string[] = [];
  for (const m of text.matchAll(/\bimport\s+(?:type\s+)?([^;]*?)\s+from\s*["'](?:node:)?fs(?:\/promises)?["']/g)) {
    const clause = m[1]!;
    if (/\*\s+as\b/.test(clause) || /^[A-Za-z_$][\w$]*\s*(,|$)/.test(clause)) out.push("*");
    const named = /\{([^}]*)\}/.exec(clause)?.[1] ?? "";
    for (const part of named.split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0]!.trim();
      if (name) out.push(name);
    }
  }
  return out;
}

/** Every .ts/.js file under `dir` (relative to `root`, with '/'). */
export function sourceFiles(root: string, dir = "src"): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory() && `${p.split(sep).join("/")}/` === GUEST_SOURCES) continue;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(relative(root, join(root, p)).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

export function readSource(root: string, file: string): string {
  return readFileSync(join(root, file), "utf8");
}
