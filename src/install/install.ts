/**
 * The install transaction. Every step happens in a staging dir;
 * only `commitPlugin` touches `plugins/<name>`, `plugins/bin` and the registry, under
 * the lock, all-or-nothing. Any failure before that just removes the staging dir.
 */
import { chmodSync, rmSync, statSync } from "node:fs";
import { loadManifest, isSafePluginName, resolveInside, inPluginDataDir, DATA_BINARY_FIX, type Manifest, type ManifestResult } from "../manifest/index.ts";
import { assertNotReserved, fledgePaths, installedDate, loadConfig, readRegistry, type RegistryEntry } from "../registry/index.ts";
import { checkSourceSafety, classify, mayGrant, parseSource, type Source, type TrustTier } from "../trust/index.ts";
import { FledgeError, redactUrls, usageError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { terminalColumns, wrapText } from "../ui/table.ts";
import { alreadyInstalled, commandConflict, commandOwners, commitPlugin, installedAs } from "./commit.ts";
import { listHooks, obtainConsent, type ConsentFlags } from "./consent.ts";
import { githubApiToken, githubClient, type GithubClient } from "./github.ts";
import { assertNoShellSyntax, assertToolchain, detectBuild, runHook, type AutoBuild, type HookGrant } from "./hooks.ts";
import { assertManifestUnchanged, freezeManifest, type FrozenManifest } from "./frozen.ts";
import { assertConfinementAllowed, grantedConfinement } from "./confinement-grant.ts";
import { fetchPrebuiltWasm } from "./prebuilt.ts";
import { announcePick, pickRelease, type ReleasePick } from "./release-pick.ts";
import { hashBinaries } from "./shims.ts";
import { localFolder, materialize, type Materialized } from "./sources.ts";
import { recoverInterrupted } from "./journal.ts";
import { createStaging, installInterruptCleanup, releaseStaging, withoutStagingPaths, type Staging } from "./staging.ts";
import { prepareWasmModules, stripPreparedArtifacts } from "./wasm-prepare.ts";
import { checkPluginTree } from "./tree-policy.ts";
import { dropShippedGitDirs } from "./shipped-git.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export interface InstallOptions extends ConsentFlags {
  copy: boolean;
  force: boolean;
  /**
   * Reinstall a plugin already installed under exactly this name (what `-y` does in
   * the original's scripts). Narrower than --force: a name that only folds to another
   * plugin's is still refused, and consent is asked exactly as for a first install.
   */
  reinstall?: boolean;
  /** Build from source even when a prebuilt wasm release asset exists. */
  build: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface InstallResult {
  entry: RegistryEntry;
  /** Always empty (kept for the JSON shape): --force never removes another plugin. */
  replaced: string[];
  /** Binaries downloaded from release assets instead of being built. */
  prebuilt: string[];
}

function manifestError(result: ManifestResult, where: string): FledgeError {
  const lines = result.errors.map((p) => `  - ${p.path ? `${renderUntrusted(p.path)}: ` : ""}${renderUntrusted(p.message)}`);
  return new FledgeError(`plugin.toml ${where} is invalid:\n${lines.join("\n")}`, { code: "manifest_invalid", hint: "run 'fledge plugins validate' on the plugin for details" });
}

/** Read and validate plugin.toml in `dir`; errors refuse the install. */
export function readValidManifest(dir: string, where: string): Manifest {
  let result: ManifestResult;
  try {
    result = loadManifest(dir, { pluginDir: dir });
  } catch (e) {
    if (e instanceof FledgeError) throw new FledgeError(`the plugin has no readable plugin.toml (${where}): ${e.message}`, { cause: e, code: "manifest_invalid" });
    throw e;
  }
  if (!result.manifest || result.errors.length > 0) throw manifestError(result, where);
  return result.manifest;
}

/** The registry name: the repository name for remote sources (as the original), plugin.name for local ones. */
function installName(source: Source, manifest: Manifest): string {
  const name = source.kind === "local" ? manifest.plugin.name : (source.repo ?? "");
  if (!isSafePluginName(name)) throw new FledgeError(`'${renderUntrusted(name)}' is not a safe plugin name`, { code: "invalid_name", hint: "names are letters, digits, '.', '_' and '-', starting with a letter or digit" });
  return assertNotReserved(name, source.kind === "local" ? "plugin name (plugin.name)" : "plugin name (the repository name)");
}

function missingBinaries(dir: string, manifest: Manifest): string[] {
  return manifest.commands
    .map((c) => c.binary)
    .filter((bin) => {
      const r = resolveInside(dir, bin);
      if (!("path" in r)) return false; // reported as an error by validation
      try {
        return !statSync(r.path).isFile();
      } catch {
        return true;
      }
    });
}

/** After the build: every binary must be a regular file inside the plugin dir; native ones are made executable. */
export function checkBinaries(dir: string, manifest: Manifest): void {
  for (const c of manifest.commands) {
    const r = resolveInside(dir, c.binary);
    if ("loop" in r) throw new FledgeError(`command '${renderUntrusted(c.name)}': binary '${renderUntrusted(c.binary)}' is a symlink loop`, { code: "binary_invalid" });
    if ("escapes" in r) throw new FledgeError(`command '${renderUntrusted(c.name)}': binary '${renderUntrusted(c.binary)}' resolves outside the plugin directory`, { code: "binary_invalid" });
    if (inPluginDataDir(dir, r.path)) throw new FledgeError(`command '${renderUntrusted(c.name)}': binary '${renderUntrusted(c.binary)}' lies in the plugin's data/ folder`, { code: "binary_invalid", hint: DATA_BINARY_FIX });
    let st;
    try {
      st = statSync(r.path);
    } catch {
      throw new FledgeError(`command '${renderUntrusted(c.name)}': binary '${renderUntrusted(c.binary)}' does not exist after the build`, {
        code: "binary_missing",
        hint: "check that the build hook produces the file named in plugin.toml",
      });
    }
    if (!st.isFile()) throw new FledgeError(`command '${renderUntrusted(c.name)}': binary '${renderUntrusted(c.binary)}' is not a regular file`, { code: "binary_invalid" });
    if (manifest.runtime === "native" && (st.mode & 0o100) === 0) chmodSync(r.path, st.mode | 0o755);
  }
}

/** Whether the install may replace `installed`: --force, or a reinstall under exactly the same name. */
function replacesSame(name: string, installed: RegistryEntry | undefined, opts: Pick<InstallOptions, "force" | "reinstall">): boolean {
  return opts.force || (opts.reinstall === true && installed?.name === name);
}

/** Fail fast (before consent and build) on conflicts the locked commit would refuse anyway. */
function precheckConflicts(name: string, manifest: Manifest, opts: InstallOptions): void {
  const reg = readRegistry(opts.env);
  const installed = installedAs(reg, name);
  if (!replacesSame(name, installed, opts) && installed) throw alreadyInstalled(name, installed);
  // --force or not: another plugin's commands are never taken (see commandConflict).
  const owners = commandOwners(reg, name, manifest.commands.map((c) => c.name));
  if (owners.size > 0) throw commandConflict({ name, commands: manifest.commands.map((c) => c.name) }, owners);
}

/** Nested git repositories are never part of an installed plugin (see dropShippedGitDirs); a live link is the user's own folder and is left alone. */
function dropGitDirs(tree: string, policed: boolean): void {
  if (!policed) return;
  const removed = dropShippedGitDirs(tree);
  if (removed.length > 0) log.warn(`removed ${removed.length} git repositor${removed.length === 1 ? "y" : "ies"} from the plugin's files (${removed.slice(0, 3).map((r) => renderUntrusted(r)).join(", ")}${removed.length > 3 ? ", ..." : ""}): git would run their hooks and core.fsmonitor outside the confinement`);
}

/** Shipped or built `*.cwasm*` files are never part of an installed plugin (see stripPreparedArtifacts). */
function dropShippedPrepared(tree: string): void {
  const removed = stripPreparedArtifacts(tree);
  if (removed.length > 0) log.warn(`ignored ${removed.length} prepared-module file(s) shipped with the plugin (${removed.slice(0, 3).map((r) => renderUntrusted(r)).join(", ")}${removed.length > 3 ? ", ..." : ""}): fledge prepares modules itself`);
}

export interface Prepared {
  manifest: Manifest;
  name: string;
  tier: TrustTier;
  materialized: Materialized;
  prebuilt: string[];
  autoBuild: AutoBuild | null;
  /** The user chose --unconfined (kept from the old entry on update). */
  unconfined: boolean;
  /** The grants hooks run under (what the user approved at consent). */
  hookGrant: HookGrant;
  /** The build hook to run at the final path (undefined: none, or prebuilt assets made it unnecessary). */
  buildHook: string | undefined;
  frozen: FrozenManifest;
  /** Whether the tree policy applies (not to a live link: that is the user's own folder). */
  policed: boolean;
  sourceLabel: string;
}

/**
 * Steps 4-6 before the commit, shared with update: tree policy, validate, capability
 * policy, prebuilt assets, consent. Nothing of the plugin runs here; the build and
 * post_install run later at the plugin's final path (buildInPlace, inside the commit).
 * `consent` lets update ask about only what changed.
 */
export async function buildStaged(
  staging: Staging,
  source: Source,
  tier: TrustTier,
  materialized: Materialized,
  opts: { env: NodeJS.ProcessEnv; build: boolean; client: GithubClient; fixedName?: string; unconfined?: boolean | undefined; prebuiltTag?: string | null },
  consent: (m: Manifest, name: string, autoBuild: AutoBuild | null) => Promise<void>,
): Promise<Prepared> {
  // The one tree policy, on whatever the source produced (a live link is the user's own folder).
  const policed = !materialized.linked;
  const sourceLabel = renderUntrusted(redactUrls(source.input));
  if (policed) checkPluginTree(staging.tree, `the plugin from ${sourceLabel}`);
  dropShippedPrepared(staging.tree);
  dropGitDirs(staging.tree, policed);
  const manifest = readValidManifest(staging.tree, "in the downloaded plugin");
  const frozen = freezeManifest(staging.tree, manifest);
  const name = opts.fixedName ?? installName(source, manifest);
  const decision = mayGrant({ tier, runtime: manifest.runtime, requested: manifest.capabilities, owner: source.owner });
  if (!decision.allowed) throw new FledgeError(decision.messages[0] ?? "capabilities denied", { code: "capability_denied", hint: decision.hint ?? undefined });
  assertConfinementAllowed(tier, manifest.confinement);
  const unconfined = opts.unconfined === true;
  // Hooks are plugin code: they run under the grants the user approves below.
  const hookGrant = { name, network: manifest.capabilities.network, granted: grantedConfinement(manifest.confinement, unconfined) };

  let prebuilt: string[] = [];
  const tag = opts.prebuiltTag !== undefined ? opts.prebuiltTag : source.ref;
  if (manifest.runtime === "wasm" && source.kind === "github" && !opts.build && tag) {
    prebuilt = await fetchPrebuiltWasm(opts.client, source.owner!, source.repo!, tag, staging, missingBinaries(staging.tree, manifest));
  }
  const stillMissing = missingBinaries(staging.tree, manifest);
  const buildHook = prebuilt.length > 0 && stillMissing.length === 0 ? undefined : manifest.hooks.build?.trim() || undefined;
  const autoBuild = buildHook === undefined && stillMissing.length > 0 ? detectBuild(staging.tree, manifest.runtime, manifest.commands.map((c) => c.binary)) : null;
  if (autoBuild) assertToolchain(autoBuild, opts.env);
  if (buildHook) assertNoShellSyntax("build", buildHook, staging.tree);
  const post = manifest.hooks.post_install?.trim();
  if (post) assertNoShellSyntax("post_install", post, staging.tree);
  await consent(manifest, name, autoBuild);
  return { manifest, name, tier, materialized, prebuilt, autoBuild, unconfined, hookGrant, buildHook, frozen, policed, sourceLabel };
}

/**
 * Steps 7-8 at the plugin's FINAL path (`plugins/<name>`), inside the commit: build (hook
 * or automatic), check binaries, prepare wasm, post_install. Running here, not in the
 * staging dir, means what a build bakes in (a venv's absolute paths) and the
 * FLEDGE_PLUGIN_DIR post_install sees are the installed plugin's own. Any failure
 * throws, and the commit undoes every rename (the journal does it after a crash).
 * Returns the binaries' integrity, hashed where they will run.
 */
export async function buildInPlace(dir: string, p: Prepared, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const { buildHook, autoBuild, frozen, policed, manifest, hookGrant } = p;
  if (buildHook) await runHook("build", buildHook, dir, env, hookGrant);
  else if (autoBuild) await runHook("auto-build", autoBuild.command, dir, env, hookGrant);
  // Grants are frozen at consent: a build that edited plugin.toml is refused.
  if (buildHook || autoBuild) assertManifestUnchanged(dir, frozen, buildHook ? "build hook" : "auto-build");
  // A build may create links (`ln -s ~/.ssh/id_rsa state.json`): the same policy again.
  const builtNative = manifest.runtime === "native";
  if (policed && (buildHook || autoBuild)) checkPluginTree(dir, `the plugin as its ${buildHook ? "build hook" : "auto-build"} left it`, { builtNative });

  // The build may have changed what is on disk: validate again, and the runtime the
  // user approved must still be the runtime (a build must not turn wasm into native).
  const built = readValidManifest(dir, "after the build");
  if (built.runtime !== manifest.runtime) {
    throw new FledgeError(`the build produced ${built.runtime} binaries, but the plugin was approved as ${manifest.runtime}`, { code: "runtime_changed" });
  }
  checkBinaries(dir, built);
  await prepareWasmModules(dir, built, env);
  const postInstall = built.hooks.post_install?.trim();
  if (postInstall) {
    await runHook("post_install", postInstall, dir, env, hookGrant);
    assertManifestUnchanged(dir, frozen, "post_install hook");
    if (policed) checkPluginTree(dir, "the plugin as its post_install hook left it", { builtNative });
  }
  dropShippedPrepared(dir);
  if (buildHook || autoBuild || postInstall) dropGitDirs(dir, policed);
  // What is recorded is the manifest that was shown (identical bytes, checked above).
  return hashBinaries(dir, manifest.commands.map((c) => c.binary));
}

/** The registry entry; `integrity` is filled in by the commit once the plugin is built at its final path. */
export function registryEntry(p: Prepared, source: Source, pinnedRef: string | null): RegistryEntry {
  const m = p.manifest;
  const entry: RegistryEntry = {
    name: p.name,
    source: p.materialized.localPath ?? source.base,
    version: m.plugin.version,
    installed: installedDate(),
    commands: m.commands.map((c) => c.name),
    runtime: m.runtime,
    // What the user approved: the whole requested set (there is no partial grant).
    capabilities: { ...m.capabilities },
    trust_tier: p.tier,
  };
  if (pinnedRef) entry.pinned_ref = pinnedRef;
  // Decided here from how fledge materialized the folder, never from the plugin's files.
  entry.kind = p.materialized.linked ? "linked" : source.kind === "local" ? "copied" : "downloaded";
  if (p.materialized.commit) entry.commit = p.materialized.commit;
  // The approved hooks, so update can tell which ones changed and remove can refuse
  // to run a post_remove nobody approved (kept by the registry as an extra table).
  const hooks = Object.fromEntries(listHooks(m.hooks).map((h) => [h.event, h.command]));
  if (Object.keys(hooks).length > 0) entry.extra = { hooks };
  // The approved confinement extras and the --unconfined choice (absent: confined, no extras).
  if (p.unconfined || m.confinement) entry.confinement = grantedConfinement(m.confinement, p.unconfined);
  return entry;
}

/** For an unpinned GitHub wasm install whose modules are missing from the source: which release to use (null: not applicable). */
async function pickUnpinnedRelease(source: Source, staging: Staging, materialized: Materialized, client: GithubClient, build: boolean): Promise<ReleasePick | null> {
  if (source.kind !== "github" || source.ref !== null || build || !materialized.commit) return null;
  let manifest: Manifest | undefined;
  try {
    manifest = loadManifest(staging.tree, { pluginDir: staging.tree }).manifest;
  } catch {
    return null; // reported properly by validation next
  }
  if (!manifest || manifest.runtime !== "wasm") return null;
  const missing = missingBinaries(staging.tree, manifest);
  if (missing.length === 0) return null;
  const pick = await pickRelease(client, source.owner!, source.repo!, materialized.commit, missing);
  announcePick(pick, `${source.owner}/${source.repo}`);
  return pick;
}

/** `fledge plugins install <source>`. */
export async function installPlugin(input: string, opts: InstallOptions): Promise<InstallResult> {
  const source = parseSource(input);
  const unsafe = checkSourceSafety(source);
  if (unsafe) throw new FledgeError(unsafe, { code: "unsafe_source" });
  if (opts.copy && source.kind !== "local") throw usageError("--copy is only valid when installing from a local path");
  // A remote plugin is named after its repository: refuse a reserved one before any download.
  if (source.kind !== "local" && source.repo) assertNotReserved(source.repo, "plugin name (the repository name)");
  const config = loadConfig(opts.env);
  const { tier } = classify(source, config.trust);
  const paths = fledgePaths(opts.env);
  await recoverInterrupted(opts.env);
  installInterruptCleanup();
  const client = githubClient(opts.env, source.kind === "github" ? githubApiToken(opts.env, config) : undefined);
  // A remote plugin's name is its repository's: say "already installed" before any download.
  if (source.kind !== "local" && source.repo) {
    const installed = installedAs(readRegistry(opts.env), source.repo);
    if (installed && !replacesSame(source.repo, installed, opts)) throw alreadyInstalled(source.repo, installed);
  }

  const staging = createStaging(paths.pluginsDir);
  try {
    // A local folder is not fetched: say which folder, by its absolute path, and how it is used.
    if (source.kind !== "local") log.info(`fetching ${renderUntrusted(redactUrls(source.input))} [${tier}]`);
    let materialized = await materialize(source, staging, { copy: opts.copy, github: client, cwd: opts.cwd });
    if (source.kind === "local") {
      const folder = renderUntrusted(materialized.localPath ?? source.input);
      const said = opts.copy ? `copying local folder ${folder} [local]` : `linking local folder ${folder} [local]`;
      // On a terminal, wrapped by fledge, not the terminal (a long path would leave a broken line behind); 2 columns for the log's badge.
      log.info(process.stderr.isTTY ? wrapText(said, terminalColumns(process.stderr) - 2, "  ").join("\n") : said);
    }
    // Unpinned GitHub install of a wasm plugin whose module is not in the source: a release's prebuilt one.
    const pick = await pickUnpinnedRelease(source, staging, materialized, client, opts.build);
    if (pick?.kind === "switch") {
      rmSync(staging.tree, { recursive: true, force: true });
      materialized = await materialize({ ...source, ref: pick.tag }, staging, { copy: false, github: client, cwd: opts.cwd });
    }
    const prebuiltTag = pick && pick.kind !== "none" ? pick.tag : undefined;
    const prepared = await buildStaged(staging, source, tier, materialized, { env: opts.env, build: opts.build, client, unconfined: opts.unconfined, ...(prebuiltTag ? { prebuiltTag } : {}) }, async (manifest, name, autoBuild) => {
      precheckConflicts(name, manifest, opts);
      await obtainConsent(
        {
          action: "install",
          name,
          version: manifest.plugin.version,
          source: materialized.localPath ?? source.input,
          tier,
          runtime: manifest.runtime,
          decision: mayGrant({ tier, runtime: manifest.runtime, requested: manifest.capabilities, owner: source.owner }),
          capabilities: manifest.capabilities,
          hooks: listHooks(manifest.hooks),
          autoBuild,
          nativeIsNew: true,
          confinement: { needs: manifest.confinement ?? { read: [], write: [], env: [] }, unconfined: opts.unconfined === true },
        },
        opts,
      );
    });
    const entry = registryEntry(prepared, source, source.kind === "local" ? null : source.ref);
    const { replaced } = await commitPlugin(staging, entry, { force: replacesSame(entry.name, installedAs(readRegistry(opts.env), entry.name), opts), env: opts.env, build: (dir) => buildInPlace(dir, prepared, opts.env) }).catch((e: unknown) => {
      // A build whose toolchain is missing, when no release had a prebuilt module: say both ways out.
      if (pick?.kind === "none" && e instanceof FledgeError && e.code === "toolchain_missing") throw new FledgeError(e.message, { code: e.code, hint: `${e.hint ?? ""}; ${pick.hint}`, details: e.details });
      throw e;
    });
    for (const r of replaced) log.warn(`removed plugin '${renderUntrusted(r)}': --force gave its commands to ${renderUntrusted(entry.name)}`);
    return { entry, replaced, prebuilt: prepared.prebuilt };
  } catch (e) {
    throw withoutStagingPaths(e, staging, renderUntrusted(redactUrls(source.kind === "local" ? localFolder(source, opts.cwd) : source.input)));
  } finally {
    releaseStaging(staging);
  }
}

