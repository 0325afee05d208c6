/**
 * Housekeeping of the prepared-module cache (`<config>/cache/wasm`, written by
 * src/wasm/cache.ts): which entry serves which installed plugin, `fledge cache list`,
 * `fledge cache clean`, and dropping a removed plugin's entries.
 *
 * An entry is named `<source sha256>-<host version digest>.cwasm`, so an entry belongs
 * to every installed wasm plugin whose command module has that sha256 (two plugins may
 * ship the same module and share it). Removing an entry is always safe for a run that
 * already loaded it (a reader reads the whole file, then closes it; an unlinked file
 * stays readable through an open descriptor) and costs at most one re-preparation. What
 * must never be removed is a temp file a live writer is still filling: see
 * {@link removalVerdict}, the one place that decides.
 */
import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadManifest, resolveInside } from "../manifest/index.ts";
import { configDir, fledgePaths, pidAlive, readRegistry, withLock, type Registry } from "../registry/index.ts";
import { sha256Hex } from "../wasm/cache.ts";
import { userCacheDir } from "../wasm/prepared.ts";
import { readModuleFile } from "../wasm/module-file.ts";

export interface CacheEntryInfo {
  /** File name inside the cache folder. */
  file: string;
  path: string;
  size: number;
  /** When it was written (ISO 8601). */
  written: string;
  /** The sha256 of the source module it was prepared from; null for a temp file. */
  source_sha256: string | null;
  /** Installed plugins whose modules this entry serves (empty: nobody's, an orphan). */
  plugins: string[];
  /** A writer's temp file (`.<entry>.tmp-<pid>-<rand>`) and whether that writer is alive. */
  temp: { pid: number; alive: boolean } | null;
}

const ENTRY_RE = /^([0-9a-f]{64})-[0-9a-f]{16}\.cwasm$/;
const TEMP_RE = /\.tmp-(\d+)-[0-9a-f]+$/;

/** sha256 of each command module of an installed wasm plugin (missing or unreadable modules are skipped). */
export function pluginModuleHashes(pluginDir: string): string[] {
  let manifest;
  try {
    manifest = loadManifest(pluginDir).manifest;
  } catch {
    return [];
  }
  if (!manifest || manifest.runtime !== "wasm") return [];
  const out = new Set<string>();
  for (const c of manifest.commands) {
    const r = resolveInside(pluginDir, c.binary);
    if (!("path" in r)) continue;
    try {
      out.add(sha256Hex(readModuleFile(r.path)));
    } catch {
      // a missing binary, or one over the module size cap, has no cache entry worth attributing
    }
  }
  return [...out];
}

/** Module sha256 → names of the installed plugins that use it. */
export function cacheOwners(env: NodeJS.ProcessEnv, reg: Registry = readRegistry(env)): Map<string, string[]> {
  const paths = fledgePaths(env);
  const owners = new Map<string, string[]>();
  for (const p of reg.plugins) {
    if (p.runtime !== "wasm") continue;
    for (const h of pluginModuleHashes(paths.pluginDir(p.name))) owners.set(h, [...(owners.get(h) ?? []), p.name]);
  }
  return owners;
}

/** Every file in the cache folder, newest first, with the plugins each entry serves. */
export function listCache(env: NodeJS.ProcessEnv, owners: Map<string, string[]> = cacheOwners(env)): CacheEntryInfo[] {
  const dir = userCacheDir(configDir(env));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: CacheEntryInfo[] = [];
  for (const file of names) {
    const path = join(dir, file);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    const tmp = TEMP_RE.exec(file);
    const m = ENTRY_RE.exec(file);
    const source = m ? m[1]! : null;
    const pid = tmp ? Number(tmp[1]) : 0;
    out.push({
      file,
      path,
      size: st.isFile() ? st.size : 0,
      written: new Date(st.mtimeMs).toISOString(),
      source_sha256: source,
      plugins: source ? (owners.get(source) ?? []) : [],
      temp: tmp ? { pid, alive: pid === process.pid || pidAlive(pid) } : null,
    });
  }
  return out.sort((a, b) => (a.written < b.written ? 1 : a.written > b.written ? -1 : a.file < b.file ? -1 : 1));
}

export interface CleanOptions {
  /** Also remove entries of installed plugins (they are prepared again on their next run). */
  all?: boolean;
  /** Only entries prepared from these module hashes (a removed plugin's). */
  sources?: ReadonlySet<string>;
}

/**
 * THE decision whether `clean` may delete a cache file. Never a live writer's temp file
 * (it is about to be renamed into place); a dead writer's temp file always. An entry:
 * with `sources`, only one prepared from those modules and used by no installed plugin;
 * otherwise an orphan, or any entry with `all`. Anything else in the folder that is not
 * fledge's (unknown names) is left alone.
 */
export function removalVerdict(e: CacheEntryInfo, opts: CleanOptions): { remove: boolean; why: string } {
  if (e.temp) return e.temp.alive ? { remove: false, why: `being written by process ${e.temp.pid}` } : { remove: true, why: "temp file of a writer that died" };
  if (e.source_sha256 === null) return { remove: false, why: "not a fledge cache entry" };
  if (opts.sources) {
    if (!opts.sources.has(e.source_sha256)) return { remove: false, why: "another module's entry" };
    return e.plugins.length ? { remove: false, why: `still used by ${e.plugins.join(", ")}` } : { remove: true, why: "its plugin was removed" };
  }
  if (e.plugins.length === 0) return { remove: true, why: "no installed plugin uses it" };
  return opts.all ? { remove: true, why: "--all" } : { remove: false, why: `used by ${e.plugins.join(", ")}` };
}

export interface CleanResult {
  removed: CacheEntryInfo[];
  kept: (CacheEntryInfo & { why: string })[];
  freed_bytes: number;
}

/**
 * Remove what {@link removalVerdict} allows. Runs under the registry lock, so the set of
 * installed plugins (and so which entries are orphans) cannot change halfway; a run
 * that loads an entry meanwhile either read it already or prepares it again.
 */
export async function cleanCache(env: NodeJS.ProcessEnv, opts: CleanOptions = {}): Promise<CleanResult> {
  const paths = fledgePaths(env);
  return withLock(paths.lockFile, async () => cleanCacheLocked(env, opts));
}

/** {@link cleanCache} for a caller that already holds the registry lock. */
export function cleanCacheLocked(env: NodeJS.ProcessEnv, opts: CleanOptions, reg?: Registry): CleanResult {
  const result: CleanResult = { removed: [], kept: [], freed_bytes: 0 };
  for (const e of listCache(env, cacheOwners(env, reg ?? readRegistry(env)))) {
    const v = removalVerdict(e, opts);
    if (!v.remove) {
      if (!opts.sources || opts.sources.has(e.source_sha256 ?? "")) result.kept.push({ ...e, why: v.why });
      continue;
    }
    try {
      rmSync(e.path, { force: true, recursive: true }); // a symlink is removed itself, never followed
      result.removed.push(e);
      result.freed_bytes += e.size;
    } catch (err) {
      result.kept.push({ ...e, why: `cannot remove: ${(err as Error).message}` });
    }
  }
  return result;
}
