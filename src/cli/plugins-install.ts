import { defineCommand } from "citty";
import { DEFAULT_PLUGINS, installPlugin, type InstallResult } from "../install/index.ts";
import type { RegistryEntry } from "../registry/index.ts";
import { riskOf } from "../trust/index.ts";
import { EXIT, FledgeError, isFledgeError, usageError } from "../core/index.ts";
import { log, printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export interface InstallFlags {
  copy: boolean;
  force: boolean;
  yes: boolean;
  trustNative: boolean;
  /** --unconfined: run a native plugin without kernel confinement. */
  unconfined?: boolean;
  build: boolean;
}

/** One install as the CLI runs it: `-y` also reinstalls a plugin of the same name, as in the original. */
export function installOne(source: string, f: InstallFlags): Promise<InstallResult> {
  return installPlugin(source, { copy: f.copy, force: f.force, reinstall: f.yes, yes: f.yes, trustNative: f.trustNative, unconfined: f.unconfined === true, build: f.build, env: process.env, cwd: process.cwd() });
}

/** The JSON row of one installed plugin (the original's keys, then ours). */
export function installedRow(r: InstallResult): Record<string, unknown> {
  const entry = r.entry;
  return {
    name: entry.name,
    source: entry.source,
    version: entry.version,
    trust_tier: entry.trust_tier ?? null,
    commands: entry.commands,
    pinned_ref: entry.pinned_ref ?? null,
    commit: entry.commit ?? null,
    runtime: entry.runtime,
    sandboxed: entry.runtime === "wasm",
    risk: riskOf(entry.runtime, entry.capabilities),
    capabilities: entry.capabilities,
    integrity: entry.integrity ?? {},
    prebuilt: r.prebuilt,
  };
}

export function installedLine(entry: RegistryEntry): string {
  const risk = riskOf(entry.runtime, entry.capabilities);
  const pin = entry.pinned_ref ? ` (pinned to ${entry.pinned_ref})` : "";
  return `Installed ${renderUntrusted(entry.name)} ${renderUntrusted(entry.version)}${pin} [${entry.trust_tier ?? "?"}, ${entry.runtime}, ${risk === "sandboxed" ? "sandboxed" : "elevated risk"}]\n  commands: ${entry.commands.map((c) => renderUntrusted(c)).join(", ") || "(none)"}`;
}

/**
 * `install --defaults`: each default plugin in turn, past failures (as the original),
 * then exit 1 when any failed. Every install asks (or needs flags) as usual.
 */
async function installDefaults(f: InstallFlags, json: boolean): Promise<number> {
  const installed: InstallResult[] = [];
  const failed: { source: string; error: string; code: string }[] = [];
  if (!json) log.info(`installing ${DEFAULT_PLUGINS.length} default plugins`);
  for (const source of DEFAULT_PLUGINS) {
    if (!json) log.info(`-> ${source}`);
    try {
      const r = await installOne(source, f);
      installed.push(r);
      if (!json) printResult(installedLine(r.entry));
    } catch (e) {
      // Ctrl+C at a question stops the whole run, not just this plugin.
      if (isFledgeError(e) && e.code === "interrupted") throw e;
      const err = isFledgeError(e) ? e : new FledgeError(e instanceof Error ? e.message : String(e), { cause: e, code: "internal" });
      failed.push({ source, error: err.hint ? `${err.message} (${err.hint})` : err.message, code: err.code });
    }
  }
  if (json) {
    printJson({
      action: "install",
      scope: "defaults",
      installed: installed.map(installedRow),
      replaced: [],
      failed,
      summary: { total: DEFAULT_PLUGINS.length, installed: installed.length, failed: failed.length },
    });
    return failed.length > 0 ? EXIT.error : EXIT.ok;
  }
  const lines = [`${installed.length} of ${DEFAULT_PLUGINS.length} default plugins installed.`];
  if (failed.length > 0) lines.push("Failures:", ...failed.map((x) => `  x ${x.source}: ${renderUntrusted(x.error)}`));
  printResult(lines.join("\n"));
  if (failed.length > 0) throw new FledgeError(`${failed.length} default plugin(s) failed to install`, { code: "defaults_failed", hint: "see the failures above; rerun with the flags they name" });
  return EXIT.ok;
}

export default defineCommand({
  meta: {
    name: "install",
    description:
      "Install a plugin from GitHub (owner/repo[@ref]), a git URL, or a local path (live link; --copy for a snapshot). Shows capabilities and hooks and asks first; without a terminal pass --yes (and --trust-native for native plugins). Example: fledge plugins install CorvidLabs/fledge-plugin-github@v0.4.0",
  },
  args: {
    source: { type: "positional", required: false, description: "owner/repo[@ref], a git URL, or a local path" },
    copy: { type: "boolean", description: "copy a local plugin instead of linking to it" },
    force: { type: "boolean", description: "reinstall a plugin of the same name (never removes another plugin)" },
    yes: { type: "boolean", alias: "y", description: "grant the requested capabilities and approve the hooks without asking; reinstalls a plugin of the same name (never native code: that needs --trust-native)" },
    "trust-native": { type: "boolean", description: "allow a native (unsandboxed) plugin; --yes alone never does" },
    build: { type: "boolean", description: "build from source even when a prebuilt wasm release asset exists" },
    unconfined: { type: "boolean", description: "run a native plugin without kernel confinement (full user rights; asked separately, or --trust-native)" },
    defaults: { type: "boolean", description: "install the curated default set (fledge-plugin-github, -deps, -metrics), continuing past failures" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"install\", installed, ...}" },
  },
  async run({ args }) {
    const flags: InstallFlags = { copy: Boolean(args.copy), force: Boolean(args.force), yes: Boolean(args.yes), trustNative: Boolean(args["trust-native"]), unconfined: Boolean(args.unconfined), build: Boolean(args.build) };
    const source = typeof args.source === "string" && args.source !== "" ? args.source : undefined;
    if (args.defaults) {
      if (source !== undefined) throw usageError("--defaults installs the curated set; do not pass a source alongside it", "run 'fledge plugins install --defaults' alone");
      if (flags.copy) throw usageError("--copy cannot be used with --defaults", "drop --copy: the default plugins come from GitHub");
      return installDefaults(flags, Boolean(args.json));
    }
    if (source === undefined) throw usageError("pass a source (owner/repo[@ref], a git URL or a local path), or --defaults to install the curated set", "example: fledge plugins install CorvidLabs/fledge-plugin-github@v0.4.0");
    const r = await installOne(source, flags);
    if (args.json) {
      printJson({ action: "install", scope: "single", installed: [installedRow(r)], replaced: r.replaced, failed: [], summary: { total: 1, installed: 1, failed: 0 } });
    } else {
      printResult(installedLine(r.entry));
    }
    return EXIT.ok;
  },
});
