/**
 * plugin.toml → ManifestResult. Never throws on any content: every problem with the
 * text (syntax, types, meaning, unsafe paths) comes back as a Problem with its key
 * path, and all of them at once.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { typeProblems } from "./schema.ts";
import { checkRules } from "./rules.ts";
import { unknownKeyWarnings } from "./strict.ts";
import { isTable, show } from "./text.ts";
import type { ManifestOptions, ManifestResult, Problem } from "./types.ts";

/** Real manifests are a few KiB; anything this large is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Inline arrays/tables nested deeper than this are refused (smol-toml's own guard). */
const MAX_DEPTH = 64;

function failed(path: string, pluginDir: string | undefined, problem: Problem): ManifestResult {
  return { path, pluginDir, manifest: undefined, pluginName: undefined, errors: [problem], warnings: [] };
}

/** Turn bytes into text, refusing what TOML forbids (invalid UTF-8) instead of guessing. */
export function decodeManifest(bytes: Uint8Array): { text: string } | { problem: Problem } {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    return { problem: { path: "", message: `plugin.toml is too large (${bytes.byteLength} bytes; the limit is ${MAX_MANIFEST_BYTES})` } };
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes) };
  } catch {
    return { problem: { path: "", message: "Invalid plugin.toml: the file is not valid UTF-8 text" } };
  }
}

/**
 * Validate manifest text. With `opts.pluginDir`, command binaries are also checked on
 * disk; without it nothing on disk is judged (see ManifestOptions.pluginDir).
 */
export function parseManifest(text: string, opts: ManifestOptions & { path?: string } = {}): ManifestResult {
  const path = opts.path ?? "";
  const pluginDir = opts.pluginDir;
  try {
    if (text.length > MAX_MANIFEST_BYTES) {
      return failed(path, pluginDir, { path: "", message: `plugin.toml is too large (${text.length} characters; the limit is ${MAX_MANIFEST_BYTES})` });
    }
    let doc: unknown;
    try {
      // Integers as BigInt so that `1.0` (a float) and `1` (an integer) stay distinguishable in messages.
      doc = parseToml(text, { maxDepth: MAX_DEPTH, integersAsBigInt: true });
    } catch (e) {
      return failed(path, pluginDir, syntaxProblem(e));
    }
    if (!isTable(doc)) return failed(path, pluginDir, { path: "", message: "Invalid plugin.toml: the document is not a table" });

    const typeErrors = typeProblems(doc);
    const rules = checkRules(doc, pluginDir, typeErrors);
    const warnings = opts.strict ? [...rules.warnings, ...unknownKeyWarnings(doc)] : rules.warnings;
    return {
      path,
      pluginDir,
      manifest: rules.manifest,
      pluginName: rules.pluginName,
      errors: [...typeErrors, ...rules.errors],
      warnings,
    };
  } catch (e) {
    // A bug of ours must still not crash the caller (an installer looping over plugins).
    const message = e instanceof Error ? e.message : String(e);
    return failed(path, pluginDir, { path: "", message: `internal error while validating plugin.toml: ${show(message)}` });
  }
}

function syntaxProblem(e: unknown): Problem {
  if (e instanceof TomlError) {
    // smol-toml's message carries a code excerpt after a blank line; line/column say the same.
    const first = e.message.split("\n")[0]!.replace(/^Invalid TOML document:\s*/, "");
    return { path: "", message: `Invalid plugin.toml: ${show(first)} (line ${e.line}, column ${e.column})`, line: e.line, column: e.column };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { path: "", message: `Invalid plugin.toml: ${show(message)}` };
}
