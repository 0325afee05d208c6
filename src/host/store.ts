/**
 * The plugin key/value store (`store` / `load` messages, wasm `store_set`/`store_get`):
 * one JSON object per plugin in its `state.json`.
 *
 * Every write is a locked read-modify-write with an atomic replace, so writers in
 * several processes never lose each other's keys and readers never see a torn file.
 * Reads take no lock: the atomic rename means a reader sees the old or the new file.
 *
 * Synchronous on purpose: the wasm imports call it from inside a running guest.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readFileSync } from "node:fs";
import { atomicWriteSync, withLockSync } from "../registry/index.ts";
import { FledgeError } from "../core/index.ts";

export const STORE_LIMITS = {
  maxKeyBytes: 256,
  maxValueBytes: 64 * 1024,
  maxKeys: 256,
  maxTotalBytes: 1024 * 1024,
} as const;

const utf8 = new TextEncoder();

function byteLength(text: string): number {
  return utf8.encode(text).length;
}

function limitError(message: string): FledgeError {
  return new FledgeError(message, { code: "store_limit" });
}

/**
 * The one check that a key is acceptable: non-empty, at most 256 UTF-8 bytes, and no
 * control characters (C0, DEL, C1), which would otherwise reach terminals and logs
 * that print keys. Returns the problem, or undefined when the key is fine.
 */
export function checkStoreKey(key: string): string | undefined {
  if (key.length === 0) return "store key must not be empty";
  if (byteLength(key) > STORE_LIMITS.maxKeyBytes) {
    return `store key exceeds maximum size of ${STORE_LIMITS.maxKeyBytes} bytes`;
  }
  if (/\p{Cc}/u.test(key)) return "store key contains control characters";
  return undefined;
}

/** Serialize a value, enforcing the per-value limit (measured as compact JSON). */
function serializeValue(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw limitError(`store value is not serializable: ${(e as Error).message}`);
  }
  if (json === undefined) throw limitError("store value must be a JSON value");
  if (byteLength(json) > STORE_LIMITS.maxValueBytes) {
    throw limitError(`store value exceeds maximum size of ${STORE_LIMITS.maxValueBytes} bytes`);
  }
  return json;
}

function encodeState(state: Map<string, unknown>): string {
  // fromEntries defines own properties, so a key like "__proto__" stays data.
  return `${JSON.stringify(Object.fromEntries(state), null, 2)}\n`;
}

/**
 * Read the store. A missing file is an empty store; a corrupt one is an error naming
 * the file (never silently replaced: that would throw the plugin's data away).
 */
export function readStore(stateFile: string): Map<string, unknown> {
  let text: string;
  let fd: number | undefined;
  try {
    // O_NOFOLLOW: a `state.json` symlink (to ~/.docker/config.json, say), however it got
    // there, is refused, never read for the plugin; writes replace by rename, so fledge
    // itself never makes one. O_NONBLOCK + fstat: a FIFO there cannot hang the host.
    fd = openSync(stateFile, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTREG" });
    text = readFileSync(fd, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return new Map();
    if (code === "ELOOP" || code === "ENOTREG") {
      throw new FledgeError(`Refusing plugin state ${stateFile}: it is ${code === "ELOOP" ? "a symlink" : "not a regular file"}, and fledge only reads a plain file there.`, {
        code: "store_io",
        hint: `remove ${stateFile} (the plugin's stored data starts empty again)`,
      });
    }
    throw new FledgeError(`Cannot read plugin state ${stateFile}: ${(e as Error).message}`, { cause: e, code: "store_io" });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw corrupt(stateFile, (e as Error).message);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw corrupt(stateFile, "not a JSON object");
  }
  return new Map(Object.entries(parsed));
}

function corrupt(stateFile: string, why: string): FledgeError {
  return new FledgeError(`Plugin state ${stateFile} is corrupt (${why}).`, {
    code: "store_corrupt",
    hint: `Fix the file by hand, or delete it to reset the plugin's stored data.`,
  });
}

/** `load`: the stored value, or null when the key is absent. Invalid keys are errors. */
export function storeGet(stateFile: string, key: string): unknown {
  const problem = checkStoreKey(key);
  if (problem) throw limitError(problem);
  const state = readStore(stateFile);
  return state.has(key) ? state.get(key) : null;
}

/**
 * `store`: set one key, enforcing every limit, under the state file's lock. Throws a
 * FledgeError (code `store_limit`) whose message names the limit that was hit.
 */
export function storeSet(stateFile: string, key: string, value: unknown, lockTimeoutMs?: number): void {
  const problem = checkStoreKey(key);
  if (problem) throw limitError(problem);
  const json = serializeValue(value);
  // A wasm run passes the time left before its deadline: waiting for the lock never outlives the run.
  const lockOpts = lockTimeoutMs === undefined ? {} : { timeoutMs: Math.max(0, Math.floor(lockTimeoutMs)) };
  withLockSync(`${stateFile}.lock`, () => {
    const state = readStore(stateFile);
    if (!state.has(key) && state.size >= STORE_LIMITS.maxKeys) {
      throw limitError(`plugin state exceeds maximum of ${STORE_LIMITS.maxKeys} keys`);
    }
    state.set(key, JSON.parse(json) as unknown);
    const text = encodeState(state);
    if (byteLength(text) > STORE_LIMITS.maxTotalBytes) {
      throw limitError(`plugin state exceeds maximum total size of ${STORE_LIMITS.maxTotalBytes} bytes`);
    }
    atomicWriteSync(stateFile, text, { mode: 0o600 });
  }, lockOpts);
}
