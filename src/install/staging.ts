/**
 * Staging directories: every install and update materializes, builds and checks a
 * plugin in `plugins/.staging-<pid>-<random>/` and only then moves it into place, so
 * a failure (or a SIGKILL) never leaves a half-installed plugin where fledge would
 * find it. Staging lives next to `plugins/<name>` (same filesystem: the final move
 * is one rename). The pid in the name lets a later run remove the leftovers of a
 * dead process without touching the staging dir of one still running.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureOwnFolder, pidAlive } from "../registry/index.ts";
import { log } from "../ui/index.ts";

export const STAGING_PREFIX = ".staging-";

export interface Staging {
  /** The staging dir itself; removed as a whole on success and on failure. */
  dir: string;
  /** Where the plugin tree goes (`<dir>/tree`): what becomes `plugins/<name>`. */
  tree: string;
  /** Scratch space (downloads) that never becomes part of the plugin. */
  scratch: string;
  /** Remove everything (idempotent; never follows symlinks, so a live-link target is untouched). */
  remove(): void;
  /**
   * Set when an in-process rollback failed: the dir may hold a registered plugin's
   * folder, so it is left for the next command's journal recovery instead of deleted.
   */
  keep?: boolean;
}

export function createStaging(pluginsDir: string): Staging {
  ensureOwnFolder(pluginsDir, "plugins folder");
  const dir = join(pluginsDir, `${STAGING_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  mkdirSync(dir, { mode: 0o700 });
  const scratch = join(dir, "scratch");
  mkdirSync(scratch);
  const staging: Staging = {
    dir,
    tree: join(dir, "tree"),
    scratch,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  activeStagings.add(staging);
  return staging;
}

/** Staging dirs of this process, removed if fledge is interrupted (SIGINT/SIGTERM). */
const activeStagings = new Set<Staging>();

export function releaseStaging(staging: Staging): void {
  if (!staging.keep) staging.remove();
  activeStagings.delete(staging);
}

let handlersInstalled = false;
/** On Ctrl+C or SIGTERM, remove this process's staging dirs before exiting (SIGKILL is handled by cleanStaleStaging). */
export function installInterruptCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const s of activeStagings) if (!s.keep) s.remove();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

/**
 * Remove staging dirs left by processes that died (SIGKILL, power loss). A dir whose
 * pid is alive belongs to a concurrent install and is left alone. Call it only through
 * `recoverInterrupted` (journal.ts): a dead process's staging dir may hold the moved-aside
 * folder of a plugin the registry still lists until its journal is recovered. Returns how
 * many were removed.
 */
export function cleanStaleStaging(pluginsDir: string, keep: ReadonlySet<string> = new Set()): number {
  let names: string[];
  try {
    names = readdirSync(pluginsDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const pid = Number.parseInt(name.slice(STAGING_PREFIX.length), 10);
    if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && pidAlive(pid))) continue;
    if (keep.has(join(pluginsDir, name))) continue; // an unrecovered journal names it, or it holds a registered plugin's folder
    rmSync(join(pluginsDir, name), { recursive: true, force: true });
    removed++;
  }
  if (removed > 0) log.info(`removed ${removed} staging director${removed === 1 ? "y" : "ies"} left by an interrupted install`);
  return removed;
}
