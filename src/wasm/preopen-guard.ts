/**
 * THE decision on which host folders a guest may be given WRITE access to, with
 * respect to fledge's own state. Whoever can write `<config>` can turn fledge's limits
 * off (`config.toml`), replace the cache key, or plant prepared modules in
 * `<config>/cache/wasm` (which skip validation and metering). So a writable preopen
 * may neither contain fledge's config folder nor lie inside it, except inside a
 * plugin's own data folder (`<config>/plugins/<name>/data`, the `/plugin` mount).
 * Read-only preopens are not judged here: reading the cache or the key gives a guest
 * nothing it can use without also writing the cache folder.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { FledgeError, isWithin } from "../core/index.ts";

export interface GuardedPreopen {
  hostPath: string;
  readOnly: boolean;
}

/**
 * The canonical path of `p` as the kernel would reach it, even when its tail does not
 * exist yet (the config folder before fledge's first run): the longest existing
 * ancestor is resolved through its symlinks and the missing names are appended.
 * Comparing an unresolved path would let `/home -> /var/home` hide the config folder
 * inside a writable preopen of `/var/home`.
 */
function real(p: string): string {
  let head = resolve(p);
  const missing: string[] = [];
  for (;;) {
    try {
      const base = realpathSync(head);
      return missing.length === 0 ? base : join(base, ...missing.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(p);
      missing.push(basename(head));
      head = parent;
    }
  }
}


/** Why a writable preopen of `hostPath` would hand the guest fledge's own state; undefined when it does not. */
export function fledgeStateConflict(hostPath: string, configDir: string): string | undefined {
  const host = real(hostPath);
  const config = real(configDir);
  if (isWithin(config, host)) return `it contains fledge's config folder ${config}`;
  if (!isWithin(host, config)) return undefined;
  // Inside the config folder: only <config>/plugins/<name>/data and below.
  const rel = host.slice(config.length + 1).split(sep);
  if (rel.length >= 3 && rel[0] === "plugins" && rel[1] !== "" && rel[1] !== "bin" && rel[2] === "data") return undefined;
  return `it is inside fledge's config folder ${config}`;
}

/** Refuse any writable preopen that would give the guest fledge's own state (see the module comment). */
export function assertPreopensSpareFledgeState(preopens: readonly GuardedPreopen[], configDir: string): void {
  for (const p of preopens) {
    if (p.readOnly) continue;
    const why = fledgeStateConflict(p.hostPath, configDir);
    if (why) {
      throw new FledgeError(`refusing to give the module write access to '${p.hostPath}': ${why}, and a guest that can write there can lift its own limits`, {
        code: "preopen_denied",
        hint: `preopen a folder outside ${real(configDir)}, or add ':ro' to mount it read-only`,
      });
    }
  }
}
