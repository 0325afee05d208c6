/**
 * Lifecycle hooks (`pre_init`, `post_work_start`, `pre_push`): what they are for, and
 * running them. The original ran them from its own project commands (`templates init`,
 * `work start`, `work push`), which fledge does not have; here they run when the user
 * (or their git hooks) call `fledge hooks run <event>`, and `fledge hooks install`
 * writes a git pre-push hook that does so. The consent text says exactly this, so
 * nobody approves a hook that would silently never run.
 *
 * A hook runs only if it was approved at install (the registry keeps the approved
 * command) and plugin.toml still says the same; it runs through the one hook runner
 * (./hooks.ts runHook): no shell, cwd the plugin dir, FLEDGE_PLUGIN_DIR set, and here
 * also FLEDGE_REPO_ROOT, the repository the event is about.
 */
import { loadManifest, type HookName } from "../manifest/index.ts";
import { fledgePaths, readRegistry, type RegistryEntry } from "../registry/index.ts";
import { FledgeError, log, usageError } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { HOOK_WHEN } from "./hook-when.ts";
import { runHook } from "./hooks.ts";
import { approvedHooks } from "./remove.ts";
import { exists } from "./shims.ts";

export { HOOK_WHEN };

export const LIFECYCLE_EVENTS = ["pre_init", "post_work_start", "pre_push"] as const;
export type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number];


/** `pre-push` and `pre_push` both name the event; anything else is a usage error. */
export function parseEvent(text: string): LifecycleEvent {
  const e = text.trim().replace(/-/g, "_");
  if ((LIFECYCLE_EVENTS as readonly string[]).includes(e)) return e as LifecycleEvent;
  throw usageError(`'${renderUntrusted(text)}' is not a lifecycle hook`, `use one of: ${LIFECYCLE_EVENTS.map((x) => x.replace(/_/g, "-")).join(", ")}`);
}

export interface HookRun {
  plugin: string;
  command: string;
  status: "ok" | "failed" | "skipped";
  detail?: string;
}

/** The approved lifecycle hooks of each installed plugin, in registry order. */
export function lifecycleHooks(env: NodeJS.ProcessEnv): { plugin: string; event: LifecycleEvent; command: string }[] {
  const out: { plugin: string; event: LifecycleEvent; command: string }[] = [];
  for (const entry of readRegistry(env).plugins) {
    const approved = approvedHooks(entry);
    for (const event of LIFECYCLE_EVENTS) if (approved[event]) out.push({ plugin: entry.name, event, command: approved[event]! });
  }
  return out;
}

/** The hook as plugin.toml says it now, or undefined (missing folder, broken manifest). */
function onDiskHook(dir: string, event: LifecycleEvent): string | undefined {
  if (!exists(dir)) return undefined;
  try {
    return loadManifest(dir).manifest?.hooks[event]?.trim();
  } catch {
    return undefined;
  }
}

/**
 * Run every installed plugin's approved hook for `event`, in registry order. The first
 * failure stops the run (as the original: a failing pre_push must stop the push) and
 * throws `hook_failed`. A hook that changed since it was approved is not run and
 * counts as a failure: what runs is what was approved.
 */
export async function runLifecycle(event: LifecycleEvent, opts: { env: NodeJS.ProcessEnv; repoRoot: string }): Promise<HookRun[]> {
  const env = { ...opts.env, FLEDGE_REPO_ROOT: opts.repoRoot, FLEDGE_HOOK_EVENT: event };
  const paths = fledgePaths(opts.env);
  const runs: HookRun[] = [];
  const entries: RegistryEntry[] = readRegistry(opts.env).plugins;
  for (const entry of entries) {
    const approved = approvedHooks(entry)[event];
    if (!approved) continue;
    const dir = paths.pluginDir(entry.name);
    const now = onDiskHook(dir, event);
    if (now !== approved) {
      const detail = now === undefined ? "the plugin's plugin.toml no longer has this hook (or cannot be read)" : "plugin.toml changed this hook since it was approved";
      runs.push({ plugin: entry.name, command: approved, status: "failed", detail });
      throw new FledgeError(`${event} hook of ${renderUntrusted(entry.name)} not run: ${detail}`, {
        code: "hook_changed",
        hint: `reinstall the plugin to approve its current hooks (fledge plugins install <source> --force), or remove it`,
        details: { runs },
      });
    }
    log.info(`plugin hook: ${event} (${renderUntrusted(entry.name)})`);
    try {
      await runHook(event, approved, dir, env, {
        name: entry.name,
        network: entry.capabilities.network,
        granted: entry.confinement,
        projectRoot: opts.repoRoot,
        projectWritable: entry.capabilities.filesystem === "project",
        fledgeEnv: { FLEDGE_REPO_ROOT: opts.repoRoot, FLEDGE_HOOK_EVENT: event },
      });
    } catch (e) {
      runs.push({ plugin: entry.name, command: approved, status: "failed", detail: e instanceof Error ? e.message : String(e) });
      if (e instanceof FledgeError) throw new FledgeError(`${e.message} (plugin ${renderUntrusted(entry.name)})`, { cause: e, code: e.code, hint: e.hint, details: { runs } });
      throw e;
    }
    runs.push({ plugin: entry.name, command: approved, status: "ok" });
  }
  return runs;
}
