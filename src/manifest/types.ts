/**
 * Shapes shared by every part that talks about plugins. The manifest resolver owns
 * parsing; trust, registry, install and host import these types from here.
 */

export type Runtime = "wasm" | "native";
export type FilesystemGrant = "none" | "project" | "plugin";

/** What a plugin asks for in `[capabilities]`, or what the registry says was granted. */
export interface Capabilities {
  exec: boolean;
  store: boolean;
  metadata: boolean;
  filesystem: FilesystemGrant;
  network: boolean;
  /**
   * `[capabilities] hosts`: where a wasm plugin's `fledge.http` may connect, canonical
   * `host` / `host:port` entries (src/manifest/hosts.ts), sorted. Absent or empty: no
   * destination. Only meaningful with `network`.
   */
  hosts?: string[];
}

export const NO_CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  exec: false,
  store: false,
  metadata: false,
  filesystem: "none",
  network: false,
});

/**
 * `[confinement]`: what a native plugin needs beyond the default confinement (home
 * readable except credentials, project read-only, no network unless granted). Paths are
 * `~/...` or absolute; env names variables that would otherwise be withheld.
 */
export interface ConfinementNeeds {
  read: string[];
  write: string[];
  env: string[];
}

export const NO_CONFINEMENT_NEEDS: Readonly<ConfinementNeeds> = Object.freeze({ read: [], write: [], env: [] });

/** What the user granted for confinement (registry), never the manifest's request. */
export interface GrantedConfinement extends ConfinementNeeds {
  /** The user chose `--unconfined` at install: the plugin runs with full user rights. */
  unconfined: boolean;
  /**
   * Where each `read` / `write` path led when the user approved it (same order):
   * a grant means what consent showed, so a path that leads elsewhere at a run
   * (a symlink the plugin made since) is not granted. Absent in older registries.
   */
  resolved_read?: string[];
  resolved_write?: string[];
  /**
   * The `env` names consent showed as credentials by their VALUE (a plain name that
   * held a token then): they pass at a run whatever they hold. Any other plain-named
   * variable holding a credential at a run is not passed. Absent in older registries.
   */
  credential_env?: string[];
}

/** The only `plugin.protocol` value fledge knows. */
export const PROTOCOL_V1 = "fledge-v1";
export type Protocol = typeof PROTOCOL_V1;

export const HOOK_NAMES = ["build", "post_install", "post_remove", "pre_init", "post_work_start", "pre_push"] as const;
export type HookName = (typeof HOOK_NAMES)[number];
export type Hooks = Partial<Record<HookName, string>>;

export interface PluginInfo {
  name: string;
  version: string;
  description?: string;
  author?: string;
  protocol?: Protocol;
  /** As declared in plugin.toml; the resolved value is `Manifest.runtime`. */
  runtime?: Runtime;
}

export interface Command {
  name: string;
  description?: string;
  /** Relative to the plugin dir, as written in plugin.toml (validated: relative, no `..`). */
  binary: string;
}

/**
 * A plugin.toml that passed validation. The runtime is resolved per plugin, not per
 * command: the registry, the host and the trust labels all treat a plugin as one
 * thing that is either sandboxed (wasm) or not (native), so a plugin whose commands
 * mix wasm and native binaries is a validation error.
 */
export interface Manifest {
  plugin: PluginInfo;
  commands: Command[];
  hooks: Hooks;
  /** What `[capabilities]` asks for, with every absent key filled with its default. */
  capabilities: Capabilities;
  /** Resolved runtime: `plugin.runtime` if declared, else detected from the binaries. */
  runtime: Runtime;
  /** What `[confinement]` asks for beyond the default confinement; absent when the table is. */
  confinement?: ConfinementNeeds;
}

/** One validation finding. `path` is a key path like `commands[1].binary` or `plugin.version`; "" for the whole file. */
export interface Problem {
  path: string;
  message: string;
  /** 1-based; only for TOML syntax errors. */
  line?: number;
  column?: number;
}

export interface ManifestResult {
  /** The plugin.toml that was read ("" when parsing text). */
  path: string;
  /** The plugin directory binaries are resolved against, when there is one. */
  pluginDir: string | undefined;
  /** Set only when there are no errors (warnings are allowed). */
  manifest: Manifest | undefined;
  /** `plugin.name` when it could be read, even if the manifest has errors (for reports). */
  pluginName: string | undefined;
  errors: Problem[];
  warnings: Problem[];
}

export interface ManifestOptions {
  /** Also warn about every key fledge does not read. */
  strict?: boolean;
  /**
   * Directory the command binaries live in. When given, binaries are checked on disk
   * (existence, symlinks escaping the dir, wasm magic bytes). Without it only the
   * text is checked and "binary not found" is never reported.
   */
  pluginDir?: string;
}
