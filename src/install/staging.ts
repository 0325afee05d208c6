/**
 * Staging directories: every install and update materializes, builds and checks a
 * plugin in `plugins/.staging-<pid>-<host>-<random>/` and only then moves it into place, so
 * a failure (or a SIGKILL) never leaves a half-installed plugin where fledge would
 * find it. Staging lives next to `plugins/<name>` (same filesystem: the final move
 * is one rename). The pid and host tag in the name let a later run remove the leftovers
 * of a dead process without touching the staging dir of one still running, here or on
 * another machine sharing the home folder (see ownerGone in src/core/process.ts).
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hostTag, ownerGone, randomBytes } from "../core/index.ts";
import { ensureOwnFolder } from "../registry/index.ts";
import { log } from "../ui/index.ts";
import { FledgeError } from "../core/index.ts";

export const STAGING_PREFIX = ".staging-";

/** A staging folder's name for process `pid` on host `host`. */
export function stagingName(pid: number = process.pid, host: string = hostTag()): string {
  return `${STAGING_PREFIX}${pid}-${host}-${randomBytes(6).toString("hex")}`;
}

/** Who made a staging folder, from its name; undefined for anything else. */
export function stagingOwner(name: string): { pid: number; host: string } | undefined {
  const m = /^\.staging-(\d+)-([0-9a-f]{8})-[0-9a-f]+$/.exec(name);
  return m ? { pid: Number(m[1]), host: m[2]! } : undefined;
}

/**
 * Is `name` a staging folder left by a process that is gone? One without a host in its
 * name (or not named like fledge's) cannot be judged, so it is never called left behind.
 */
export function stagingLeftBehind(name: string): boolean {
  const owner = stagingOwner(name);
  return owner !== undefined && ownerGone(owner);
}

/** Is `name` a staging folder of this very process? */
export function isOwnStaging(name: string): boolean {
  const owner = stagingOwner(name);
  return owner !== undefined && owner.pid === process.pid && owner.host === hostTag();
}

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
  const dir = join(pluginsDir, stagingName());
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
 * pid is alive belongs to a concurrent install and is left alone, and so is one made on
 * another host (a shared home): its pid cannot be checked from here. Call it only through
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
    if (!stagingLeftBehind(name)) continue; // running here or on another host, or not judgeable
    if (keep.has(join(pluginsDir, name))) continue; // an unrecovered journal names it, or it holds a registered plugin's folder
    rmSync(join(pluginsDir, name), { recursive: true, force: true });
    removed++;
  }
  if (removed > 0) log.info(`removed ${removed} staging director${removed === 1 ? "y" : "ies"} left by an interrupted install`);
  return removed;
}

/**
 * THE rule that a staging path never reaches a message: an error raised while working
 * in `staging` is re-raised with the staging tree shown as `shown` (the source the user
 * named, or the plugin's final folder) and any other staging path as "(staging)". The
 * staging folder is gone by the time the user reads the message, so it names nothing
 * they can look at.
 */
export function withoutStagingPaths(e: unknown, staging: Pick<Staging, "dir" | "tree">, shown: string): unknown {
  const scrub = (text: string): string => text.split(staging.tree).join(shown).split(staging.dir).join("(staging)");
  if (e instanceof FledgeError) {
    const message = scrub(e.message);
    const hint = e.hint === undefined ? undefined : scrub(e.hint);
    if (message === e.message && hint === e.hint) return e;
    return new FledgeError(message, { code: e.code, exitCode: e.exitCode, hint, details: e.details, cause: e });
  }
  if (e instanceof Error && e.message.includes(staging.dir)) {
    const copy = new Error(scrub(e.message), { cause: e });
    copy.name = e.name;
    return copy;
  }
  return e;
}
