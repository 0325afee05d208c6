/**
 * Command shims in `plugins/bin/`, plus small filesystem helpers the lifecycle shares.
 *
 * Shims: the original symlinked `bin/fledge-<cmd>` to the plugin's binary, so running
 * the shim bypassed fledge entirely (a wasm file "executed" natively, a fledge-v1
 * plugin started without its init message, no capability checks) and one plugin's
 * link silently replaced another's. Ours are tiny sh scripts that run the command
 * through fledge (`exec fledge <cmd> "$@"`), so every way of starting a plugin gets
 * the sandbox and the granted capabilities from the registry. Put `plugins/bin` on
 * PATH to call `fledge-<cmd>` directly. Command names are validated
 * (`[A-Za-z0-9][A-Za-z0-9_-]*`), so they need no quoting.
 */
import { sha256 } from "../core/index.ts";
import { closeSync, lstatSync, openSync, readSync, renameSync, rmSync, unlinkSync, constants as fs } from "node:fs";
import { basename, join } from "node:path";
import { atomicWriteSync } from "../registry/index.ts";
import { resolveInside } from "../manifest/index.ts";

export const SHIM_PREFIX = "fledge-";
export const SHIM_MARKER = "# fledge command shim";

export function shimPath(binDir: string, command: string): string {
  return join(binDir, `${SHIM_PREFIX}${command}`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How to start this fledge again: the compiled binary, or bun + the entry script. */
export function fledgeInvocation(): string[] {
  const compiled = import.meta.path.includes("$bunfs") || import.meta.path.includes("~BUN");
  if (compiled) return [process.execPath];
  const main = Bun.main.endsWith("main.ts") ? Bun.main : join(import.meta.dir, "..", "main.ts");
  return [process.execPath, main];
}

export function shimText(command: string, plugin: string): string {
  const exe = fledgeInvocation().map(shellQuote).join(" ");
  return [
    "#!/bin/sh",
    `${SHIM_MARKER} for '${command}' (plugin '${plugin}'). Written by fledge; do not edit.`,
    "# It runs the command through fledge, which applies the sandbox and the granted capabilities.",
    `exec ${exe} ${command} "$@"`,
    "",
  ].join("\n");
}

export function writeShim(binDir: string, command: string, plugin: string): string {
  const path = shimPath(binDir, command);
  atomicWriteSync(path, shimText(command, plugin), { mode: 0o755 });
  return path;
}

/** Remove a shim if present. */
export function removeShim(binDir: string, command: string): void {
  rmSync(shimPath(binDir, command), { force: true });
}

/**
 * Remove a plugin dir or live link. A symlink is unlinked, never followed: a live-linked
 * plugin's source tree is the author's and must survive removal.
 */
export function removePath(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isSymbolicLink() || !st.isDirectory()) unlinkSync(path);
  else rmSync(path, { recursive: true, force: true });
}

/** Rename that works for symlinks and dirs alike (same filesystem: the staging dir is inside plugins/). */
export function movePath(from: string, to: string): void {
  renameSync(from, to);
}

export function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/** sha256 of a file, streamed in 1 MiB blocks; the file is opened without following a final symlink swap race. */
export function sha256File(path: string): string {
  const fd = openSync(path, fs.O_RDONLY);
  try {
    const h = sha256();
    const buf = Buffer.alloc(1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    return h.digest().toString("hex");
  } finally {
    closeSync(fd);
  }
}

/**
 * Integrity map for the registry: each command binary (as written in plugin.toml) →
 * sha256 of the file it resolves to inside `pluginDir`. Throws if one escapes.
 */
export function hashBinaries(pluginDir: string, binaries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const bin of binaries) {
    const r = resolveInside(pluginDir, bin);
    if (!("path" in r)) throw new Error(`binary ${bin} does not resolve inside ${basename(pluginDir)}`);
    out[bin] = sha256File(r.path);
  }
  return out;
}
