/**
 * Find and read a plugin.toml on disk. Content problems become Problems (see
 * ./parse.ts); only "there is nothing to read" is thrown, as a FledgeError, because
 * then there is no manifest to report on at all.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, constants as fsConstants } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { FledgeError } from "../core/index.ts";
import { MAX_MANIFEST_BYTES, decodeManifest, parseManifest } from "./parse.ts";
import type { ManifestOptions, ManifestResult } from "./types.ts";

export const MANIFEST_FILE = "plugin.toml";

/** `dir` → `dir/plugin.toml`; a file path is taken as the manifest itself (e.g. plugin-wasm.toml). */
export function locateManifest(pathToDirOrToml: string): { tomlPath: string; pluginDir: string } {
  // Messages name the folder absolutely: "No plugin.toml found in .." says nothing useful.
  const shown = resolve(pathToDirOrToml);
  let st;
  try {
    st = statSync(pathToDirOrToml);
  } catch {
    throw new FledgeError(`No plugin.toml found at ${shown}: that path does not exist`, {
      code: "manifest_not_found",
      hint: "Point to a plugin directory containing plugin.toml, or to the plugin.toml itself.",
    });
  }
  if (st.isDirectory()) {
    const tomlPath = join(pathToDirOrToml, MANIFEST_FILE);
    if (!isFile(tomlPath)) {
      throw new FledgeError(`No plugin.toml found in ${shown}. Point to a directory containing plugin.toml.`, {
        code: "manifest_not_found",
        hint: "A plugin is a directory with a plugin.toml; 'fledge plugins create <name>' makes one.",
      });
    }
    return { tomlPath, pluginDir: pathToDirOrToml };
  }
  if (!st.isFile()) {
    throw new FledgeError(`${shown} is not a regular file or directory`, { code: "manifest_not_found", hint: "Point to a plugin directory or its plugin.toml." });
  }
  return { tomlPath: pathToDirOrToml, pluginDir: dirname(pathToDirOrToml) || "." };
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Read and validate a plugin.toml (or the one in a plugin directory). Binaries are
 * checked against the directory the manifest is in, unless `opts.pluginDir` says
 * otherwise. Throws FledgeError `manifest_not_found` / `manifest_unreadable` only.
 */
export function loadManifest(pathToDirOrToml: string, opts: ManifestOptions = {}): ManifestResult {
  const { tomlPath, pluginDir } = locateManifest(pathToDirOrToml);
  const bytes = readBounded(tomlPath);
  const dir = opts.pluginDir ?? pluginDir;
  const decoded = decodeManifest(bytes);
  if ("problem" in decoded) {
    return { path: tomlPath, pluginDir: dir, manifest: undefined, pluginName: undefined, errors: [decoded.problem], warnings: [] };
  }
  return parseManifest(decoded.text, { ...opts, pluginDir: dir, path: tomlPath });
}

/** Read at most one byte over the limit, so a huge (or endless) file cannot exhaust memory. */
function readBounded(file: string): Uint8Array {
  let fd: number;
  try {
    // O_NONBLOCK: if a FIFO was swapped in after the stat, opening must not hang.
    fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw unreadable(file, e);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new FledgeError(`${basename(file)} at ${file} is not a regular file`, { code: "manifest_unreadable" });
    const limit = MAX_MANIFEST_BYTES + 1;
    const buf = Buffer.alloc(Math.min(limit, Math.max(fstatSync(fd).size, 0) + 1));
    let total = 0;
    for (;;) {
      if (total === buf.length) break;
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
    }
    return buf.subarray(0, total);
  } catch (e) {
    if (e instanceof FledgeError) throw e;
    throw unreadable(file, e);
  } finally {
    closeSync(fd);
  }
}

function unreadable(file: string, e: unknown): FledgeError {
  const reason = e instanceof Error ? e.message : String(e);
  return new FledgeError(`cannot read ${file}: ${reason}`, { code: "manifest_unreadable", hint: "Check the file's permissions." });
}
