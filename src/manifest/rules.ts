/**
 * What the values in plugin.toml mean. The type layer (./schema.ts) has already
 * reported wrong-typed fields; here a wrong-typed field reads as absent, so every
 * other rule still runs and the author sees every problem in one pass.
 *
 * The original fledge's validation messages are kept word for word as a floor; the rules it
 * lacked (names, paths, duplicates, protocol values, runtime contradictions) are ours.
 */
import { reservedNameReason } from "./reserved.ts";
import { detectAutoBuild } from "./build.ts";
import { checkCommands, type CommandView } from "./commands.ts";
import { readConfinement } from "./confinement.ts";
import { findings, str, type Findings } from "./report.ts";
import { formatHostEntry, MAX_HOSTS, parseHostEntry } from "./hosts.ts";
import { suggestBuildCommand } from "./build-suggest.ts";
import { isTable, show } from "./text.ts";
import { HOOK_NAMES, PROTOCOL_V1, type Capabilities, type FilesystemGrant, type Hooks, type Manifest, type Problem, type Runtime } from "./types.ts";

export interface RuleResult {
  errors: Problem[];
  warnings: Problem[];
  /** Built only when no rule (here or in the type layer) found an error. */
  manifest: Manifest | undefined;
  pluginName: string | undefined;
}

/** A plugin name becomes a directory under plugins/ for local installs, so it gets the same care as a path. */
const PLUGIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Text left over from `fledge plugins create` scaffolds, seen in published manifests. */
const SCAFFOLD_DESCRIPTIONS: readonly string[] = ["A fledge plugin"];
const FILESYSTEM_VALUES: readonly string[] = ["none", "project", "plugin"] satisfies FilesystemGrant[];
const U64_MAX = 2n ** 64n - 1n;

/** The binary paths as written (for the automatic build's cargo target); wrong types are reported elsewhere. */
function commandBinaries(doc: Record<string, unknown>): string[] {
  const list = Array.isArray(doc.commands) ? doc.commands : [];
  return list.map((c: unknown) => (isTable(c) && typeof c.binary === "string" ? c.binary : "")).filter((b) => b !== "");
}

/** A plugin name is safe when it is usable as a directory name under plugins/. */
export function isSafePluginName(name: string): boolean {
  return PLUGIN_NAME.test(name) && name.length <= 128;
}

/**
 * A semantic version with an optional leading `v`: three unsigned 64-bit integers,
 * then an optional pre-release (`-dev`, `-rc.1`) and build metadata (`+abc`), as semver
 * allows (`0.3.0-dev` is what an author's in-progress plugin says).
 */
export function isValidVersion(version: string): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.exec(version);
  return m !== null && m.slice(1).every((part) => BigInt(part) <= U64_MAX);
}

function table(value: unknown): Record<string, unknown> | undefined {
  return isTable(value) ? value : undefined;
}

export function checkRules(doc: Record<string, unknown>, pluginDir: string | undefined, typeErrors: readonly Problem[]): RuleResult {
  const f = findings();
  const plugin = checkPluginTable(doc, f);
  const hooks = readHooks(doc, f);
  // A build file fledge builds by itself (no hook needed) counts as a build, as in the original.
  const autoBuild = hooks.build === undefined && pluginDir !== undefined ? detectAutoBuild(pluginDir, plugin.declaredRuntime === "wasm" ? "wasm" : undefined, commandBinaries(doc)) : null;
  const views = checkCommands(doc, pluginDir, hooks.build !== undefined ? "hook" : autoBuild ? autoBuild.command : null, f);
  const runtime = resolveRuntimeFromViews(views, plugin.declaredRuntime, f);
  if (runtime === "wasm") checkWasm(plugin, views, hooks, f, pluginDir);
  else checkNative(views, f);
  const capabilities = readCapabilities(doc, runtime, plugin, f);
  const confinement = readConfinement(doc, f);

  const name = plugin.name;
  const pluginName = name !== undefined && name.trim() !== "" ? name : undefined;
  let manifest: Manifest | undefined;
  if (f.errors.length === 0 && typeErrors.length === 0 && name !== undefined && plugin.version !== undefined) {
    const raw = plugin.raw;
    const description = str(raw, "description");
    const author = str(raw, "author");
    const declared = plugin.declaredRuntime;
    manifest = {
      plugin: {
        name,
        version: plugin.version,
        ...(description !== undefined ? { description } : {}),
        ...(author !== undefined ? { author } : {}),
        ...(plugin.protocol === PROTOCOL_V1 ? { protocol: PROTOCOL_V1 } : {}),
        ...(declared === "wasm" || declared === "native" ? { runtime: declared } : {}),
      },
      commands: views.map((v) => {
        const d = str(v.raw, "description");
        return { name: v.name!, binary: v.binary!, ...(d !== undefined ? { description: d } : {}) };
      }),
      hooks,
      capabilities,
      runtime,
      ...(doc.confinement !== undefined ? { confinement } : {}),
    };
  }
  return { errors: f.errors, warnings: f.warnings, manifest, pluginName };
}

interface PluginView {
  raw: Record<string, unknown> | undefined;
  name: string | undefined;
  version: string | undefined;
  protocol: string | undefined;
  declaredRuntime: string | undefined;
}

function checkPluginTable(doc: Record<string, unknown>, f: Findings): PluginView {
  const raw = table(doc.plugin);
  const view: PluginView = { raw, name: str(raw, "name"), version: str(raw, "version"), protocol: str(raw, "protocol"), declaredRuntime: str(raw, "runtime") };
  if (doc.plugin === undefined) {
    f.err("plugin", "the [plugin] table is missing: plugin.toml needs a [plugin] table with at least name and version");
    return view;
  }
  if (!raw) return view; // wrong type, reported by the type layer
  const { name, version, protocol, declaredRuntime } = view;

  if (name === undefined) {
    if (raw.name === undefined) f.err("plugin.name", 'plugin.name is missing: add name = "my-plugin" under [plugin]');
  } else if (name.trim() === "") {
    f.err("plugin.name", "plugin.name is empty");
  } else if (!isSafePluginName(name)) {
    f.err("plugin.name", `plugin.name '${show(name)}' is not a safe name: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128 characters; it becomes a directory name)`);
  } else {
    const reserved = reservedNameReason(name);
    if (reserved !== undefined) f.err("plugin.name", `plugin.name '${show(name)}' is reserved: ${reserved}; choose another name`);
  }

  if (version === undefined) {
    if (raw.version === undefined) f.err("plugin.version", 'plugin.version is missing: add version = "0.1.0" under [plugin]');
  } else if (version.trim() === "") {
    f.err("plugin.version", "plugin.version is empty");
  } else if (!isValidVersion(version)) {
    f.err("plugin.version", `plugin.version is not valid semver: '${show(version)}' (expected major.minor.patch, like 1.2.3)`);
  }

  const description = raw.description;
  if (description === undefined || (typeof description === "string" && description.trim() === "")) {
    f.warn("plugin.description", "plugin.description is not set");
  } else if (typeof description === "string" && SCAFFOLD_DESCRIPTIONS.includes(description.trim())) {
    f.warn("plugin.description", `plugin.description is still the template text '${description.trim()}': say what the plugin does`);
  }
  if (raw.author === undefined || (typeof raw.author === "string" && raw.author.trim() === "")) {
    // Cargo-style `authors = [...]` is common in published manifests; say which key counts.
    f.warn("plugin.author", raw.authors !== undefined ? 'plugin.author is not set (fledge does not read plugin.authors; write author = "...")' : "plugin.author is not set");
  }

  if (protocol !== undefined && protocol !== PROTOCOL_V1) {
    f.err("plugin.protocol", `plugin.protocol '${show(protocol)}' is not supported: the only known protocol is "${PROTOCOL_V1}" (remove the key for a plain native plugin)`);
  }
  if (declaredRuntime !== undefined && declaredRuntime !== "wasm" && declaredRuntime !== "native") {
    f.err("plugin.runtime", `plugin.runtime must be "wasm" or "native", got "${show(declaredRuntime)}"`);
  }
  if (isTable(raw.commands)) {
    f.warn("plugin.commands", "plugin.commands uses the old [plugin.commands.<name>] form, which fledge ignores: declare each command as a [[commands]] table with name and binary");
  }
  return view;
}

function readHooks(doc: Record<string, unknown>, f: Findings): Hooks {
  const raw = table(doc.hooks);
  const hooks: Hooks = {};
  for (const hook of HOOK_NAMES) {
    const value = str(raw, hook);
    if (value === undefined) continue;
    if (value.trim() === "") f.warn(`hooks.${hook}`, `hooks.${hook} is set but empty`);
    else hooks[hook] = value;
  }
  return hooks;
}

/**
 * The plugin's runtime from its declaration and its commands' binaries (see
 * resolveRuntime in ./binary.ts), reporting contradictions: a declared runtime that
 * an existing binary disagrees with, and (with nothing declared) commands that mix
 * wasm and native binaries. The runtime is per plugin because the registry, the host
 * and the trust labels treat a plugin as either sandboxed or not.
 */
function resolveRuntimeFromViews(views: readonly CommandView[], declared: string | undefined, f: Findings): Runtime {
  const known = views.filter((v): v is CommandView & { runtime: { runtime: Runtime; fromFile: boolean }; binary: string } => v.runtime !== undefined && v.binary !== undefined);
  if (declared === "wasm" || declared === "native") {
    for (const v of known) {
      if (!v.runtime.fromFile || v.runtime.runtime === declared) continue;
      f.err(
        `commands[${v.index}].binary`,
        declared === "wasm"
          ? `plugin.runtime is "wasm" but ${v.label} binary '${show(v.binary)}' is not a WebAssembly module (it does not start with \\0asm): rebuild it for wasm32-wasip1 or set runtime = "native"`
          : `plugin.runtime is "native" but ${v.label} binary '${show(v.binary)}' is a WebAssembly module: set runtime = "wasm" (with protocol = "${PROTOCOL_V1}")`,
      );
    }
    return declared;
  }
  const first = known[0];
  if (first === undefined) return "native";
  const other = known.find((v) => v.runtime.runtime !== first.runtime.runtime);
  if (!other) return first.runtime.runtime;
  const [wasm, native] = first.runtime.runtime === "wasm" ? [first, other] : [other, first];
  f.err(
    `commands[${other.index}].binary`,
    `${wasm.label} binary '${show(wasm.binary)}' is WebAssembly but ${native.label} binary '${show(native.binary)}' is native: a plugin has a single runtime, so split it into two plugins`,
  );
  return "native";
}

function checkWasm(plugin: PluginView, views: readonly CommandView[], hooks: Hooks, f: Findings, pluginDir: string | undefined): void {
  // An unknown or wrong-typed protocol is reported on its own already.
  if (plugin.raw?.protocol === undefined) {
    f.err("plugin.protocol", `WASM plugins must set plugin.protocol = "${PROTOCOL_V1}" — without this, capabilities will not be granted at install time`);
  }
  for (const v of views) {
    if (v.binary === undefined || v.runtime === undefined || v.binary.toLowerCase().endsWith(".wasm")) continue;
    const n = show(v.name ?? "my-plugin");
    f.warn(
      `commands[${v.index}].binary`,
      `WASM command '${n}' binary '${show(v.binary)}' does not end in .wasm — WASM plugins should point to a .wasm file (e.g. target/wasm32-wasip1/release/${n}.wasm)`,
    );
  }
  // A prebuilt module checked in beside the manifest needs no build step.
  const allPresent = views.length > 0 && views.every((v) => v.present === true);
  if (hooks.build === undefined && !allPresent) {
    const s = suggestBuildCommand(pluginDir, views.map((v) => v.binary ?? ""));
    const why = s.language === "rust" ? " (older Rust, e.g. Debian's, names the target wasm32-wasi; the binary path must match)" : s.language === "c" ? " (clang with wasi-libc; --sysroot is where wasi-libc lives)" : "";
    f.warn("hooks.build", `WASM plugin has no build hook — add [hooks] build = "${s.command}" so the .wasm binary is compiled during install${why}`);
  }
  if (plugin.declaredRuntime === undefined && views.length > 0) {
    // The original treats a missing runtime as native; being explicit keeps both agreeing.
    f.warn("plugin.runtime", 'plugin.runtime is not set: fledge detects wasm from the binary, but write runtime = "wasm" so every fledge version (and reader) agrees');
  }
}

function checkNative(views: readonly CommandView[], f: Findings): void {
  for (const v of views) {
    if (v.present === true && v.executable === false) {
      f.warn(`commands[${v.index}].binary`, `${v.label} binary '${show(v.binary ?? "")}' is not executable: run chmod +x on it`);
    }
  }
}

function readCapabilities(doc: Record<string, unknown>, runtime: Runtime, plugin: PluginView, f: Findings): Capabilities {
  const raw = table(doc.capabilities);
  const filesystem = str(raw, "filesystem");
  if (filesystem !== undefined && !FILESYSTEM_VALUES.includes(filesystem)) {
    f.err("capabilities.filesystem", `capabilities.filesystem must be "none", "project", or "plugin", got "${show(filesystem)}"`);
  }
  const caps: Capabilities = {
    exec: raw?.exec === true,
    store: raw?.store === true,
    metadata: raw?.metadata === true,
    filesystem: filesystem !== undefined && FILESYSTEM_VALUES.includes(filesystem) ? (filesystem as FilesystemGrant) : "none",
    network: raw?.network === true,
  };
  const hosts = readHosts(raw, caps.network, runtime, f);
  if (hosts.length > 0) caps.hosts = hosts;
  const asked = (["exec", "store", "metadata", "filesystem", "network"] as const).filter((k) => (k === "filesystem" ? caps.filesystem !== "none" : caps[k]));
  // Capabilities only mean something through the protocol (or the wasm sandbox); a
  // plain native plugin has all of the user's rights whatever it declares.
  if (runtime === "native" && plugin.raw?.protocol === undefined && asked.length > 0) {
    f.warn(
      "capabilities",
      `[capabilities] asks for ${asked.join(", ")} but plugin.protocol is not set: a plain native plugin runs with your full rights and these settings have no effect (set protocol = "${PROTOCOL_V1}" to use them)`,
    );
  }
  return caps;
}

/** `[capabilities] hosts`: canonical, sorted, deduplicated; every bad entry is an error naming it. */
function readHosts(raw: Record<string, unknown> | undefined, network: boolean, runtime: Runtime, f: Findings): string[] {
  const list = raw?.hosts;
  if (!Array.isArray(list)) {
    if (network && runtime === "wasm") {
      f.warn("capabilities.hosts", 'network = true but no hosts are listed: a wasm plugin can reach no host; add hosts = ["api.example.com"] under [capabilities]');
    }
    return [];
  }
  if (list.length > MAX_HOSTS) f.err("capabilities.hosts", `capabilities.hosts lists ${list.length} entries; at most ${MAX_HOSTS}`);
  const out = new Set<string>();
  list.forEach((item, i) => {
    if (typeof item !== "string") return; // the type layer reported it
    const entry = parseHostEntry(item);
    if (typeof entry === "string") f.err(`capabilities.hosts[${i}]`, `capabilities.hosts[${i}] '${show(item)}' ${entry}`);
    else out.add(formatHostEntry(entry));
  });
  if (list.length > 0 && !network) f.err("capabilities.hosts", "capabilities.hosts is set but network is not: add network = true under [capabilities] (or remove hosts)");
  if (list.length > 0 && runtime === "native") f.warn("capabilities.hosts", "capabilities.hosts only limits wasm plugins (fledge.http); a native plugin opens its own connections wherever it likes");
  return [...out].sort();
}
