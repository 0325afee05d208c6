/**
 * THE confinement decision for native plugin code: what a grant turns into, as plain
 * data (environment + filesystem rules + network), before any syscall is made.
 *
 * Landlock grants whole trees and cannot carve an exception out of a granted tree, so
 * anything that must stay hidden inside a readable folder (credentials in home, secret
 * files in /etc, `.git/hooks` in a writable project) is handled by granting the
 * folder's OTHER entries one by one instead of the folder itself. Symlinked entries
 * are followed here and judged by where they lead, because the kernel checks the
 * resolved path, not the name.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { HOME_NEVER_WRITE, HOME_SECRETS, SECRET_ENV_NAME } from "../manifest/confinement.ts";

/** read: list, read and run. write: everything (create, write, delete, rename). device: read/write/ioctl one device file. */
export type Access = "read" | "write" | "device";

export interface FsRule {
  path: string;
  access: Access;
}

/** What the user granted a native plugin (or its hook, or an exec it asked for). */
export interface ConfinementGrant {
  pluginDir: string;
  /** The program that is started, when it lives outside the plugin folder (a test fixture, a PATH tool). */
  program?: string | undefined;
  /** Folders holding a runtime plugins may use (fledge's own Bun when it runs from source). */
  runtimeDirs?: readonly string[] | undefined;
  /** The project root; undefined for hooks, which run in the plugin folder. */
  projectRoot?: string | undefined;
  /** `[capabilities] filesystem = "project"`: the project becomes writable (except its git hooks and config). */
  projectWritable: boolean;
  /** `[capabilities] network = true`. */
  network: boolean;
  /** Private temp folder made for this run (TMPDIR points at it). */
  tempDir: string;
  /** fledge's own config folder: never readable (registry, tokens, other plugins' stores). */
  fledgeConfigDir: string;
  /** Granted `[confinement]` extras from the manifest (`~/...` or absolute). */
  extraRead?: readonly string[] | undefined;
  extraWrite?: readonly string[] | undefined;
  extraEnv?: readonly string[] | undefined;
  /** Variables fledge itself sets for the plugin (FLEDGE_PLUGIN_DIR, ...); always passed. */
  fledgeEnv?: Readonly<Record<string, string>> | undefined;
  /** Build hooks download dependencies and fill toolchain caches: network and those caches are allowed. */
  build?: boolean | undefined;
}

export interface ConfinementRules {
  env: Record<string, string>;
  fs: FsRule[];
  network: boolean;
}

/** Variables a plugin may see. Anything else (tokens, agent sockets, cloud credentials) is dropped. */
export const ENV_ALLOW = [
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "COLORTERM", "TZ", "NO_COLOR", "FORCE_COLOR",
  "CLICOLOR", "COLUMNS", "LINES", "EDITOR", "VISUAL", "PAGER", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
] as const;
const ENV_ALLOW_PREFIX = ["LC_"] as const;
/** Names that look like credentials: never passed unless the manifest names one and the user granted it. */
export const SECRET_NAME = SECRET_ENV_NAME;

/** Toolchain caches a build may fill (relative to home). */
const BUILD_CACHES = [".cache", ".cargo/registry", ".cargo/git", ".npm", ".bun/install", "go/pkg", ".gradle/caches", ".m2/repository", ".rustup"] as const;

/** System folders readable and executable as a whole. */
const SYSTEM_READ = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/nix/store", "/sys", "/run/systemd/resolve"] as const;
/** /etc entries never granted (root-only secrets when fledge runs as root; Landlock applies to root too). */
const ETC_SECRETS = [
  "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "security/opasswd", "ssl/private", "krb5.keytab",
  "wireguard", "NetworkManager/system-connections", "ppp/chap-secrets", "ppp/pap-secrets", "credstore", "credstore.encrypted",
  "docker/key.json", "fledge",
] as const;
/** Device files a normal program needs. */
const DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts"] as const;
/** In a writable project: never writable (code that runs later, outside the confinement). */
const PROJECT_NEVER_WRITE = [".git/hooks", ".git/config", ".envrc"] as const;
const PROJECT_SPLIT = [".git"] as const;

/** `child` is `root` or beneath it (both absolute and normalized). */
function inside(child: string, root: string): boolean {
  if (child === root) return true;
  return child.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

function real(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Expand `~/x` against home; absolute paths stay; anything else is not a path we grant. */
export function expandGrantPath(p: string, home: string | undefined): string | undefined {
  if (p === "~" || p.startsWith("~/")) return home === undefined ? undefined : join(home, p.slice(1));
  if (isAbsolute(p)) return normalize(p);
  return undefined;
}

/** The absolute, resolved paths that are secret for this home (and fledge's own folder). */
export function secretPaths(home: string, fledgeConfigDir: string): string[] {
  const out = new Set<string>();
  for (const rel of HOME_SECRETS) {
    const p = join(home, rel);
    out.add(p);
    const r = real(p);
    if (r) out.add(r);
  }
  for (const rel of ETC_SECRETS) out.add(join("/etc", rel));
  out.add(fledgeConfigDir);
  const r = real(fledgeConfigDir);
  if (r) out.add(r);
  return [...out];
}

/** True when `path` (or where it leads) is a secret or contains one. */
function touchesSecret(path: string, secrets: readonly string[]): boolean {
  const candidates = [path, real(path) ?? path];
  return candidates.some((c) => secrets.some((s) => inside(c, s) || inside(s, c)));
}

/**
 * Grant `dir` with `access`, except the secrets: a folder containing a secret is
 * split into its entries (recursively, only for the folders listed in `split`), and a
 * secret itself is skipped. Entries that lead elsewhere through a symlink are judged
 * by their target.
 */
function grantTree(dir: string, access: Access, secrets: readonly string[], out: FsRule[], depth = 0, known?: string): void {
  const r = known ?? real(dir);
  if (!r) return;
  const containsSecret = secrets.some((s) => inside(s, dir) || inside(s, r));
  const isSecret = secrets.some((s) => inside(dir, s) || inside(r, s));
  if (isSecret) return;
  if (!containsSecret || !isDir(r)) {
    out.push({ path: dir, access });
    return;
  }
  if (depth > 4) return; // a secret deep down: leave the whole folder out rather than grant it
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = join(dir, name);
    let link: boolean;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      continue;
    }
    // Only a symlink can lead somewhere else; a plain entry's real path is its real parent's plus its name.
    grantTree(p, access, secrets, out, depth + 1, link ? undefined : join(r, name));
  }
}

function filterEnv(env: Readonly<Record<string, string | undefined>>, extra: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    const allowed = (ENV_ALLOW as readonly string[]).includes(k) || ENV_ALLOW_PREFIX.some((p) => k.startsWith(p));
    if ((allowed && !SECRET_NAME.test(k)) || extra.includes(k)) out[k] = v;
  }
  return out;
}

/**
 * Turn a grant into confinement rules. `env` is fledge's environment (where HOME and
 * PATH come from); only allowlisted variables and the granted extras pass.
 */
export function confinementRules(grant: ConfinementGrant, env: Readonly<Record<string, string | undefined>>): ConfinementRules {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : undefined;
  const outEnv = filterEnv(env, grant.extraEnv ?? []);
  outEnv.TMPDIR = grant.tempDir;
  for (const [k, v] of Object.entries(grant.fledgeEnv ?? {})) outEnv[k] = v;

  const secrets = home ? secretPaths(home, grant.fledgeConfigDir) : secretPaths("/nonexistent-home", grant.fledgeConfigDir);
  const expand = (list: readonly string[] | undefined): string[] => (list ?? []).map((p) => expandGrantPath(p, home)).filter((p): p is string => p !== undefined);
  const extraRead = expand(grant.extraRead);
  const extraWrite = expand(grant.extraWrite);
  // A granted extra is no longer secret for this plugin (the user approved it by name).
  const granted = [...extraRead, ...extraWrite];
  const hidden = secrets.filter((s) => !granted.some((g) => inside(s, g) || inside(s, real(g) ?? g)));

  const fs: FsRule[] = [];
  for (const p of SYSTEM_READ) fs.push({ path: p, access: "read" });
  grantProc(fs);
  // A folder holding a secret (home, ~/.config, /etc, /etc/ssl, ...) is granted entry by entry.
  grantTree("/etc", "read", hidden, fs);
  for (const d of DEVICES) fs.push({ path: d, access: "device" });

  if (home) grantTree(home, "read", hidden, fs);
  // Programs on PATH are readable and runnable, with their prefix (`<prefix>/bin` tools load `<prefix>/lib`).
  for (const d of (env.PATH ?? "").split(":")) {
    if (!isAbsolute(d) || !isDir(d)) continue;
    const prefix = dirname(normalize(d));
    grantTree(prefix !== "/" && prefix !== home ? prefix : d, "read", hidden, fs);
  }
  for (const d of grant.runtimeDirs ?? []) grantTree(d, "read", hidden, fs);
  // The program itself and the folder it lives in (a script reads its neighbours).
  if (grant.program) grantTree(dirname(grant.program), "read", hidden, fs);

  // The project may be any folder (home itself, when fledge runs there): its secrets stay hidden too.
  if (grant.projectRoot) {
    // Writable, except where code runs later (shell start-up files, ~/.local/bin, ...), should the project be home.
    const neverWrite = home ? HOME_NEVER_WRITE.map((h) => join(home, h)) : [];
    if (grant.projectWritable) grantProjectWritable(grant.projectRoot, hidden, [...hidden, ...neverWrite], fs);
    else grantTree(grant.projectRoot, "read", hidden, fs);
  }
  fs.push({ path: grant.pluginDir, access: "write" });
  fs.push({ path: grant.tempDir, access: "write" });
  for (const p of extraRead) fs.push({ path: p, access: "read" });
  for (const p of extraWrite) fs.push({ path: p, access: "write" });
  if (grant.build && home) for (const c of BUILD_CACHES) fs.push({ path: join(home, c), access: "write" });

  return { env: outEnv, fs, network: grant.network || grant.build === true };
}

/**
 * /proc without other processes: every other process's folder (its environment, its
 * memory, its open files) stays closed, whoever owns it. `/proc/self` is opened by the
 * launcher, which becomes the plugin, so the plugin keeps its own folder; the
 * processes it starts do not get theirs (a rule names a folder, not "self").
 */
function grantProc(out: FsRule[]): void {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return;
  }
  for (const name of names) {
    if (/^\d+$/.test(name)) continue;
    const p = join("/proc", name);
    try {
      if (lstatSync(p).isSymbolicLink()) continue; // self, thread-self, net, mounts: all lead into a process folder
    } catch {
      continue;
    }
    out.push({ path: p, access: "read" });
  }
  out.push({ path: "/proc/self", access: "read" });
}

/** A writable project, except what would run later outside the confinement (git hooks and config, .envrc). */
function grantProjectWritable(root: string, secrets: readonly string[], notWritable: readonly string[], out: FsRule[]): void {
  const never = PROJECT_NEVER_WRITE.map((p) => join(root, p));
  const realRoot = real(root) ?? root;
  grantTree(root, "read", secrets, out);
  const walk = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      if (never.some((n) => inside(p, n))) continue;
      // A symlink leading out of the project is not part of it: the kernel would grant its target.
      const target = real(p);
      if (!target || !inside(target, realRoot)) continue;
      const splits = PROJECT_SPLIT.some((s) => join(root, s) === p);
      if (splits && depth === 0) {
        // `.git` as a file (a worktree) names the git folder: rewriting it would redirect hooks.
        if (isDir(p)) walk(p, depth + 1);
      } else grantTree(p, "write", notWritable, out);
    }
  };
  walk(root, 0);
}
