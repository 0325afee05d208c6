/**
 * Dispatch: `fledge <command> [args]` and `fledge plugins run`.
 *
 * The registry entry that owns the command decides everything that is a grant: the
 * runtime that was consented to at install, the capabilities, the expected sha256 of
 * each binary. The plugin's own directory only says where the command's binary is
 * (and, for native plugins, which protocol it speaks); that path must stay inside
 * the plugin dir, and its bytes must match the recorded hash before anything runs.
 */
import { existsSync, lstatSync, readFileSync, realpathSync } from "node:fs";
import { cwd as processCwd } from "node:process";
import { loadManifest, resolveInside, inPluginDataDir, DATA_BINARY_FIX, type Manifest } from "../manifest/index.ts";
import { fledgePaths, loadConfig, readRegistry, findCommandOwner, type Registry, type RegistryEntry } from "../registry/index.ts";
import { FledgeError, isFledgeError, sha256Hex as digestHex, usageError } from "../core/index.ts";
import { beyondGrant } from "../trust/index.ts";
import { suggest } from "../ui/index.ts";
import type { HostIO } from "./console.ts";
import { runNativePlugin } from "./native.ts";
import { findPathCommand, runPathCommand } from "./path-command.ts";
import { findProjectRoot } from "./project.ts";
import { pluginLimits, runWasmPlugin } from "./wasm-runner.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { readModuleFile } from "../wasm/module-file.ts";

export interface DispatchOptions {
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  io?: HostIO | undefined;
  /**
   * Built-in command names, offered alongside installed plugin commands when the
   * command is not found. Empty for `fledge plugins run` (which only runs plugins).
   */
  builtins?: readonly string[] | undefined;
}

/** How the command's binary is run. */
export type PluginRunner = { kind: "wasm" } | { kind: "native"; protocol: string | undefined };

/** What dispatch resolved for one command, before running it. */
export interface ResolvedCommand {
  entry: RegistryEntry;
  pluginDir: string;
  /** The binary as written in plugin.toml (the registry's integrity key). */
  binary: string;
  /** Its absolute path, inside the plugin dir. */
  path: string;
  bytes: Uint8Array;
  runner: PluginRunner;
}

/** Every command installed plugins provide. */
export function installedCommands(reg: Registry): string[] {
  return [...new Set(reg.plugins.flatMap((p) => p.commands))].sort();
}

/** The not-found error, with did-you-mean over the given built-ins and every installed command. */
export function commandNotFound(command: string, reg: Registry, builtins: readonly string[]): FledgeError {
  const installed = installedCommands(reg);
  const ideas = suggest(command, [...new Set([...builtins, ...installed])]);
  const prefix = builtins.length > 0 ? "fledge" : "fledge plugins run";
  const hint = ideas.length
    ? `did you mean ${ideas.map((s) => `'${prefix} ${s}'`).join(" or ")}?`
    : installed.length
      ? `installed plugin commands: ${installed.join(", ")}; run 'fledge plugins list' to see them`
      : "no plugins are installed; add one with 'fledge plugins install <source>'";
  return usageError(
    builtins.length > 0
      ? `unknown command '${command}': no built-in command or installed plugin has that name`
      : `plugin command '${command}' not found: no installed plugin provides it`,
    hint,
  );
}

function brokenPlugin(entry: RegistryEntry, problem: string): FledgeError {
  return new FledgeError(`Plugin '${entry.name}' cannot run: ${problem}`, {
    code: "plugin_broken",
    hint: `check it with 'fledge plugins verify ${entry.name}', or reinstall it`,
  });
}

/** The manifest on disk, only for binary paths and the protocol; never for grants. */
function readInstalledManifest(entry: RegistryEntry, pluginDir: string): Manifest {
  if (!existsSync(pluginDir)) throw brokenPlugin(entry, `its directory ${pluginDir} is missing`);
  const result = loadManifest(pluginDir);
  if (!result.manifest) {
    const first = result.errors.slice(0, 3).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    throw brokenPlugin(entry, `its plugin.toml is invalid (${first.join("; ")})`);
  }
  return result.manifest;
}

/**
 * THE binary-location decision: the command's binary from the installed manifest,
 * resolved component by component (symlinks included) and required to stay inside
 * the plugin dir.
 */
export function locateCommandBinary(entry: RegistryEntry, manifest: Manifest, command: string, pluginDir: string): { binary: string; path: string } {
  const cmd = manifest.commands.find((c) => c.name === command);
  if (!cmd) throw brokenPlugin(entry, `its plugin.toml no longer declares the command '${command}'`);
  const r = resolveInside(pluginDir, cmd.binary);
  if ("loop" in r) throw brokenPlugin(entry, `the binary ${cmd.binary} is a symlink loop`);
  if ("escapes" in r) {
    throw new FledgeError(`Plugin '${entry.name}': the binary ${renderUntrusted(cmd.binary)} resolves outside the plugin directory (${renderUntrusted(String(r.escapes))}); refusing to run it`, {
      code: "binary_escapes",
      hint: `reinstall the plugin: fledge plugins install <source> --force`,
    });
  }
  if (inPluginDataDir(pluginDir, r.path)) {
    throw new FledgeError(`Plugin '${entry.name}': the binary ${renderUntrusted(cmd.binary)} lies in the plugin's data/ folder, which the plugin can write while it runs; refusing to run it`, {
      code: "binary_in_data",
      hint: `the plugin's author must ${DATA_BINARY_FIX}`,
    });
  }
  return { binary: cmd.binary, path: r.path };
}

export function sha256Hex(bytes: Uint8Array): string {
  return digestHex(bytes);
}

/**
 * THE integrity decision: when the registry recorded hashes at install, the bytes
 * about to run must match the one recorded for this binary. A binary the registry
 * has no hash for (the manifest on disk now points elsewhere) is refused too.
 * Registries from the original fledge carry no integrity table: nothing to check.
 */
export function checkIntegrity(entry: RegistryEntry, binary: string, bytes: Uint8Array): void {
  const recorded = entry.integrity;
  if (recorded === undefined || Object.keys(recorded).length === 0) return;
  const expected = recorded[binary];
  const hint = `run 'fledge plugins verify ${entry.name}' to see what changed, then reinstall the plugin (fledge plugins install ${renderUntrusted(entry.source)}${entry.pinned_ref ? `@${renderUntrusted(entry.pinned_ref)}` : ""} --force) if you trust the change`;
  if (expected === undefined) {
    throw new FledgeError(`Plugin '${entry.name}': the binary ${renderUntrusted(binary)} was not part of the plugin when it was installed; refusing to run it`, {
      code: "integrity_mismatch",
      hint,
    });
  }
  const actual = sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new FledgeError(`Plugin '${entry.name}': ${renderUntrusted(binary)} has changed since it was installed (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…); refusing to run it`, {
      code: "integrity_mismatch",
      hint,
      details: { binary, expected, actual },
    });
  }
}

/**
 * THE live-link decision: a plugin runs without the integrity check only when fledge
 * itself recorded it as linked at install (registry `kind`, which no manifest can set)
 * AND its folder is still a symlink to the source folder it recorded. A downloaded or
 * copied plugin is a real folder, so it can never pass; a registry entry edited to say
 * "linked" for a real folder is checked like any other.
 */
export function isLiveLink(entry: RegistryEntry, pluginDir: string): boolean {
  if (entry.kind !== "linked") return false;
  if (lstatSync(pluginDir, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return false;
  try {
    return realpathSync(pluginDir) === entry.source;
  } catch {
    return false;
  }
}

/**
 * A live link runs what its author just built, but only with what was granted: a
 * plugin.toml edited to ask for more capabilities, or another runtime, is refused
 * until the user approves it again.
 */
export function checkLinkedManifest(entry: RegistryEntry, manifest: Manifest): void {
  const more = beyondGrant(entry.capabilities, manifest.capabilities);
  const hint = `re-run the install to review and approve it: fledge plugins install ${renderUntrusted(entry.source)} --force`;
  if (more.length > 0) {
    throw new FledgeError(`Plugin '${entry.name}': its plugin.toml now asks for ${more.join(", ")}, which was not granted at install; refusing to run it`, {
      code: "grant_exceeded",
      hint,
      details: { requested: more },
    });
  }
  if (manifest.runtime !== entry.runtime) {
    throw new FledgeError(`Plugin '${entry.name}': its plugin.toml now says runtime ${manifest.runtime}, but it was approved as ${entry.runtime}; refusing to run it`, { code: "grant_exceeded", hint });
  }
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/**
 * THE runtime decision: the runtime recorded in the registry (what the user consented
 * to) picks the runner, and the binary must be what that runtime expects. A plugin
 * installed as wasm is never spawned natively, and a native one never silently
 * becomes something else.
 */
export function chooseRunner(entry: RegistryEntry, manifest: Manifest, bytes: Uint8Array): PluginRunner {
  const isWasm = bytes.length >= 4 && WASM_MAGIC.every((b, i) => bytes[i] === b);
  if (entry.runtime === "wasm") {
    if (!isWasm) throw brokenPlugin(entry, "it was installed as a wasm plugin but its binary is not a WebAssembly module");
    return { kind: "wasm" };
  }
  if (isWasm) throw brokenPlugin(entry, "it was installed as a native plugin but its binary is a WebAssembly module");
  return { kind: "native", protocol: manifest.plugin.protocol };
}

/** Resolve `command` to an installed plugin and the checked bytes of its binary. */
export function resolvePluginCommand(command: string, opts: DispatchOptions = {}): ResolvedCommand {
  const env = opts.env ?? process.env;
  const reg = readRegistry(env);
  const entry = findCommandOwner(reg, command);
  if (!entry) throw commandNotFound(command, reg, opts.builtins ?? []);
  const pluginDir = fledgePaths(env).pluginDir(entry.name);
  const manifest = readInstalledManifest(entry, pluginDir);
  const { binary, path } = locateCommandBinary(entry, manifest, command, pluginDir);
  let bytes: Uint8Array;
  try {
    // A wasm plugin's module is read as every module is: a file over the module size
    // cap is refused unread (a live-linked binary can become anything between runs).
    bytes = entry.runtime === "wasm" ? readModuleFile(path) : new Uint8Array(readFileSync(path));
  } catch (e) {
    if (isFledgeError(e)) throw new FledgeError(`Plugin '${entry.name}': ${renderUntrusted(binary)}: ${e.message}`, { code: e.code, hint: e.hint });
    throw brokenPlugin(entry, `cannot read its binary ${binary}: ${(e as Error).message}`);
  }
  if (isLiveLink(entry, pluginDir)) checkLinkedManifest(entry, manifest);
  else checkIntegrity(entry, binary, bytes);
  return { entry, pluginDir, binary, path, bytes, runner: chooseRunner(entry, manifest, bytes) };
}

/** Run an installed plugin command; resolves to the exit code fledge should exit with. */
export async function runPluginCommand(command: string, args: readonly string[], opts: DispatchOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  // Installed plugins first; a `fledge-<command>` on PATH only when none provides it
  // (built-ins were ruled out by the caller).
  if (!findCommandOwner(readRegistry(env), command)) {
    const onPath = findPathCommand(command, env);
    if (onPath) return runPathCommand(command, onPath, args, env);
  }
  const r = resolvePluginCommand(command, opts);
  const { entry } = r;
  const projectRoot = findProjectRoot(opts.cwd ?? processCwd());
  const stateFile = fledgePaths(env).stateFile(entry.name);
  if (r.runner.kind === "wasm") {
    return runWasmPlugin({
      plugin: { name: entry.name, version: entry.version, dir: r.pluginDir },
      capabilities: entry.capabilities,
      wasmPath: r.path,
      bytes: r.bytes,
      args,
      projectRoot,
      stateFile,
      limits: pluginLimits(loadConfig(env).limits),
      io: opts.io,
      env,
      confinement: entry.confinement,
    });
  }
  // Native: hashed just above; the window until exec is the same as any launcher's.
  return runNativePlugin({
    entry: { name: entry.name, dir: r.pluginDir, version: entry.version, protocol: r.runner.protocol, capabilities: entry.capabilities, confinement: entry.confinement },
    binaryPath: r.path,
    args,
    projectRoot,
    stateFile,
    io: opts.io,
    env,
  });
}
