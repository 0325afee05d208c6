/**
 * Where fledge keeps everything it writes. One function decides the config dir so that
 * plugins, shims, the registry, locks and per-plugin data can never drift apart (the
 * original ignored FLEDGE_CONFIG_DIR for plugin paths).
 */
import { mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { posix, win32 } from "node:path";
import { FledgeError } from "../core/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { reservedNameReason } from "../manifest/reserved.ts";

/** A non-empty env value, or undefined: `FLEDGE_CONFIG_DIR=""` means "not set". */
function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v : undefined;
}

/**
 * The config dir: `$FLEDGE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/fledge`, else the
 * platform default. `platform` is injectable so every branch is testable on any OS.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const path = platform === "win32" ? win32 : posix;
  const explicit = nonEmpty(env.FLEDGE_CONFIG_DIR);
  if (explicit) return path.resolve(explicit);
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  if (xdg) return path.join(path.resolve(xdg), "fledge");
  const home = nonEmpty(platform === "win32" ? (env.USERPROFILE ?? env.HOME) : env.HOME) ?? homedir();
  if (platform === "darwin") return path.join(home, "Library", "Application Support", "fledge");
  if (platform === "win32") {
    const appData = nonEmpty(env.APPDATA) ?? path.join(home, "AppData", "Roaming");
    return path.join(appData, "fledge");
  }
  return path.join(home, ".config", "fledge");
}

/**
 * Refuse a plugin name that would escape `plugins/` when joined into a path. This is a
 * path-safety backstop, not the naming policy (the manifest resolver owns that): even a
 * name that slipped past validation can never make fledge write outside its config dir.
 */
export function assertSafePathSegment(name: string, what = "plugin name"): string {
  if (
    name === "" ||
    name === "." ||
    name === ".." ||
    /[/\\\0]/.test(name) ||
    /^[a-zA-Z]:/.test(name) // a Windows drive prefix would make join() absolute
  ) {
    throw new FledgeError(`Invalid ${what} ${JSON.stringify(name)}: it must be a single path segment without "/", "\\" or "..".`, {
      code: "invalid_name",
      hint: "Use a plain name such as \"my-plugin\".",
    });
  }
  return name;
}

/**
 * Refuse a plugin name that fledge uses for its own files (see reserved.ts): the
 * shim folder `bin`, staging dirs, locks. Every plugin folder path is built through
 * this, so no code path can move, replace or delete a folder fledge owns.
 */
export function assertNotReserved(name: string, what = "plugin name"): string {
  const reason = reservedNameReason(name);
  if (reason !== undefined) {
    throw new FledgeError(`The ${what} ${JSON.stringify(renderUntrusted(name))} is reserved: ${reason}.`, {
      code: "reserved_name",
      hint: "Give the plugin another name (plugin.name in plugin.toml for a local plugin, the repository name for a GitHub or git source).",
    });
  }
  return name;
}

export interface FledgePaths {
  configDir: string;
  /** `<configDir>/plugins` — one directory (or live-link symlink) per installed plugin. */
  pluginsDir: string;
  /** `<configDir>/plugins/bin` — command shims. */
  binDir: string;
  /** `<configDir>/plugins.toml` — the registry. */
  registryFile: string;
  /** `<configDir>/config.toml` — user config. */
  configFile: string;
  /** `<configDir>/plugins.toml.lock` — serializes registry read-modify-write. */
  lockFile: string;
  pluginDir(name: string): string;
  /** `plugins/<name>/state.json` — the plugin's key/value store. */
  stateFile(name: string): string;
  /** `plugins/<name>/data` — mounted at `/plugin` for filesystem = "plugin". */
  dataDir(name: string): string;
}

export function fledgePaths(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): FledgePaths {
  const path = platform === "win32" ? win32 : posix;
  const dir = configDir(env, platform);
  const pluginsDir = path.join(dir, "plugins");
  const registryFile = path.join(dir, "plugins.toml");
  const pluginDir = (name: string): string => path.join(pluginsDir, assertNotReserved(assertSafePathSegment(name)));
  return {
    configDir: dir,
    pluginsDir,
    binDir: path.join(pluginsDir, "bin"),
    registryFile,
    configFile: path.join(dir, "config.toml"),
    lockFile: `${registryFile}.lock`,
    pluginDir,
    stateFile: (name) => path.join(pluginDir(name), "state.json"),
    dataDir: (name) => path.join(pluginDir(name), "data"),
  };
}

/**
 * Make sure one of fledge's own folders (`plugins/`, `plugins/bin/`) exists and IS a
 * folder (a symlink to a folder is fine). A file in its place is refused with the path and the fix,
 * never replaced: fledge does not move or delete what it did not create.
 */
export function ensureOwnFolder(path: string, what: string): void {
  // Followed: a user may keep plugins/ elsewhere behind a symlink; only a non-folder is refused.
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    st = undefined; // ENOTDIR: a parent is a file; mkdir below says so
  }
  if (st === undefined) {
    try {
      mkdirSync(path, { recursive: true });
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      throw new FledgeError(`cannot create ${what} '${path}' (${code})`, {
        code: "config_dir_unusable",
        hint:
          code === "ENOTDIR"
            ? "a parent of that path is a file: move it aside, or point FLEDGE_CONFIG_DIR elsewhere"
            : code === "EEXIST"
              ? `something that is not a folder (a broken symbolic link?) is at '${path}': move it aside, or point FLEDGE_CONFIG_DIR elsewhere`
              : "check the permissions, or point FLEDGE_CONFIG_DIR at a writable folder",
      });
    }
  }
  if (!st.isDirectory()) {
    throw new FledgeError(`${what} '${path}' is a file, not a folder`, {
      code: "config_dir_unusable",
      hint: `fledge keeps its ${what} there: move '${path}' aside (fledge never replaces it), or point FLEDGE_CONFIG_DIR elsewhere`,
    });
  }
}
