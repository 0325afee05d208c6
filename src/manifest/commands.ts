/**
 * The `[[commands]]` rules: names that are safe as `fledge <name>` and as shim file
 * names, unique (also ignoring case), and binaries that name a regular file inside
 * the plugin directory.
 */
import { binaryRuntime, DATA_BINARY_FIX, inspectBinary, looksLikeWasmPath, namesPluginDataDir, PLUGIN_DATA_DIR, unsafeBinaryPath } from "./binary.ts";
import { str, type Findings } from "./report.ts";
import { isTable, show } from "./text.ts";
import type { Runtime } from "./types.ts";

/**
 * fledge's own top-level commands. The CLI tree (src/cli/index.ts) is typed against this
 * list, so the compiler refuses a command added to one and not the other.
 */
export const BUILTIN_TOP_COMMANDS = ["plugins", "trust", "hooks", "wasm", "cache", "completion", "canary"] as const;
export type BuiltinTopCommand = (typeof BUILTIN_TOP_COMMANDS)[number];

/**
 * Every name `fledge <name>` runs a built-in for (the commands and `plugin`, the alias
 * of `plugins`). A built-in shadows a plugin command of the same name: the plugin's
 * command can then only be run as `fledge plugins run <name>`.
 */
export const BUILTIN_COMMANDS = [...BUILTIN_TOP_COMMANDS, "plugin"] as const;

const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** A command name is safe when it is usable as `fledge <name>` and as a shim file name. */
export function isSafeCommandName(name: string): boolean {
  return COMMAND_NAME.test(name) && name.length <= 64;
}

/** One `[[commands]]` entry as far as it could be read. */
export interface CommandView {
  index: number;
  raw: Record<string, unknown>;
  name: string | undefined;
  /** How messages refer to it: `Command '<name>'`, or `Command commands[i]` without a name. */
  label: string;
  binary: string | undefined;
  /** Set when the binary path is usable; `fromFile` when the file's bytes decided. */
  runtime?: { runtime: Runtime; fromFile: boolean };
  /** Whether the binary exists; undefined when not checked (no plugin dir). */
  present?: boolean;
  executable?: boolean;
}

/** `build`: "hook" when plugin.toml has a build hook, the command of the automatic build fledge will run, or null. */
export function checkCommands(doc: Record<string, unknown>, pluginDir: string | undefined, build: string | null, f: Findings): CommandView[] {
  if (doc.commands === undefined || (Array.isArray(doc.commands) && doc.commands.length === 0)) {
    f.warn("commands", "No [[commands]] defined — plugin won't register any subcommands");
  }
  const views: CommandView[] = [];
  const seen = new Map<string, { index: number; name: string }>();
  (Array.isArray(doc.commands) ? doc.commands : []).forEach((entry, index) => {
    if (!isTable(entry)) return; // reported by the type layer
    const name = str(entry, "name");
    const label = name && name.trim() !== "" ? `Command '${show(name)}'` : `Command commands[${index}]`;
    const view: CommandView = { index, raw: entry, name, label, binary: str(entry, "binary") };
    views.push(view);
    checkCommandName(view, seen, f);
    checkBinary(view, pluginDir, build, f);
  });
  return views;
}

function checkCommandName(view: CommandView, seen: Map<string, { index: number; name: string }>, f: Findings): void {
  const at = `commands[${view.index}]`;
  const name = view.name;
  if (name === undefined) {
    if (view.raw.name === undefined) f.err(`${at}.name`, `${at}.name is missing: add name = "my-command" to this [[commands]] entry`);
    return;
  }
  if (name.trim() === "") return f.err(`${at}.name`, `Command has empty name (${at}.name)`);
  if (!isSafeCommandName(name)) {
    return f.err(
      `${at}.name`,
      `Command name '${show(name)}' is not allowed: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters (no '/', '..', spaces or leading '-')`,
    );
  }
  // Shims are files in one directory, and macOS file systems ignore case by default.
  const first = seen.get(name.toLowerCase());
  if (first === undefined) seen.set(name.toLowerCase(), { index: view.index, name });
  else if (first.name === name) f.err(`${at}.name`, `Command name '${name}' is declared twice (commands[${first.index}] and ${at}): each command needs its own name`);
  else f.err(`${at}.name`, `Command name '${name}' differs from '${first.name}' (commands[${first.index}]) only in case: their shims would collide on case-insensitive file systems`);
  if ((BUILTIN_COMMANDS as readonly string[]).includes(name)) {
    f.warn(`${at}.name`, `Command '${name}' is shadowed by the built-in 'fledge ${name}': users can only run it as 'fledge plugins run ${name}'`);
  }
}

/**
 * The binary must be a relative path with no `..`, and, when there is a plugin dir,
 * a regular file inside it (symlinks followed) or missing with a build hook to make it.
 */
function checkBinary(view: CommandView, pluginDir: string | undefined, build: string | null, f: Findings): void {
  const path = `commands[${view.index}].binary`;
  const { binary, label } = view;
  if (binary === undefined) {
    if (view.raw.binary === undefined) f.err(path, `${label} has no binary: add binary = "path/to/executable" (relative to the plugin directory)`);
    return;
  }
  if (binary.trim() === "") return f.err(path, `${label} has empty binary path`);
  const shown = `${label} binary '${show(binary)}'`;
  switch (unsafeBinaryPath(binary)) {
    case "absolute":
      return f.err(path, `${shown} is an absolute path: binaries must be relative to the plugin directory`);
    case "dotdot":
      return f.err(path, `${shown} contains '..': binaries must stay inside the plugin directory`);
    case "nul":
      return f.err(path, `${shown} contains a NUL character`);
  }
  if (namesPluginDataDir(binary)) return f.err(path, `${shown} lies in the plugin's ${PLUGIN_DATA_DIR}/ folder: ${DATA_BINARY_FIX}`);
  if (pluginDir === undefined) {
    // Bare manifest text: nothing on disk to look at, so existence is not judged.
    view.runtime = binaryRuntime(binary, undefined);
    return;
  }
  const disk = inspectBinary(pluginDir, binary);
  switch (disk.kind) {
    case "escapes":
      return f.err(path, `${shown} resolves through a symlink to '${show(disk.target)}', outside the plugin directory`);
    case "in-data":
      return f.err(path, `${shown} lies in the plugin's ${PLUGIN_DATA_DIR}/ folder: ${DATA_BINARY_FIX}`);
    case "not-file":
      return f.err(path, `${shown} is a ${disk.what}, not a regular file`);
    case "unreadable":
      return f.err(path, `${shown} cannot be read: ${show(disk.reason)}`);
    case "missing":
      view.present = false;
      view.runtime = binaryRuntime(binary, undefined);
      if (build === "hook") f.warn(path, `${shown} not found (may be created by build hook)`);
      else if (build !== null) f.warn(path, `${shown} not found (may be created by the automatic build: ${build})`);
      else f.err(path, `${shown} not found and no build hook defined: build it first, or add [hooks] build = "..." that creates it`);
      return;
    case "file":
      view.present = true;
      view.executable = disk.executable;
      view.runtime = { runtime: disk.wasm ? "wasm" : "native", fromFile: true };
      if (!disk.wasm && looksLikeWasmPath(binary)) f.warn(path, `${shown} ends in .wasm but is not a WebAssembly module (it does not start with \\0asm)`);
  }
}
