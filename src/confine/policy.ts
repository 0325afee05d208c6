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
import { dirname, isAbsolute, join, sep } from "node:path";
import {
  HOME_SECRETS, SECRET_ENV_NAME, expandHomePath, fledgeOwnDirs, homeEntries, homeNeverWrite, isCredentialValue, judgeHomePath, resolvePath, resolvedGrantProblem, withResolveMemo, xdgSecrets,
} from "../manifest/confinement.ts";
import { credentialsToHide, type HiddenPath } from "./hide.ts";
import { policyHome } from "./home.ts";
import { reachableEtcSecrets } from "./etc-secrets.ts";
import { grantDevices, grantProc } from "./kernel-files.ts";
import type { RunsLaterWatch } from "./runs-later.ts";
import { grantTree, grantWritableTree, inside, isDir, real, withRealMemo, type WritableContext } from "./trees.ts";

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
  /** The folder the plugin starts in: a credential folder holding it is never covered. */
  cwd?: string | undefined;
  /** Folders holding a runtime plugins may use (fledge's own Bun when it runs from source). */
  runtimeDirs?: readonly string[] | undefined;
  /** The files fledge itself runs from (its binary, or its sources, Bun and packages): never writable. */
  selfFiles?: readonly string[] | undefined;
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
  /** Where each extra path led when the user approved it (same order as extraRead / extraWrite). */
  approvedRead?: readonly string[] | undefined;
  approvedWrite?: readonly string[] | undefined;
  /** extraEnv names consent showed as credentials by their value (they pass whatever they hold). */
  approvedCredentialEnv?: readonly string[] | undefined;
  /** Variables fledge itself sets for the plugin (FLEDGE_PLUGIN_DIR, ...); always passed. */
  fledgeEnv?: Readonly<Record<string, string>> | undefined;
  /** The terminals the plugin's stdin/stdout/stderr are (`/dev/pts/3`), from stdioTerminals. */
  terminals?: readonly string[] | undefined;
  /** Build hooks download dependencies and fill toolchain caches: network and those caches are allowed. */
  build?: boolean | undefined;
}

export interface ConfinementRules {
  env: Record<string, string>;
  fs: FsRule[];
  network: boolean;
  /** A build may chmod by path (build outputs need `chmod +x`), never to group/other-writable or set-id modes. */
  chmodByPath: boolean;
  /** fledge runs as uid 0: a plugin that is not a build may change no file mode at all (root may read, so fchmod, every system file). */
  runsAsRoot: boolean;
  /** What was asked but not granted, and why (shown to the user as warnings). */
  notes: string[];
  /** Writable trees and the places where code runs later they held before the run (checked again after it). */
  watch: RunsLaterWatch[];
  /** Credentials covered in the plugin's mount namespace, so no path reaches them (hide.ts). */
  hide: HiddenPath[];
}

/** Variables a plugin may see. Anything else (tokens, agent sockets, cloud credentials) is dropped. */
export const ENV_ALLOW = [
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "COLORTERM", "TZ", "NO_COLOR", "FORCE_COLOR",
  "CLICOLOR", "COLUMNS", "LINES", "EDITOR", "VISUAL", "PAGER",
] as const;
const ENV_ALLOW_PREFIX = ["LC_"] as const;
/** Names that look like credentials: never passed unless the manifest names one and the user granted it. */
export const SECRET_NAME = SECRET_ENV_NAME;

/**
 * A build gets private caches in its temp folder instead of the user's toolchain
 * caches (~/.cargo/registry, ~/.rustup, go/pkg, ~/.m2, ...): code there runs later,
 * unconfined, in the user's own builds, so those stay read-only to plugins.
 */
function buildCacheEnv(cache: string): Record<string, string> {
  return {
    CARGO_HOME: join(cache, "cargo"), GOPATH: join(cache, "go"), GOMODCACHE: join(cache, "go", "pkg", "mod"), GOCACHE: join(cache, "go-build"),
    GOFLAGS: "-modcacherw", npm_config_cache: join(cache, "npm"), BUN_INSTALL_CACHE_DIR: join(cache, "bun"), XDG_CACHE_HOME: cache,
    GRADLE_USER_HOME: join(cache, "gradle"), MAVEN_OPTS: `-Dmaven.repo.local=${join(cache, "m2")}`, PIP_CACHE_DIR: join(cache, "pip"),
    SWIFTPM_CACHE_DIR: join(cache, "swiftpm"),
  };
}

/** System folders readable and executable as a whole. */
const SYSTEM_READ = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/nix/store", "/sys", "/run/systemd/resolve"] as const;
/** Folders that are never a project (the system), besides `/`, home and home's ancestors. */
const SYSTEM_ROOTS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/boot", "/opt", "/nix", "/run", "/var", "/srv", "/mnt", "/media", "/tmp", "/var/tmp", "/snap"] as const;
const SYSTEM_TREES = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/boot", "/nix", "/run", "/proc", "/sys", "/dev"] as const;


/**
 * Why a folder is not a project (undefined: it is). `/`, a system folder, home itself
 * or a folder holding home: granting those would grant the system, /proc, or home's
 * start-up files. Judged on where the folder resolves.
 */
export function projectRootProblem(root: string, home: string | undefined): string | undefined {
  const r = resolvePath(root);
  if (r === sep) return "it is the whole filesystem (/)";
  if (SYSTEM_ROOTS.some((s) => r === s) || SYSTEM_TREES.some((s) => inside(r, s))) return `${r} is a system folder`;
  if (home && isAbsolute(home) && inside(resolvePath(home), r)) return r === resolvePath(home) ? `${r} is your home folder` : `${r} holds your home folder`;
  return undefined;
}


/** Expand `~/x` against home; absolute paths stay; anything else is not a path we grant. */
export const expandGrantPath = expandHomePath;

/** The absolute, resolved paths that are secret for this home (and fledge's own folder, and XDG folders' credentials). */
export function secretPaths(home: string, fledgeConfigDir: string, xdg: Readonly<Record<string, string | undefined>> = {}): string[] {
  const out = new Set<string>();
  for (const rel of HOME_SECRETS) {
    const p = join(home, rel);
    out.add(p);
    const r = real(p);
    if (r) out.add(r);
  }
  for (const p of homeEntries(home, HOME_SECRETS)) out.add(p);
  for (const p of xdgSecrets(xdg)) out.add(p);
  for (const p of reachableEtcSecrets()) out.add(p);
  out.add(fledgeConfigDir);
  const r = real(fledgeConfigDir);
  if (r) out.add(r);
  return [...out];
}


/**
 * THE environment decision: allowlisted variables, unless the name or the value looks
 * like a credential (LANG=ghp_...), and the granted ones. A granted variable passes as
 * a credential only when consent showed it as one (its name, or its value then, as
 * recorded): a plain name holding a credential NOW (APP_UPSTREAM=https://u:ghp_...@host,
 * set after install) does not pass, and a note names it (never its value).
 */
function filterEnv(env: Readonly<Record<string, string | undefined>>, extra: readonly string[], shownAsCredential: readonly string[], notes: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    const credentialValue = isCredentialValue(v);
    if (extra.includes(k)) {
      if (SECRET_NAME.test(k) || !credentialValue || shownAsCredential.includes(k)) out[k] = v;
      else notes.push(`not passed: the variable ${k} now holds what looks like a credential, and consent did not show it as one (reinstall the plugin while it is set, so consent shows it as credentials, or unset it)`);
      continue;
    }
    const allowed = (ENV_ALLOW as readonly string[]).includes(k) || ENV_ALLOW_PREFIX.some((p) => k.startsWith(p));
    if (allowed && !SECRET_NAME.test(k) && !credentialValue) out[k] = v;
  }
  return out;
}

/**
 * Turn a grant into confinement rules. `env` is fledge's environment (where HOME and
 * PATH come from); only allowlisted variables and the granted extras pass.
 */
export function confinementRules(grant: ConfinementGrant, env: Readonly<Record<string, string | undefined>>): ConfinementRules {
  // The same folders are resolved many times while the rules are made; nothing is kept after.
  return withRealMemo(() => withResolveMemo(() => makeRules(grant, env)));
}

function makeRules(grant: ConfinementGrant, env: Readonly<Record<string, string | undefined>>): ConfinementRules {
  const home = policyHome(env);
  const notes: string[] = [];
  const outEnv = filterEnv(env, grant.extraEnv ?? [], grant.approvedCredentialEnv ?? [], notes);
  outEnv.TMPDIR = grant.tempDir;
  if (grant.build) Object.assign(outEnv, buildCacheEnv(join(grant.tempDir, "cache")));
  for (const [k, v] of Object.entries(grant.fledgeEnv ?? {})) outEnv[k] = v;

  const secrets = secretPaths(home ?? "/nonexistent-home", grant.fledgeConfigDir, env);
  const neverWrite = home ? homeNeverWrite(home) : [];

  const fs: FsRule[] = [];
  for (const p of SYSTEM_READ) fs.push({ path: p, access: "read" });
  grantProc(fs);
  // A folder holding a secret (home, ~/.config, /etc, /etc/ssl, ...) is granted entry by entry.
  grantTree("/etc", "read", secrets, fs);
  grantDevices(grant.terminals ?? [], fs);

  if (home) grantTree(home, "read", secrets, fs);
  // Programs on PATH are readable and runnable, with their prefix (`<prefix>/bin` tools load `<prefix>/lib`).
  for (const d of (env.PATH ?? "").split(":")) {
    if (!isAbsolute(d) || !isDir(d)) continue;
    const prefix = dirname(resolvePath(d));
    const homeOrAbove = home !== undefined && inside(resolvePath(home), prefix);
    grantTree(prefix !== "/" && !homeOrAbove ? prefix : d, "read", secrets, fs);
  }
  for (const d of grant.runtimeDirs ?? []) grantTree(d, "read", secrets, fs);
  // The program itself and the folder it lives in (a script reads its neighbours).
  if (grant.program) grantTree(dirname(grant.program), "read", secrets, fs);

  const ctx: WritableContext = { out: fs, notes, watch: [] };
  // fledge's own files (`bun add fledge-cli` puts them in the project) stay read-only like the secrets:
  // a plugin writing them would run its code in fledge, unconfined.
  const self = (grant.selfFiles ?? []).flatMap((f) => [f, resolvePath(f)]);
  if (grant.projectRoot) {
    const problem = projectRootProblem(grant.projectRoot, home);
    if (problem) notes.push(`runs without the project: ${problem}, which is not a project (run it inside a project folder)`);
    else if (grant.projectWritable) grantWritableTree(grant.projectRoot, "the project", [...secrets, ...neverWrite, ...self], secrets, ctx, true);
    else grantTree(resolvePath(grant.projectRoot), "read", secrets, fs);
  }
  // The plugin's own folder lives in fledge's config folder (a secret to everyone else).
  const ownSecrets = secretsOutside(grant.pluginDir, secrets);
  const watched = ctx.watch.length;
  grantWritableTree(grant.pluginDir, "the plugin's folder", [...ownSecrets, ...secretsOutside(grant.pluginDir, neverWrite)], ownSecrets, ctx, false);
  const held = ctx.watch.slice(watched).flatMap((w) => w.before);
  // A build in a live-linked git checkout: say why creating target/ or node_modules/ may fail.
  if (grant.build && held.length > 0) {
    const folders = [...new Set(held.map((p) => dirname(p)))].join(", ");
    notes.push(`builds without creating new entries directly in ${folders} (each holds a .git or another place where code runs later, which stays read-only): if the build fails creating a folder such as target/ or node_modules/ there, create it yourself, or install with --copy`);
  }
  fs.push({ path: resolvePath(grant.tempDir), access: "write" });
  const fledgeDirs = fledgeOwnDirs(home, env, grant.fledgeConfigDir);
  for (const [list, approved, access] of [[grant.extraRead, grant.approvedRead, "read"], [grant.extraWrite, grant.approvedWrite, "write"]] as const) {
    (list ?? []).forEach((p, i) => grantExtra({ path: p, approved: approved?.[i], access }, { home, secrets, neverWrite: [...neverWrite, ...self], fledgeDirs }, ctx));
  }
  // Every rule names a resolved path (the launcher refuses to follow links); /proc/self is the launcher's own.
  const resolved = fs.map((r) => (r.path === "/proc/self" ? r : { path: real(r.path) ?? resolvePath(r.path), access: r.access }));
  const needed = [...resolved.map((r) => r.path), grant.tempDir, ...(grant.program ? [grant.program] : []), ...(grant.cwd ? [grant.cwd] : [])];
  const hide = credentialsToHide(secrets, needed);
  return { hide, env: outEnv, fs: resolved, network: grant.network || grant.build === true, chmodByPath: grant.build === true, runsAsRoot: process.getuid?.() === 0, notes, watch: ctx.watch };
}

/** The secrets that do not hold `path` (a grant named inside a secret keeps the secrets beside it hidden). */
function secretsOutside(path: string, secrets: readonly string[]): string[] {
  const r = resolvePath(path);
  return secrets.filter((s) => !inside(path, s) && !inside(r, s));
}

interface ExtraGrant {
  path: string;
  /** Where it led when the user approved it; undefined for grants recorded before targets were. */
  approved: string | undefined;
  access: "read" | "write";
}

interface ExtraContext {
  home: string | undefined;
  secrets: readonly string[];
  neverWrite: readonly string[];
  /** fledge's own folders: never granted, whatever the spelling. */
  fledgeDirs: readonly string[];
}

/**
 * One `[confinement]` path, judged again at run on where it RESOLVES now. A grant
 * means what consent showed: when the path now leads somewhere else than when the
 * user approved it (a symlink the plugin made since), it is not granted. A path
 * inside a credential is granted as is only when it was a credential at consent (the
 * recorded target; for older grants, the path as spelled); otherwise credentials
 * (and, for write, start-up files) are carved out of it like out of any folder.
 */
function grantExtra(g: ExtraGrant, x: ExtraContext, ctx: WritableContext): void {
  const abs = expandHomePath(g.path, x.home);
  if (abs === undefined) return;
  const resolved = resolvePath(abs);
  const problem = resolvedGrantProblem(resolved, g.access, x.home, x.fledgeDirs);
  if (problem) {
    ctx.notes.push(`not granted: [confinement] ${g.access} ${g.path} ${problem}`);
    return;
  }
  if (g.approved !== undefined && g.approved !== resolved) {
    ctx.notes.push(`not granted: [confinement] ${g.access} ${g.path} now leads to ${resolved}, not to ${g.approved} as when you approved it (reinstall the plugin to approve the new place)`);
    return;
  }
  const atConsent = g.approved ?? abs;
  const approvedSecret = judgeHomePath(atConsent, x.home).secret || x.secrets.some((s) => inside(atConsent, s));
  const hidden = approvedSecret ? secretsOutside(resolved, x.secrets) : x.secrets;
  if (g.access === "write") grantWritableTree(resolved, `[confinement] write ${g.path}`, [...hidden, ...x.neverWrite], hidden, ctx, false);
  else if (approvedSecret) ctx.out.push({ path: resolved, access: g.access });
  else grantTree(resolved, g.access, x.secrets, ctx.out);
}
