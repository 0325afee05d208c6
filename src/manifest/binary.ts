/**
 * Where a command binary is and what it is. A binary path comes from an untrusted
 * manifest and later becomes something fledge executes or loads, so it must name a
 * regular file inside the plugin directory: never absolute, never through `..`,
 * never through a symlink that leads out of the directory.
 */
import { closeSync, lstatSync, openSync, readSync, readlinkSync, realpathSync, statSync, constants as fsConstants } from "node:fs";
import { dirname, isAbsolute, join, parse, relative, resolve } from "node:path";
import type { Manifest, Runtime } from "./types.ts";
import { isStrictlyWithin, isWithin } from "../core/index.ts";

/** Why a binary path, as written, is unacceptable; undefined when it is fine. */
export function unsafeBinaryPath(binary: string): "absolute" | "dotdot" | "nul" | undefined {
  if (binary.includes("\0")) return "nul";
  // Windows forms too: a manifest written on Windows must not smuggle a drive path.
  if (isAbsolute(binary) || binary.startsWith("\\") || /^[A-Za-z]:/.test(binary) || binary.startsWith("~")) return "absolute";
  if (binary.split(/[\\/]+/).includes("..")) return "dotdot";
  return undefined;
}

export type BinaryOnDisk =
  | { kind: "missing" }
  | { kind: "escapes"; target: string }
  | { kind: "in-data" }
  | { kind: "not-file"; what: "directory" | "special file" }
  | { kind: "file"; wasm: boolean; executable: boolean }
  | { kind: "unreadable"; reason: string };

const MAX_HOPS = 40;

function components(p: string): string[] {
  return p.split(/[\\/]+/).filter((c) => c !== "" && c !== ".");
}

/**
 * Resolve `rel` under `root` component by component, reading symlinks ourselves, so
 * that a dangling link, or a link to a file outside the dir that does not exist yet,
 * is judged by where it points. Only the final location matters: a link may wander
 * and come back. Returns the absolute path it leads to (possibly not existing).
 */
export function resolveInside(root: string, rel: string): { path: string } | { escapes: string } | { loop: true } {
  const realRoot = realpathSync(root);
  const inside = (p: string): boolean => isWithin(p, realRoot);
  let current = realRoot;
  const pending = components(rel);
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      // `current` never contains a symlink, so a lexical pop is the real parent.
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    let st;
    try {
      st = lstatSync(next);
    } catch {
      // Nothing exists from here on, so the rest can only be lexical.
      current = resolve(next, ...pending);
      break;
    }
    if (!st.isSymbolicLink()) {
      current = next;
      continue;
    }
    if (++hops > MAX_HOPS) return { loop: true };
    const target = readlinkSync(next);
    if (isAbsolute(target)) current = parse(target).root;
    pending.unshift(...components(target));
  }
  return inside(current) ? { path: current } : { escapes: current };
}

/** The folder a plugin may write while it runs (mounted at /plugin); see {@link inPluginDataDir}. */
export const PLUGIN_DATA_DIR = "data";

/**
 * THE writable-data decision: does `resolvedPath` (a binary already resolved by
 * {@link resolveInside}) lie in the plugin's data folder? The plugin itself can
 * write `data/` while it runs, so a binary there could be rewritten by the code it
 * runs; such a binary is refused. Compared case-insensitively, since `Data/` is the
 * same folder on macOS and Windows.
 */
export function inPluginDataDir(pluginDir: string, resolvedPath: string): boolean {
  let root: string;
  try {
    root = realpathSync(pluginDir);
  } catch {
    root = resolve(pluginDir);
  }
  if (!isStrictlyWithin(resolvedPath, root)) return false;
  return components(relative(root, resolvedPath))[0]?.toLowerCase() === PLUGIN_DATA_DIR;
}

/** The binary path, as written, names something in `data/` (judged before anything is on disk). */
export function namesPluginDataDir(binary: string): boolean {
  return components(binary)[0]?.toLowerCase() === PLUGIN_DATA_DIR;
}

/** The fix for a binary in `data/`, for every place that refuses one. */
export const DATA_BINARY_FIX = `move it out of ${PLUGIN_DATA_DIR}/ (for example to bin/) and point commands[].binary at the new path: ${PLUGIN_DATA_DIR}/ is the folder the plugin itself can write while it runs`;

/**
 * Look at a (syntactically safe) binary on disk. Reads at most four bytes, and only
 * from a regular file: a FIFO or device named as a binary would block or never end.
 */
export function inspectBinary(pluginDir: string, binary: string): BinaryOnDisk {
  let resolved;
  try {
    resolved = resolveInside(pluginDir, binary);
  } catch (e) {
    return { kind: "unreadable", reason: e instanceof Error ? e.message : String(e) };
  }
  if ("loop" in resolved) return { kind: "unreadable", reason: "too many levels of symbolic links" };
  if ("escapes" in resolved) return { kind: "escapes", target: resolved.escapes };
  if (inPluginDataDir(pluginDir, resolved.path)) return { kind: "in-data" };
  let st;
  try {
    st = statSync(resolved.path);
  } catch {
    return { kind: "missing" };
  }
  if (st.isDirectory()) return { kind: "not-file", what: "directory" };
  if (!st.isFile()) return { kind: "not-file", what: "special file" };
  const executable = (st.mode & (fsConstants.S_IXUSR | fsConstants.S_IXGRP | fsConstants.S_IXOTH)) !== 0;
  try {
    return { kind: "file", wasm: hasWasmMagic(resolved.path), executable };
  } catch (e) {
    return { kind: "unreadable", reason: e instanceof Error ? e.message : String(e) };
  }
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

function hasWasmMagic(file: string): boolean {
  const fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  try {
    const buf = Buffer.alloc(4);
    const n = readSync(fd, buf, 0, 4, 0);
    return n === 4 && WASM_MAGIC.every((b, i) => buf[i] === b);
  } finally {
    closeSync(fd);
  }
}

/** What a binary path says about its runtime when the file is not there (yet). */
export function looksLikeWasmPath(binary: string): boolean {
  return binary.toLowerCase().endsWith(".wasm");
}

/**
 * The runtime of one command binary: the file's magic bytes when it exists inside
 * `pluginDir`, else its name (`.wasm` → wasm). `fromFile` says which one decided.
 */
export function binaryRuntime(binary: string, pluginDir: string | undefined): { runtime: Runtime; fromFile: boolean } {
  if (pluginDir !== undefined && unsafeBinaryPath(binary) === undefined) {
    const disk = inspectBinary(pluginDir, binary);
    if (disk.kind === "file") return { runtime: disk.wasm ? "wasm" : "native", fromFile: true };
  }
  return { runtime: looksLikeWasmPath(binary) ? "wasm" : "native", fromFile: false };
}

/**
 * A plugin's runtime (fledge's own rule; the original had only native): an explicit `plugin.runtime` wins;
 * otherwise wasm when its command binaries are WebAssembly (magic bytes `\0asm`, or a
 * `.wasm` path when the file does not exist yet), else native. A plugin whose commands
 * disagree resolves to native here; validation reports that as an error.
 */
export function resolveRuntime(manifest: Pick<Manifest, "plugin" | "commands">, pluginDir?: string): Runtime {
  const declared = manifest.plugin.runtime;
  if (declared === "wasm" || declared === "native") return declared;
  const kinds = manifest.commands.map((c) => binaryRuntime(c.binary, pluginDir).runtime);
  return kinds.length > 0 && kinds.every((k) => k === "wasm") ? "wasm" : "native";
}
