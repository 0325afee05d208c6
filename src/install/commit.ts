/**
 * The last step of an install or update: under the registry lock, check for
 * conflicts again (another process may have installed something since we looked),
 * move the old plugin(s) aside, move the staged tree into place, write the shims and
 * the registry. Any failure undoes every step, so the disk shows either the old state
 * or the new one. The moved-aside trees live in the staging dir, which the caller
 * removes afterwards (outside the lock: deleting a big tree is slow).
 */
import { join } from "node:path";
import { atomicWriteSync, ensureOwnFolder, fledgePaths, foldName, parseRegistry, serializeRegistry, withLock, type Registry, type RegistryEntry } from "../registry/index.ts";
import { enforceGrant } from "../trust/index.ts";
import { FledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { exists, movePath, removePath, removeShim, writeShim } from "./shims.ts";
import { clearIntent, newCommitId, readRegistryTextOrNull, registryDigest, stampRegistry, writeIntent, type Move } from "./journal.ts";
import type { Staging } from "./staging.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export interface CommitOptions {
  /** Replace a plugin of the same name (never another plugin: a command conflict is always refused). */
  force: boolean;
  /** Update: the same-name plugin must exist and is replaced; its state.json and data/ move to the new tree. */
  update?: boolean;
  env: NodeJS.ProcessEnv;
  /**
   * Build the plugin where it now lies (its final folder), after every rename and before
   * the registry write; returns the binaries' integrity. A failure undoes the renames.
   */
  build?: (finalDir: string) => Promise<Record<string, string>>;
}

export interface CommitResult {
  /** Always empty: kept for the JSON output's shape (fledge no longer removes other plugins). */
  replaced: string[];
  registry: Registry;
}


/** Carry the plugin's own data across an update: its store and its /plugin directory. */
const KEPT_ON_UPDATE = ["state.json", "data"];

/**
 * Other plugins that already provide one of `commands`. Names are compared folded
 * (case, width, look-alikes): shims are files in one folder, and on a case-insensitive
 * file system `fledge-GIT` IS `fledge-git`, so taking it would overwrite (and a later
 * remove would delete) another plugin's shim.
 */
export function commandOwners(reg: Registry, name: string, commands: readonly string[]): Map<string, RegistryEntry> {
  const wanted = new Set(commands.map(foldName));
  const owners = new Map<string, RegistryEntry>();
  const self = foldName(name);
  // The plugin itself (under folding: see installedAs) is being replaced, not a conflict.
  for (const p of reg.plugins) if (foldName(p.name) !== self && p.commands.some((c) => wanted.has(foldName(c)))) owners.set(p.name, p);
  return owners;
}

/**
 * THE plugin-identity rule: which installed plugin `name` is. Names are compared
 * folded (case, width, look-alikes, trailing dots), like commands: a plugin's folder
 * is `plugins/<name>`, and on a case-insensitive file system (macOS, Windows)
 * `plugins/FOO` IS `plugins/foo`, so installing `FOO` next to `foo` would replace (and
 * delete) foo's folder and data. An exact match wins; otherwise the folded one.
 */
export function installedAs(reg: Registry, name: string): RegistryEntry | undefined {
  const folded = foldName(name);
  return reg.plugins.find((p) => p.name === name) ?? reg.plugins.find((p) => foldName(p.name) === folded);
}

/** The refusal when `name` is an installed plugin (exactly, or under folding) and --force was not given. */
export function alreadyInstalled(name: string, installed: RegistryEntry): FledgeError {
  if (installed.name === name) {
    return new FledgeError(`plugin '${renderUntrusted(name)}' is already installed`, { code: "already_installed", hint: "use --force to reinstall it, or 'fledge plugins update' to update it" });
  }
  return new FledgeError(
    `plugin '${renderUntrusted(name)}' is the installed plugin '${renderUntrusted(installed.name)}': the names differ only in case or look-alike characters, so they share one folder on macOS and Windows`,
    { code: "already_installed", hint: `to replace '${renderUntrusted(installed.name)}' with it (this deletes ${renderUntrusted(installed.name)}'s data), use --force; or keep '${renderUntrusted(installed.name)}' and do not install this one`, details: { installed: installed.name } },
  );
}

/** The refusal when our commands belong to other plugins: names each one and how to remove it. */
export function commandConflict(entry: Pick<RegistryEntry, "name" | "commands">, owners: Map<string, RegistryEntry>): FledgeError {
  const parts = [...owners.values()].map((o) => {
    const theirs = new Set(o.commands.map(foldName));
    const cmds = entry.commands.filter((c) => theirs.has(foldName(c)));
    return `command${cmds.length > 1 ? "s" : ""} '${cmds.map((c) => renderUntrusted(c)).join("', '")}' ${cmds.length > 1 ? "are" : "is"} already provided by plugin '${renderUntrusted(o.name)}'`;
  });
  const names = [...owners.keys()].map((n) => renderUntrusted(n));
  return new FledgeError(`${parts.join("; ")}; ${renderUntrusted(entry.name)} was not installed (--force never removes another plugin)`, {
    code: "command_conflict",
    hint: `to replace ${names.join(" and ")}, remove ${names.length > 1 ? "them" : "it"} first (this deletes ${names.length > 1 ? "their" : "its"} data): ${names.map((n) => `fledge plugins remove ${n}`).join(" && ")}`,
    details: { conflicts: names },
  });
}

export async function commitPlugin(staging: Staging, entry: RegistryEntry, opts: CommitOptions): Promise<CommitResult> {
  const paths = fledgePaths(opts.env);
  ensureOwnFolder(paths.binDir, "shim folder");
  return withLock(paths.lockFile, async () => {
    const regText = readRegistryTextOrNull(paths.registryFile);
    const reg: Registry = regText === null ? { plugins: [] } : parseRegistry(regText, paths.registryFile);
    // Folded: a name that differs only in case is this plugin (same folder on macOS/Windows).
    const same = installedAs(reg, entry.name);
    if (opts.update && !same) throw new FledgeError(`${renderUntrusted(entry.name)} was removed while it was being updated`, { code: "not_installed" });
    // The single place a grant is recorded: the tier rule holds here whatever came before.
    enforceGrant(entry, opts.update ? same?.capabilities : undefined);
    if (same && !opts.force && !opts.update) throw alreadyInstalled(entry.name, same);
    const others = commandOwners(reg, entry.name, entry.commands);
    // Never remove another plugin (and its state.json and data) as a side effect, not
    // even with --force: the user removes it explicitly, knowing what goes with it.
    if (others.size > 0) throw commandConflict(entry, others);

    const undo: (() => void)[] = [];
    let movesUndone = true;
    const victims = [...(same ? [same] : []), ...others.values()];
    const finalDir = paths.pluginDir(entry.name);
    const aside = (name: string): string => join(staging.dir, `old-${name}`);
    // Plan every rename first (we hold the lock: nothing changes under us), so the
    // journal can list them before the first one happens.
    const moves: Move[] = [];
    // 1. Move aside what is being replaced (the same-name plugin, or an orphan dir
    //    left by a crash between the move and the registry write, and --force victims).
    for (const v of victims) {
      const dir = paths.pluginDir(v.name);
      if (exists(dir)) moves.push({ from: dir, to: aside(v.name) });
    }
    if (!same && exists(finalDir)) {
      // Unreachable while installedAs folds (a folded owner is `same`); kept so that no
      // folder a registry entry could own under folding is ever moved aside and deleted.
      const owner = reg.plugins.find((p) => foldName(p.name) === foldName(entry.name));
      if (owner) throw alreadyInstalled(entry.name, owner);
      log.warn(`replacing ${finalDir}, which no registry entry owns (left by an interrupted install?)`);
      moves.push({ from: finalDir, to: aside(`orphan-${entry.name}`) });
    }
    // 2. Update: the plugin's own data survives the swap.
    if (opts.update && same) {
      for (const keep of KEPT_ON_UPDATE) {
        if (!exists(join(paths.pluginDir(same.name), keep))) continue;
        removePath(join(staging.tree, keep)); // staged content, never the user's data
        moves.push({ from: join(aside(same.name), keep), to: join(staging.tree, keep) });
      }
    }
    // 3. Into place.
    moves.push({ from: staging.tree, to: finalDir });

    // 4. The registry text (after the build: it records the built binaries' hashes).
    const victimNames = new Set(victims.map((v) => v.name));
    const registryText = (): string => {
      const plugins: RegistryEntry[] = [];
      let placed = false;
      for (const p of reg.plugins) {
        if (p.name === entry.name) {
          plugins.push(entry);
          placed = true;
        } else if (!victimNames.has(p.name)) plugins.push(p);
      }
      if (!placed) plugins.push(entry);
      return serializeRegistry({ plugins });
    };
    // The written text carries this operation's random id: recovery rolls forward only
    // when it finds it (a --force of the same version writes the same entries again).
    // A crash before the registry write (during the build, say) therefore rolls back.
    const commit = newCommitId();
    writeIntent(paths, {
      op: opts.update ? "update" : "install",
      name: entry.name,
      commit,
      registryBefore: registryDigest(regText),
      registryAfter: opts.build ? "after-build" : registryDigest(stampRegistry(registryText(), commit))!,
      moves,
      commands: [...new Set([...entry.commands, ...victims.flatMap((v) => v.commands)])],
      staging: staging.dir,
    });
    // From the first rename until the journal is cleared, the staging dir may hold the
    // replaced plugin's folder: an interrupt must leave it for recovery, not delete it.
    const keepBefore = staging.keep === true;
    staging.keep = true;
    let checked: Registry;
    try {
      for (const v of victims) {
        for (const cmd of v.commands) {
          removeShim(paths.binDir, cmd);
          undo.push(() => writeShim(paths.binDir, cmd, v.name));
        }
      }
      for (const m of moves) {
        movePath(m.from, m.to);
        undo.push(() => {
          try {
            movePath(m.to, m.from);
          } catch (u) {
            movesUndone = false; // a folder is not back where the registry says: keep the journal
            throw u;
          }
        });
      }
      // 5. Build at the final path (the registry lock is held: no other command moves it meanwhile).
      if (opts.build) entry.integrity = await opts.build(finalDir);
      const text = registryText();
      checked = parseRegistry(text, paths.registryFile);
      for (const cmd of entry.commands) {
        undo.push(() => removeShim(paths.binDir, cmd));
        writeShim(paths.binDir, cmd, entry.name);
      }
      // 6. The registry, last: once it is written the install has happened.
      atomicWriteSync(paths.registryFile, stampRegistry(text, commit)); // sync: every step of the commit runs on one thread, in order
    } catch (e) {
      for (const step of undo.reverse()) {
        try {
          step();
        } catch (u) {
          log.warn(`rollback step failed: ${renderUntrusted((u as Error).message)}`);
        }
      }
      // A failed rename back leaves the journal (and the staging dir): the next command finishes the rollback.
      if (movesUndone) {
        clearIntent(paths);
        staging.keep = keepBefore;
      }
      throw e;
    }
    clearIntent(paths);
    staging.keep = keepBefore;
    return { replaced: [...others.keys()], registry: checked };
  });
}
