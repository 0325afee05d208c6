/**
 * The intent journal: what makes a crash (kill -9, power cut) in the middle of an
 * install, install --force, update or remove lose nothing.
 *
 * Those commands change the disk with a few renames (old plugin aside into the staging
 * dir, the plugin's state.json/data across, the staged tree into place) and then write
 * the registry, which is the commit point. Before the first rename, under the registry
 * lock, the command writes `plugins.journal.json` (atomically, fsynced) listing every
 * rename it is about to do and a fresh random commit id. The registry text it then
 * writes carries that id (a `# fledge-commit <id>` line, see `stampRegistry`), so the
 * registry write itself says "operation N happened". It deletes the journal once the
 * registry is written (or its in-process rollback ran).
 *
 * A journal found at the start of a later command therefore belongs to a process that
 * died inside the commit. `recoverInterrupted` (under the lock) decides with one rule,
 * `recoveryDirection`: the registry carries this journal's commit id → the operation
 * happened, only shims are made to match (roll forward); anything else → every rename
 * is undone in reverse order (roll back), so the old plugin, its state.json and data/
 * are back where the registry says they are. The decision never compares digests of
 * registry texts: a same-version `install --force` or an update that changes nothing
 * in the entry writes the very text that was there before, and "the registry already
 * holds the new text" would then call an interrupted commit finished.
 *
 * Only then are stale staging dirs deleted, never one a journal still names, and never
 * while a registered plugin lacks its folder and a staging dir holds one for it
 * (`restoreRegisteredFolders` moves it back first): nothing a registry entry owns is
 * ever deleted by recovery.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { atomicWriteSync, findCommandOwner, fledgePaths, parseRegistry, withLock, type FledgePaths } from "../registry/index.ts";
import { isStrictlyWithin, ownerGone, randomBytes, sha256Hex } from "../core/index.ts";
import { isStaleLock, pidAlive, readLockRecord } from "../registry/lock.ts";
import { log } from "../ui/index.ts";
import { exists, movePath, removeShim, writeShim } from "./shims.ts";
import { cleanStaleStaging, isOwnStaging, stagingLeftBehind, stagingOwner, STAGING_PREFIX } from "./staging.ts";

export type JournalOp = "install" | "update" | "remove";

export interface Move {
  from: string;
  to: string;
}

export interface Intent {
  op: JournalOp;
  /** The plugin being installed, updated or removed. */
  name: string;
  /**
   * Random id of this operation, written into the registry text it commits
   * (`stampRegistry`): its presence there is the one fact recovery rolls forward on.
   */
  commit: string;
  /** sha256 of the registry text before (null: there was no registry file) and after: diagnostics only. */
  registryBefore: string | null;
  registryAfter: string;
  /** Renames in the order they are done. */
  moves: Move[];
  /** Every command whose shim the operation may touch. */
  commands: string[];
  /** The staging dir of the operation (never cleaned while this journal exists). */
  staging: string;
  pid: number;
}

export function journalFile(paths: FledgePaths): string {
  return join(paths.configDir, "plugins.journal.json");
}

export function registryDigest(text: string | null): string | null {
  return text === null ? null : sha256Hex(text);
}

/** A fresh commit id for one operation (128 random bits: never equal to an earlier one). */
export function newCommitId(): string {
  return randomBytes(16).toString("hex");
}

const STAMP = "# fledge-commit ";

/**
 * The registry text as the operation writes it: `text` plus a comment line naming the
 * operation's commit id. TOML ignores comments, so readers see the same registry; the
 * next rewrite drops the line, which is fine: it only matters while the journal exists.
 */
export function stampRegistry(text: string, commit: string): string {
  return `${text}${text.endsWith("\n") ? "" : "\n"}${STAMP}${commit}\n`;
}

/** Write the intent before the first rename; atomic and fsynced, so a crash leaves all of it or none. */
export function writeIntent(paths: FledgePaths, intent: Omit<Intent, "pid">): void {
  atomicWriteSync(journalFile(paths), `${JSON.stringify({ version: 2, ...intent, pid: process.pid }, null, 2)}\n`, { mode: 0o600 });
}

/** The operation is over (committed, or rolled back in-process): forget it. */
export function clearIntent(paths: FledgePaths): void {
  try {
    unlinkSync(journalFile(paths));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  try {
    const fd = openSync(paths.configDir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort (the unlink is what matters; a resurrected journal is recovered idempotently)
  }
}

function inside(root: string, p: string): boolean {
  return isAbsolute(p) && isStrictlyWithin(p, root);
}

/** Parse a journal; null when it is not one we wrote (refused, not acted on). */
function readIntent(paths: FledgePaths): Intent | null | undefined {
  let text: string;
  try {
    text = readFileSync(journalFile(paths), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const j = JSON.parse(text) as Partial<Intent> & { version?: unknown };
    const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((x) => typeof x === "string");
    const movesOk =
      Array.isArray(j.moves) &&
      j.moves.every((m: unknown) => {
        const mm = m as Partial<Move>;
        // Recovery only ever renames inside plugins/: a tampered journal cannot move anything else.
        return typeof mm?.from === "string" && typeof mm.to === "string" && inside(paths.pluginsDir, mm.from) && inside(paths.pluginsDir, mm.to);
      });
    if (j.version !== 2 || typeof j.commit !== "string" || !/^[0-9a-f]{32}$/.test(j.commit) || typeof j.op !== "string" || typeof j.name !== "string" || typeof j.registryAfter !== "string" || !movesOk || !strings(j.commands) || typeof j.staging !== "string") return null;
    return j as Intent;
  } catch {
    return null;
  }
}

/** The registry file's text; null when there is none yet (any other read error is thrown). */
export function readRegistryTextOrNull(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * The one recovery rule: an interrupted operation happened iff the registry carries
 * its commit id (the stamped registry write is the commit point, and the id is random,
 * so no earlier text can carry it); otherwise it did not, and its renames are undone.
 */
export function recoveryDirection(intent: Pick<Intent, "commit">, registryText: string | null): "forward" | "back" {
  if (registryText === null) return "back";
  return registryText.split("\n").includes(`${STAMP}${intent.commit}`) ? "forward" : "back";
}

/** Undo renames newest first; a rename that did not happen (or was already undone) is skipped. */
export function undoMoves(moves: readonly Move[]): void {
  for (const m of [...moves].reverse()) {
    if (exists(m.to) && !exists(m.from)) {
      mkdirSync(dirname(m.from), { recursive: true });
      movePath(m.to, m.from);
    }
  }
}

/** Make the shims of `commands` agree with the registry text. */
function syncShims(paths: FledgePaths, registryText: string | null, commands: readonly string[]): void {
  const reg = registryText === null ? { plugins: [] } : parseRegistry(registryText, paths.registryFile);
  mkdirSync(paths.binDir, { recursive: true });
  for (const cmd of commands) {
    const owner = findCommandOwner(reg, cmd);
    if (owner) writeShim(paths.binDir, cmd, owner.name);
    else removeShim(paths.binDir, cmd);
  }
}

export interface Recovery {
  op: JournalOp;
  name: string;
  direction: "forward" | "back";
}

/**
 * Temp files of atomic writes (`.<name>.tmp.<pid>.<hex>`, see registry/atomic.ts) whose
 * writer is dead: a shim's would sit, executable, in the folder users put on PATH.
 */
function removeDeadTempFiles(dirs: readonly string[]): void {
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      // atomic.ts temp files, and lock.ts's `<lock>.<pid>.<host>.<token>.tmp` (a kill between its write and link).
      const m = /^\..+\.tmp\.(\d+)\.([0-9a-f]{8})\.[0-9a-f]+$/.exec(n) ?? /\.lock(?:\.takeover)?\.(\d+)\.([0-9a-f]{8})\.[0-9a-f]+\.tmp$/.exec(n);
      if (!m || !ownerGone({ pid: Number(m[1]), host: m[2]! })) continue;
      try {
        unlinkSync(join(dir, n));
      } catch {
        // gone already
      }
    }
  }
}

/** Recover a journal; the caller holds the lock. */
function recoverLocked(paths: FledgePaths): Recovery | null {
  const intent = readIntent(paths);
  if (intent === undefined) return null;
  if (intent === null) {
    log.warn(`ignoring ${journalFile(paths)}: not a journal this version of fledge wrote; nothing was changed and no staging folder is deleted while it exists (a plugin folder may be inside ${join(paths.pluginsDir, `${STAGING_PREFIX}*`)}); move any back, then delete the journal`);
    return null;
  }
  const text = readRegistryTextOrNull(paths.registryFile);
  const direction = recoveryDirection(intent, text);
  if (direction === "back") undoMoves(intent.moves);
  syncShims(paths, text, intent.commands);
  clearIntent(paths);
  const what = direction === "forward" ? "completed it" : "restored the previous state";
  log.warn(`fledge was interrupted during '${intent.op}' of ${intent.name}; recovered: ${what}`);
  return { op: intent.op, name: intent.name, direction };
}

/**
 * The last guard before stale staging dirs are deleted: every plugin the registry lists
 * must have its folder. One that does not, while a dead process's staging dir holds a
 * moved-aside folder for it (`old-<name>`), gets that folder back. Returns the staging
 * dirs that must not be deleted: those still holding a folder some registered plugin
 * lacks (the move back failed) — deleting them would lose that plugin's data.
 */
export function restoreRegisteredFolders(paths: FledgePaths): Set<string> {
  const keep = new Set<string>();
  const text = readRegistryTextOrNull(paths.registryFile);
  if (text === null) return keep;
  let names: string[];
  try {
    // A live process's staging dir is its own business (it holds no moved-aside folder
    // outside the lock, which we hold); only dead processes' dirs are candidates.
    names = readdirSync(paths.pluginsDir).filter(stagingLeftBehind);
  } catch {
    return keep;
  }
  for (const p of parseRegistry(text, paths.registryFile).plugins) {
    const dir = paths.pluginDir(p.name);
    if (exists(dir)) continue;
    for (const n of names) {
      const aside = join(paths.pluginsDir, n, `old-${p.name}`);
      if (!exists(aside)) continue;
      if (!exists(dir)) {
        try {
          movePath(aside, dir);
          log.warn(`restored ${dir} from ${aside}: the registry lists ${p.name} but its folder was missing`);
          continue;
        } catch (e) {
          log.warn(`could not restore ${dir} from ${aside} (${(e as Error).message}); that staging folder is kept`);
        }
      }
      keep.add(join(paths.pluginsDir, n));
    }
  }
  return keep;
}

/** Does anything need recovering? Cheap, lock-free: a journal, or staging dirs of dead processes. */
function needsRecovery(paths: FledgePaths): boolean {
  // A journal or staging dir of a live process is its commit (or build) in progress, not
  // a crash: nothing to recover, so no need to wait for its lock (a build can take minutes).
  const live = (pid: number): boolean => Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid);
  if (exists(journalFile(paths))) {
    let pid = Number.NaN;
    try {
      pid = Number((JSON.parse(readFileSync(journalFile(paths), "utf8")) as { pid?: unknown }).pid);
    } catch {
      return true; // unreadable: recoverLocked decides, under the lock
    }
    // In progress only while that same live process holds the registry lock; otherwise
    // (a crash, whatever the pid now belongs to) recover under the lock as always.
    const holder = readLockRecord(paths.lockFile);
    if (!live(pid) || !holder || holder.pid !== pid || isStaleLock(holder)) return true;
  }
  try {
    // Another live process's staging dir is its install in progress (see the journal above).
    return readdirSync(paths.pluginsDir).some((n) => {
      if (!n.startsWith(STAGING_PREFIX) || isOwnStaging(n)) return false;
      const owner = stagingOwner(n);
      return owner === undefined || ownerGone(owner) || !live(owner.pid);
    });
  } catch {
    return false;
  }
}

/**
 * At the start of every `plugins` command: finish or undo what a crashed command left,
 * then remove stale staging dirs, all under the registry lock (so never while a live
 * command is between its renames). Does nothing, and takes no lock, when all is clean.
 */
export async function recoverInterrupted(env: NodeJS.ProcessEnv): Promise<Recovery | null> {
  const paths = fledgePaths(env);
  if (!needsRecovery(paths)) return null;
  return withLock(paths.lockFile, () => {
    const r = recoverLocked(paths);
    // After recovery no journal names a staging dir; if one still exists (one we could
    // not read), no staging dir is deleted at all: it may hold a registered plugin.
    const left = readIntent(paths);
    const keep = restoreRegisteredFolders(paths);
    if (left?.staging !== undefined) keep.add(left.staging);
    if (left !== null) cleanStaleStaging(paths.pluginsDir, keep);
    removeDeadTempFiles([paths.binDir, paths.configDir]);
    return r;
  });
}
