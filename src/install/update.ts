/**
 * `fledge plugins update`. Each plugin's new version is fetched and built in a staging
 * dir; what it asks for is diffed against what was GRANTED (capabilities from the
 * registry, hooks approved at install), and any escalation needs consent again. Only
 * then is the old version swapped out, atomically, keeping the plugin's own data.
 * Declining, or any failure, leaves the old version exactly as it was.
 *
 * Pinned plugins stay on their ref (a newer tag is reported, not installed); local
 * plugins are skipped (a live link is always current; a copy is refreshed by
 * reinstalling). The command exits non-zero when any update failed.
 */
import { spawn } from "node:child_process";
import { gitCommand } from "../core/programs.ts";
import type { Capabilities, FilesystemGrant, HookName, Manifest } from "../manifest/index.ts";
import { fledgePaths, loadConfig, readRegistry, type RegistryEntry } from "../registry/index.ts";
import { checkSourceSafety, classify, mayGrant, parseSource, type Source } from "../trust/index.ts";
import { FledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { commitPlugin } from "./commit.ts";
import { listHooks, obtainConsent, type ConsentFlags } from "./consent.ts";
import { githubApiToken, githubClient, listTags, resolveCommit, type GithubClient } from "./github.ts";
import { buildInPlace, buildStaged, registryEntry } from "./install.ts";
import { addedNeeds, grantedConfinement } from "./confinement-grant.ts";
import { newestTag } from "./release-pick.ts";
export { newestTag };
import { approvedHooks, lookupPlugin } from "./remove.ts";
import { exists } from "./shims.ts";
import { gitNetworkArgs, idleError, redactUrl, watchChild } from "./net.ts";
import { materialize } from "./sources.ts";
import { recoverInterrupted } from "./journal.ts";
import { createStaging, installInterruptCleanup, releaseStaging, withoutStagingPaths } from "./staging.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export type UpdateStatus = "updated" | "up_to_date" | "skipped" | "failed";

export interface UpdateResult {
  name: string;
  status: UpdateStatus;
  detail: string;
  previous_version: string;
  version: string;
  previous_commit: string | null;
  commit: string | null;
  pinned_ref: string | null;
  latest_tag: string | null;
  /** Capabilities and hooks the new version added (what consent was asked for). */
  escalation: { capabilities: string[]; hooks: string[] } | null;
  error_code?: string;
}

export interface UpdateOptions extends ConsentFlags {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const FS_RANK: Record<FilesystemGrant, number> = { none: 0, project: 1, plugin: 2 };

/** Capabilities in `next` that `granted` does not already cover (filesystem counts only when it climbs). */
export function addedCapabilities(granted: Capabilities, next: Capabilities): Capabilities {
  return {
    exec: next.exec && !granted.exec,
    store: next.store && !granted.store,
    metadata: next.metadata && !granted.metadata,
    filesystem: FS_RANK[next.filesystem] > FS_RANK[granted.filesystem] ? next.filesystem : "none",
    network: next.network && !granted.network,
    ...newHosts(granted, next),
  };
}

/** Hosts `next` lists that were not granted: each new destination needs consent like a new capability. */
function newHosts(granted: Capabilities, next: Capabilities): Pick<Capabilities, "hosts"> {
  const had = new Set(granted.hosts ?? []);
  const added = (next.hosts ?? []).filter((h) => !had.has(h));
  return added.length > 0 ? { hosts: added } : {};
}

function capNames(c: Capabilities): string[] {
  const out = (["exec", "store", "metadata", "network"] as const).filter((k) => c[k]).map(String);
  if (c.filesystem !== "none") out.push(`filesystem=${c.filesystem}`);
  for (const h of c.hosts ?? []) out.push(`host=${h}`);
  return out;
}

/** Hooks that are new or whose command changed since they were approved. */
export function changedHooks(approved: Record<string, string>, next: Manifest): { event: HookName; command: string }[] {
  return listHooks(next.hooks).filter((h) => approved[h.event] !== h.command.trim());
}

/** `git ls-remote` for a non-GitHub source: the commit of HEAD and the tag names. */
function lsRemote(url: string, flags: string[], patterns: string[], idleSeconds: number): Promise<string[][]> {
  return new Promise((res, rej) => {
    let argv: string[];
    try {
      argv = gitCommand([...gitNetworkArgs(idleSeconds), "ls-remote", ...flags, "--", url, ...patterns]);
    } catch (e) {
      rej(e);
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" }, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    const watch = watchChild(child, idleSeconds);
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", rej);
    child.on("close", (code) => {
      if (watch.fired()) rej(idleError(`git ls-remote of ${renderUntrusted(redactUrl(url))}`, idleSeconds));
      else if (code === 0) res(out.trim().split("\n").filter(Boolean).map((l) => l.split("\t")));
      else rej(new FledgeError(`git ls-remote of ${renderUntrusted(redactUrl(url))} failed`, { code: "git_error" }));
    });
  });
}

async function remoteTags(source: Source, client: GithubClient): Promise<string[]> {
  if (source.kind === "github") return listTags(client, source.owner!, source.repo!);
  const rows = await lsRemote(source.cloneUrl!, ["--tags", "--refs"], [], client.idleMs / 1000);
  return rows.map((r) => (r[1] ?? "").replace(/^refs\/tags\//, "")).filter(Boolean);
}

async function remoteHead(source: Source, client: GithubClient): Promise<string | null> {
  if (source.kind === "github") return (await resolveCommit(client, source.owner!, source.repo!, null)).sha;
  const rows = await lsRemote(source.cloneUrl!, [], ["HEAD"], client.idleMs / 1000);
  return rows[0]?.[0] ?? null;
}

function base(e: RegistryEntry): UpdateResult {
  return {
    name: e.name,
    status: "skipped",
    detail: "",
    previous_version: e.version,
    version: e.version,
    previous_commit: e.commit ?? null,
    commit: e.commit ?? null,
    pinned_ref: e.pinned_ref ?? null,
    latest_tag: null,
    escalation: null,
  };
}

async function updateOne(e: RegistryEntry, opts: UpdateOptions, trust: { orgs: string[]; users: string[] }): Promise<UpdateResult> {
  const r = base(e);
  const paths = fledgePaths(opts.env);
  if (!exists(paths.pluginDir(e.name))) return { ...r, status: "failed", detail: `directory missing; reinstall with: fledge plugins install ${e.source} --force` };
  let source: Source;
  try {
    source = parseSource(e.pinned_ref ? `${e.source}@${e.pinned_ref}` : e.source);
  } catch (err) {
    return { ...r, status: "failed", detail: (err as Error).message };
  }
  if (source.kind === "local") return { ...r, detail: "local plugin: a live link is always current; reinstall with --force to refresh a copy" };
  const unsafe = checkSourceSafety(source);
  if (unsafe) return { ...r, status: "failed", detail: unsafe };
  const config = loadConfig(opts.env);
  const client = githubClient(opts.env, source.kind === "github" ? githubApiToken(opts.env, config) : undefined);

  if (e.pinned_ref) {
    const latest = newestTag(await remoteTags(source, client));
    if (latest && latest !== e.pinned_ref) {
      return { ...r, latest_tag: latest, detail: `pinned to ${e.pinned_ref}; newer tag ${latest}: upgrade with fledge plugins install ${e.source}@${latest} --force` };
    }
    return { ...r, status: "up_to_date", latest_tag: latest, detail: `pinned to ${e.pinned_ref}, the newest tag` };
  }
  const head = await remoteHead(source, client);
  if (head && e.commit && head === e.commit) return { ...r, status: "up_to_date", detail: "already at the latest commit" };

  const { tier } = classify(source, trust);
  const staging = createStaging(paths.pluginsDir);
  let escalation: UpdateResult["escalation"] = null;
  try {
    const materialized = await materialize(source, staging, { copy: false, github: client, cwd: opts.cwd });
    const prepared = await buildStaged(staging, source, tier, materialized, { env: opts.env, build: false, client, fixedName: e.name, unconfined: e.confinement?.unconfined === true }, async (m, name, autoBuild) => {
      const added = addedCapabilities(e.capabilities, m.capabilities);
      const hooks = changedHooks(approvedHooks(e), m);
      const decision = mayGrant({ tier, runtime: m.runtime, requested: m.capabilities, owner: source.owner, alreadyGranted: e.capabilities });
      if (!decision.allowed) throw new FledgeError(`the update ${decision.messages[0] ?? "asks for capabilities it may not have"}`, { code: "capability_denied", hint: decision.hint ?? undefined });
      escalation = { capabilities: capNames(added), hooks: hooks.map((h) => h.event) };
      // Native consent is needed again only when the plugin BECOMES native.
      await obtainConsent(
        {
          action: "update",
          name,
          version: m.plugin.version,
          source: source.input,
          tier,
          runtime: m.runtime,
          decision,
          capabilities: added,
          hooks,
          autoBuild,
          nativeIsNew: m.runtime === "native" && e.runtime !== "native",
          // Only new extras are asked about; the --unconfined choice was approved at install.
          confinement: { needs: addedNeeds(e.confinement, m.confinement), unconfined: false },
        },
        opts,
      );
    });
    const entry = registryEntry(prepared, source, null);
    entry.installed = e.installed;
    // Paths approved before keep the target the user approved (not where they lead now).
    if (entry.confinement) entry.confinement = grantedConfinement(entry.confinement, entry.confinement.unconfined, e.confinement);
    await commitPlugin(staging, entry, { force: false, update: true, env: opts.env, build: (dir) => buildInPlace(dir, prepared, opts.env) });
    return { ...r, status: "updated", detail: `${e.version} → ${entry.version}`, version: entry.version, commit: entry.commit ?? null, escalation };
  } catch (caught) {
    const err = withoutStagingPaths(caught, staging, renderUntrusted(source.input));
    // Ctrl+C at a consent question stops the whole command (exit 130), not just this plugin.
    if (err instanceof FledgeError && err.code === "interrupted") throw err;
    const code = err instanceof FledgeError ? err.code : "internal";
    const detail = err instanceof FledgeError && err.hint ? `${err.message} (${err.hint})` : (err as Error).message;
    return { ...r, status: code === "consent_declined" ? "skipped" : "failed", detail, escalation, error_code: code };
  } finally {
    releaseStaging(staging);
  }
}

export async function updatePlugins(name: string | undefined, opts: UpdateOptions): Promise<UpdateResult[]> {
  await recoverInterrupted(opts.env); // before reading: a crashed command's renames are undone first
  const reg = readRegistry(opts.env);
  const entries = name === undefined ? reg.plugins : [lookupPlugin(reg, name)];
  installInterruptCleanup();
  let trust = { orgs: [] as string[], users: [] as string[] };
  trust = loadConfig(opts.env).trust;
  const results: UpdateResult[] = [];
  for (const e of entries) {
    let res: UpdateResult;
    try {
      res = await updateOne(e, opts, trust);
    } catch (err) {
      if (err instanceof FledgeError && err.code === "interrupted") throw err;
      res = { ...base(e), status: "failed", detail: (err as Error).message, error_code: err instanceof FledgeError ? err.code : "internal" };
    }
    if (res.status === "failed") log.error(`${renderUntrusted(e.name)}: ${renderUntrusted(res.detail)}`);
    results.push(res);
  }
  return results;
}
