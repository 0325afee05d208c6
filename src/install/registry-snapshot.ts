/**
 * A parsed copy of the registry for readers that only show it (`plugins list`): parsing
 * and validating plugins.toml costs about 0.1-0.2 ms a plugin, and so does classifying
 * each source's trust tier; reading this copy costs a few microseconds a plugin. It
 * holds the validated entries and their tiers under the trust lists of config.toml
 * (recomputed, and the snapshot rewritten, when those lists change).
 *
 * The rule of the project holds: state is trusted only if fledge wrote it. The snapshot
 * (`<config>/cache/plugins.snapshot`) carries an HMAC-SHA256 under the per-user key of
 * the prepared-module cache (../wasm/cache-key.ts) over the format, the fledge build,
 * the SHA-256 of the exact plugins.toml text it was made from, and its body. It is used
 * only when that MAC verifies against the text read now ({@link snapshotMac}): any edit
 * of plugins.toml (same size and restored times included), a snapshot from another
 * build, a forged, truncated, garbage, directory or symlinked snapshot is a miss. A
 * miss parses plugins.toml as always and writes a fresh snapshot (best effort: a
 * read-only cache folder only costs the speed). Nothing about a snapshot is ever fatal.
 */
import { closeSync, constants, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomBytes, sha256Hex } from "../core/digest.ts";
import { readRegularFile } from "../core/read-file.ts";
import { fledgePaths, type FledgePaths } from "../registry/paths.ts";
import { emptyRegistry, parseRegistry } from "../registry/registry.ts";
import { readTextIfExists } from "../registry/toml.ts";
import type { Registry, RegistryEntry } from "../registry/types.ts";
import type { TrustConfig, TrustTier } from "../trust/types.ts";
import { loadCacheKey } from "../wasm/cache-key.ts";
import { FLEDGE_COMMIT, FLEDGE_VERSION } from "../version.ts";
import { log } from "../ui/log.ts";

const FORMAT = "fledge registry snapshot 1";
/** A snapshot larger than this is not read (the registry it stands for would be huge). */
const MAX_BYTES = 64 * 1024 * 1024;

export function snapshotFile(paths: FledgePaths): string {
  return join(paths.configDir, "cache", "plugins.snapshot");
}

/**
 * THE decision whether a snapshot stands for `registryText`: its MAC, under this
 * user's key, over the format, this fledge build, the text's SHA-256 and the body.
 */
function snapshotMac(key: Uint8Array, registryText: string, body: string): string {
  return new Bun.CryptoHasher("sha256", key)
    .update(`${FORMAT}\n${FLEDGE_VERSION} ${FLEDGE_COMMIT}\n${sha256Hex(registryText)}\n`)
    .update(body)
    .digest("hex");
}

/** Equal strings, in time that does not depend on where they differ. */
function sameMac(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A cache file's text; undefined unless it is a regular file (never through a symlink) of sane size. */
function readCacheText(file: string): string | undefined {
  return readRegularFile(file, MAX_BYTES)?.toString("utf8");
}

/** The body of a `format`/MAC/body cache file whose MAC `macOf(body)` verifies; undefined otherwise. */
function verifiedBody(text: string | undefined, format: string, macOf: (body: string) => string): string | undefined {
  if (text === undefined || !text.startsWith(`${format}\n`)) return undefined;
  const macEnd = text.indexOf("\n", format.length + 1);
  if (macEnd < 0) return undefined;
  const body = text.slice(macEnd + 1);
  return sameMac(text.slice(format.length + 1, macEnd), macOf(body)) ? body : undefined;
}

/**
 * Write `format`, the MAC and `body` to `file` (best effort, never throws): a private
 * temp file renamed into place, so a reader sees a whole file or none and racing
 * writers leave one of theirs.
 */
function writeCacheFile(paths: FledgePaths, file: string, format: string, mac: string, body: string): void {
  const tmp = `${file}.tmp.${process.pid}.${randomBytes(6).toString("hex")}`;
  try {
    const data = Buffer.from(`${format}\n${mac}\n${body}`, "utf8");
    mkdirSync(join(paths.configDir, "cache"), { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
  }
}

/** What a snapshot holds: the registry, and the trust tier of each entry under the trust lists `trust`. */
export interface RegistryView {
  reg: Registry;
  /** The trust lists the tiers were computed under (config.toml `[trust]`). */
  trust: TrustConfig;
  /** `tiers[i]` is the tier of `reg.plugins[i]` now (see list.ts currentTier). */
  tiers: TrustTier[];
}

/** The view in a snapshot fledge wrote for exactly `registryText`; undefined on any doubt. */
export function readSnapshot(paths: FledgePaths, key: Uint8Array, registryText: string): RegistryView | undefined {
  const body = verifiedBody(readCacheText(snapshotFile(paths)), FORMAT, (b) => snapshotMac(key, registryText, b));
  if (body === undefined) return undefined;
  try {
    const v = JSON.parse(body) as Partial<{ plugins: unknown; trust: TrustConfig; tiers: unknown }>;
    if (!Array.isArray(v.plugins) || !Array.isArray(v.tiers) || v.tiers.length !== v.plugins.length || typeof v.trust !== "object") return undefined;
    return { reg: { plugins: v.plugins as Registry["plugins"] }, trust: v.trust, tiers: v.tiers as TrustTier[] };
  } catch {
    return undefined;
  }
}

/**
 * Write the snapshot of `view`, made from `registryText` (best effort, never throws).
 * An entry with keys this fledge does not know is not snapshotted (their TOML values,
 * such as dates, would not survive JSON as they are).
 */
export function writeSnapshot(paths: FledgePaths, key: Uint8Array, registryText: string, view: RegistryView): void {
  if (view.reg.plugins.some((p) => p.extra !== undefined)) return;
  const body = JSON.stringify({ plugins: view.reg.plugins, trust: view.trust, tiers: view.tiers });
  writeCacheFile(paths, snapshotFile(paths), FORMAT, snapshotMac(key, registryText, body), body);
}

function sameTrust(a: TrustConfig, b: TrustConfig): boolean {
  return JSON.stringify([a.orgs, a.users]) === JSON.stringify([b.orgs, b.users]);
}

/**
 * The registry, as `readRegistry` returns it, and each entry's tier under `trust`
 * (computed by `tierOf`): from a verified snapshot when there is one for the current
 * plugins.toml (its tiers only when they were computed under these same trust lists);
 * otherwise parsed (errors exactly as readRegistry's) and snapshotted for the next
 * reader. For read-only views only: commands that change the registry read it under
 * the lock (updateRegistry).
 */
export function readRegistryView(env: NodeJS.ProcessEnv, trust: TrustConfig, tierOf: (e: RegistryEntry) => TrustTier, text: string | undefined = readRegistryText(env)): RegistryView {
  const paths = fledgePaths(env);
  if (text === undefined) return { reg: emptyRegistry(), trust, tiers: [] };
  const key = cacheKey(paths);
  const snap = key === undefined ? undefined : readSnapshot(paths, key, text);
  if (snap !== undefined && sameTrust(snap.trust, trust)) return snap;
  const reg = snap?.reg ?? parseRegistry(text, paths.registryFile);
  const view = { reg, trust: { orgs: [...trust.orgs], users: [...trust.users] }, tiers: reg.plugins.map(tierOf) };
  if (key !== undefined) writeSnapshot(paths, key, text, view);
  return view;
}

/** plugins.toml's text; undefined when there is none. */
export function readRegistryText(env: NodeJS.ProcessEnv): string | undefined {
  return readTextIfExists(fledgePaths(env).registryFile);
}

/** This user's cache key (../wasm/cache-key.ts); undefined when none can be had. */
function cacheKey(paths: FledgePaths): Uint8Array | undefined {
  return loadCacheKey(paths.configDir, (m) => log.warn(m));
}

const MEMO_FORMAT = "fledge output memo 1";

export function memoFile(paths: FledgePaths, name: string): string {
  return join(paths.configDir, "cache", `${name}.memo`);
}

/** THE decision whether a memo holds `name`'s output for `inputs`: its MAC, as snapshotMac's. */
function memoMac(key: Uint8Array, name: string, inputs: string, output: string): string {
  return new Bun.CryptoHasher("sha256", key)
    .update(`${MEMO_FORMAT}\n${FLEDGE_VERSION} ${FLEDGE_COMMIT}\n${name}\n${sha256Hex(inputs)}\n`)
    .update(output)
    .digest("hex");
}

/**
 * A command's output, remembered for exactly these inputs (`<config>/cache/<name>.memo`,
 * one entry: the last inputs). `inputs` must name everything the output depends on
 * (for `plugins list`: the registry text's digest, the trust lists, the system's
 * confinement, the width and colour). Used only when fledge wrote it under this user's
 * key for these inputs; anything else is a miss, never an error.
 */
export function readMemo(env: NodeJS.ProcessEnv, name: string, inputs: string): string | undefined {
  const paths = fledgePaths(env);
  const key = cacheKey(paths);
  return key === undefined ? undefined : verifiedBody(readCacheText(memoFile(paths, name)), MEMO_FORMAT, (out) => memoMac(key, name, inputs, out));
}

/** Remember `output` for `inputs` (best effort, never throws). */
export function writeMemo(env: NodeJS.ProcessEnv, name: string, inputs: string, output: string): void {
  const paths = fledgePaths(env);
  const key = cacheKey(paths);
  if (key !== undefined) writeCacheFile(paths, memoFile(paths, name), MEMO_FORMAT, memoMac(key, name, inputs, output), output);
}
