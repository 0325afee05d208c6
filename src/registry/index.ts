/**
 * Registry, config, paths, locks and atomic writes. Everything fledge
 * persists goes through here.
 */
export { configDir, fledgePaths, assertSafePathSegment, assertNotReserved, ensureOwnFolder, type FledgePaths } from "./paths.ts";
export { isReservedName, reservedNameReason, foldName, RESERVED_NAMES, RESERVED_PREFIXES, RESERVED_SUFFIXES } from "../manifest/reserved.ts";
export { loadConfig, parseConfig, defaultConfig, githubToken, type FledgeConfig, type FledgeLimitsConfig } from "./config.ts";
export { atomicWrite, atomicWriteSync, type AtomicWriteOptions } from "./atomic.ts";
export { withLock, withLockSync, isStaleLock, pidAlive, DEFAULT_LOCK_TIMEOUT_MS, type LockOptions, type LockRecord } from "./lock.ts";
export {
  readRegistry,
  updateRegistry,
  parseRegistry,
  serializeRegistry,
  emptyRegistry,
  getEntry,
  findCommandOwner,
  installedDate,
} from "./registry.ts";
export { INSTALL_KINDS, TRUST_TIERS, type InstallKind, type TrustTier, type Registry, type RegistryEntry } from "./types.ts";
