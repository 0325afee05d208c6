/**
 * `[confinement]`: what a native plugin needs beyond its default confinement.
 *
 *     [confinement]
 *     read  = ["~/.config/gh"]      # folders or files to read (`~/...` or absolute)
 *     write = ["~/.cache/my-tool"]  # folders or files to write
 *     env   = ["GH_TOKEN"]          # variables to pass through
 *
 * Validation refuses what no grant should give: the whole home or filesystem, `..`,
 * and writes to places that run code later outside the confinement (shell start-up
 * files, git hooks, ssh keys, crontabs, autostart, user services, ~/.local/bin).
 * Which paths count as credentials lives here too, so the trust rule (unverified
 * sources never get them) and the confinement policy agree.
 */
import { realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, sep } from "node:path";
import { gitIncludedFiles } from "./git-includes.ts";
import type { Findings } from "./report.ts";
import { isTable, show } from "./text.ts";
import type { ConfinementNeeds } from "./types.ts";

/** Paths under home that hold credentials or profiles (relative to home). */
export const HOME_SECRETS: readonly string[] = [
  ".ssh", ".aws", ".gnupg", ".config/gh", ".config/hub", ".config/glab-cli", ".config/fledge", ".netrc", ".git-credentials",
  ".config/git/credentials", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", ".docker", ".kube", ".azure", ".config/gcloud",
  ".config/op", ".config/rclone", ".config/containers", ".vault-token", ".terraform.d", ".terraformrc", ".pgpass", ".my.cnf",
  ".s3cfg", ".password-store", ".pki", ".local/share/keyrings", ".local/share/containers", ".gem/credentials",
  ".cargo/credentials", ".cargo/credentials.toml", ".m2/settings.xml", ".m2/settings-security.xml", ".gradle/gradle.properties",
  ".Xauthority", ".ICEauthority", ".dbus",
  // cloud, platform and AI CLIs (tokens and API keys); the second red-team round read each of the first eight
  ".config/github-copilot", ".fly", ".config/doctl", ".config/hcloud", ".claude", ".claude.json", ".databrickscfg", ".oci",
  ".config/gitlab-cli", ".config/heroku", ".netrc.gpg", ".config/netlify", ".netlify", ".config/vercel", ".vercel",
  ".local/share/com.vercel.cli", ".config/configstore", ".config/firebase", ".wrangler", ".config/.wrangler", ".ngrok2",
  ".config/ngrok", ".config/stripe", ".config/sops", ".config/age", ".pulumi", ".config/pulumi", ".config/1Password",
  ".cache/huggingface", ".huggingface", ".codex", ".gemini", ".config/openai", ".ollama", ".config/hashicorp",
  ".config/Slack", ".config/discord", ".config/teams", ".config/Signal", ".local/share/TelegramDesktop",
  // editors' stored state (extension tokens)
  ".config/Code", ".config/Code - OSS", ".config/VSCodium", ".config/Cursor", ".vscode-server", ".config/JetBrains",
  // browser and mail profiles (cookies, saved passwords)
  ".mozilla", ".thunderbird", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".config/microsoft-edge",
  ".config/vivaldi", ".config/opera", ".var",
  // shell and REPL histories (typed passwords, tokens on command lines)
  ".bash_history", ".zsh_history", ".zhistory", ".history", ".sh_history", ".python_history", ".node_repl_history",
  ".psql_history", ".mysql_history", ".sqlite_history", ".lesshst", ".viminfo", ".local/share/fish",
  ".local/share/zsh", ".local/state/zsh", ".zsh_sessions", ".local/share/nvim/shada", ".irb_history", ".rediscli_history",
  ".dbshell", ".mongosh",
  // found by the third red-team round (mail, sync and package-registry passwords, shell-history sync keys)
  ".local/share/atuin", ".msmtprc", ".config/msmtp", ".config/composer/auth.json", ".composer/auth.json", ".boto",
  ".sentryclirc", ".config/filezilla", ".authinfo", ".authinfo.gpg", ".mbsyncrc", ".fetchmailrc", ".smbcredentials",
  ".config/pip/pip.conf", ".pip/pip.conf", ".bundle/config", ".nuget/NuGet/NuGet.Config", ".config/NuGet", ".jfrog",
  ".config/helm", ".wakatime.cfg", ".config/tea", ".circleci/cli.yml", ".travis",
];

/**
 * Credentials the tools themselves let you move with a variable: variable -> what in
 * the folder (or file) it names is secret ("" = all of it). Followed wherever it points,
 * since the default place under home is then empty.
 */
export const ENV_SECRET_LOCATIONS: Readonly<Record<string, readonly string[]>> = {
  CARGO_HOME: ["credentials", "credentials.toml"], GNUPGHOME: [""], KUBECONFIG: [""], DOCKER_CONFIG: [""],
  AWS_SHARED_CREDENTIALS_FILE: [""], AWS_CONFIG_FILE: [""], GOOGLE_APPLICATION_CREDENTIALS: [""], CLOUDSDK_CONFIG: [""],
  AZURE_CONFIG_DIR: [""], GH_CONFIG_DIR: [""], GLAB_CONFIG_DIR: [""], NPM_CONFIG_USERCONFIG: [""], npm_config_userconfig: [""],
  PASSWORD_STORE_DIR: [""], RCLONE_CONFIG: [""], PGPASSFILE: [""], NETRC: [""], DOCKER_CERT_PATH: [""], TF_CLI_CONFIG_FILE: [""],
  ANSIBLE_VAULT_PASSWORD_FILE: [""], SOPS_AGE_KEY_FILE: [""], VAULT_CONFIG_PATH: [""], GRADLE_USER_HOME: ["gradle.properties"],
  COMPOSER_HOME: ["auth.json"], BUNDLE_USER_HOME: ["config"], PIP_CONFIG_FILE: [""], ATUIN_KEY_PATH: [""], MSMTPRC: [""],
  OCI_CLI_CONFIG_FILE: [""], DATABRICKS_CONFIG_FILE: [""], HF_HOME: ["token", "stored_tokens"], HF_TOKEN_PATH: [""], BOTO_CONFIG: [""],
  SENTRY_PROPERTIES: [""], CLAUDE_CONFIG_DIR: [""], CODEX_HOME: [""], GEMINI_CLI_HOME: [""],
};

/** The secrets `env` moved away from home (ENV_SECRET_LOCATIONS), resolved; KUBECONFIG may list several files. */
export function envSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [name, inside] of Object.entries(ENV_SECRET_LOCATIONS)) {
    for (const place of (env[name] ?? "").split(":")) {
      if (!isAbsolute(place)) continue;
      for (const rel of inside) out.push(resolvePath(rel === "" ? place : join(place, rel)));
    }
  }
  return out;
}

/** Never writable by a grant: code there runs later, outside any confinement (relative to home). */
export const HOME_NEVER_WRITE: readonly string[] = [
  ".ssh", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin",
  ".config/fish", ".cshrc", ".tcshrc", ".kshrc", ".inputrc", ".config/autostart", ".config/systemd", ".local/share/systemd",
  ".config/environment.d", ".xprofile", ".xinitrc", ".xsession", ".pam_environment", ".local/bin", "bin", ".gitconfig",
  ".config/git", ".config/fledge",
  // what shells, editors, multiplexers and window managers source or run (a dotfiles
  // repository is often where these lead: each is followed to its target)
  ".bash_aliases", ".bash_functions", ".bash_env", ".zsh", ".oh-my-zsh", ".config/zsh", ".xsessionrc", ".xsessionrc.d",
  ".vimrc", ".gvimrc", ".exrc", ".vim", ".config/nvim", ".config/vim", ".emacs", ".emacs.el", ".emacs.d", ".config/emacs",
  ".tmux.conf", ".config/tmux", ".screenrc", ".config/i3", ".config/sway", ".config/hypr", ".config/openbox",
  ".config/plasma-workspace", ".config/kitty", ".config/alacritty", ".config/wezterm", ".wezterm.lua", ".config/direnv",
  ".direnvrc", ".config/ipython", ".ipython", ".pythonrc", ".pythonstartup",
  // programs and libraries found on PATH or imported later (.pth files run at every python start)
  ".cargo/bin", "go/bin", ".local/lib", ".npm-global", ".bun/bin", ".deno/bin",
  // tools' own start-up files that run commands (rustc-wrapper, prompt commands, debugger and
  // database client scripts, hooks, desktop launchers, editor plugins)
  ".cargo/config.toml", ".cargo/config", ".config/starship.toml", ".gdbinit", ".config/gdb", ".lldbinit", ".psqlrc",
  ".sqliterc", ".hgrc", ".config/hg", ".config/jj", ".config/mise", ".config/rtx", ".tool-versions", ".irbrc", ".pryrc",
  ".gemrc", ".Rprofile", ".julia/config", ".npmrc", ".config/npm", ".yarnrc", ".yarnrc.yml", ".bunfig.toml", ".mailcap",
  ".local/share/nvim/site", ".local/share/applications", ".config/Code/User", ".config/lazygit",
];
const SYSTEM_NEVER_WRITE: readonly string[] = ["/run/user", "/etc", "/var/spool/cron", "/var/spool/anacron", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/opt", "/nix"];
/** Kernel trees: never granted by a manifest, whatever the spelling (`/proc/self/root` is the whole filesystem). */
export const NEVER_GRANTABLE: readonly string[] = ["/proc", "/sys", "/dev"];

/** Variable names that look like credentials. */
export const SECRET_ENV_NAME = /TOKEN|SECRET|PASS|PWD|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|SOCK|URL|URI|DSN|JWT|CERT|SIGNING|(^|_)PAT($|_)/i;

/**
 * Values that are credentials whatever the variable is called: token formats of the
 * big forges and clouds (GitHub, GitLab, Slack, AWS access keys, npm, PyPI, Hugging
 * Face, OpenAI/Stripe-style keys), JWTs, and URLs carrying `user:password@`.
 *
 * Short prefixes (`sk-`, `ghp_`, `pypi-`) count at the start of any word (LANG="C.UTF-8
 * ghp_..."): after the value's start or any character but a letter, digit, `_`, `-`, `.`
 * or `/`, so a path or name merely containing one (`/opt/sk-tools/bin`) is not one.
 */
const TOKEN_SHAPE = String.raw`(gh[pousr]_|github_pat_|glpat-|gldt-|xox[abposre]-|A[KS]IA[0-9A-Z]{12}|npm_[A-Za-z0-9]{20}|pypi-|hf_[A-Za-z0-9]{20}|sk-|sk_live_|rk_live_|eyJ[A-Za-z0-9_-]{8,}\.eyJ)`;
const SECRET_ENV_VALUE = new RegExp(String.raw`(?<![A-Za-z0-9_./-])${TOKEN_SHAPE}|[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@`, "i");
/**
 * Fixed prefix AND the token's full length: no path, locale or option looks like these,
 * so they count ANYWHERE in a value (`https://ghp_...@github.com`, `xterm/ghp_...`,
 * `-Pglpat-...`). Case-sensitive, as the tokens are (`AIza` is Google's, `aiza` nobody's).
 */
const PREFIXED_TOKEN = new RegExp(
  [
    String.raw`gh[pousr]_[A-Za-z0-9]{36}`, String.raw`github_pat_[A-Za-z0-9_]{22,}`, String.raw`gl(pat|dt)-[A-Za-z0-9_-]{20}`,
    String.raw`xox[abposre]-[A-Za-z0-9-]{10,}`, String.raw`A[KS]IA[0-9A-Z]{16}`, String.raw`npm_[A-Za-z0-9]{36}`, String.raw`pypi-[A-Za-z0-9_-]{50,}`,
    String.raw`hf_[A-Za-z0-9]{30,}`, String.raw`sk-(ant|proj)-[A-Za-z0-9_-]{20,}`, String.raw`[sr]k_live_[A-Za-z0-9]{20,}`, String.raw`AIza[0-9A-Za-z_-]{35}`,
    String.raw`dop_v1_[a-f0-9]{64}`, String.raw`hvs\.[A-Za-z0-9_-]{24,}`, String.raw`dckr_pat_[A-Za-z0-9_-]{20,}`, String.raw`[Bb]earer\s+[A-Za-z0-9._~+/=-]{20,}`,
  ].join("|"),
);

/** Whether a variable's value holds what looks like a credential, anywhere in it (see SECRET_ENV_VALUE and PREFIXED_TOKEN). */
export function isCredentialValue(value: string | undefined): boolean {
  return value !== undefined && (PREFIXED_TOKEN.test(value) || SECRET_ENV_VALUE.test(value));
}
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function segments(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}

/** `~/a/b` → "a/b" (relative to home), or undefined for an absolute path. */
function homeRelative(p: string): string | undefined {
  if (p === "~") return "";
  return p.startsWith("~/") ? segments(p.slice(2)).join("/") : undefined;
}

function under(rel: string, list: readonly string[]): boolean {
  return list.some((s) => rel === s || rel.startsWith(`${s}/`) || s.startsWith(`${rel}/`) || rel === "");
}

/** Why a `[confinement]` path cannot be granted, or undefined when it can. */
export function confinementPathProblem(p: string, kind: "read" | "write"): string | undefined {
  if (p.includes("\0")) return "contains a NUL byte";
  if (!(p === "~" || p.startsWith("~/") || p.startsWith("/"))) return "must start with ~/ (your home) or / (an absolute path)";
  if (segments(p).some((s) => s === ".." || s === ".")) return "must not contain . or .. segments";
  const rel = homeRelative(p);
  if (rel === "") return "names your whole home folder: list the folders the plugin needs";
  if (rel === undefined && segments(p).length === 0) return "names the whole filesystem: list the folders the plugin needs";
  if (rel === undefined && NEVER_GRANTABLE.some((k) => isInside(normalize(p), k))) return "is inside /proc, /sys or /dev: these are never granted";
  if (kind === "write") {
    if (rel !== undefined && under(rel, HOME_NEVER_WRITE)) return "is a place where code runs later outside the confinement (shell start-up files, ssh, autostart, services, ~/.local/bin): it can never be writable";
    if (rel === undefined && SYSTEM_NEVER_WRITE.some((s) => p === s || p.startsWith(`${s}/`))) return "is a system folder: it can never be writable";
    if (segments(p).includes(".git")) return "is inside a .git folder (hooks and config run code): it can never be writable";
  }
  return undefined;
}

/** `child` is `root` or beneath it (absolute, normalized). */
export function isInside(child: string, root: string): boolean {
  if (child === root) return true;
  if (root.endsWith(sep)) return child.startsWith(root);
  // No `${root}/` built per call: the policy asks this ~10^5 times per start.
  return child.length > root.length && child.charCodeAt(root.length) === SEP_CODE && child.startsWith(root);
}
const SEP_CODE = sep.charCodeAt(0);

/**
 * Where an absolute path really leads: symlinks resolved (also `/proc/self/root` and
 * `/proc/<n>/cwd`), for the longest part that exists; the rest appended as written.
 */
export function resolvePath(p: string): string {
  const abs = normalize(p);
  const known = resolveMemo?.get(abs);
  if (known !== undefined) return known;
  let out: string;
  try {
    out = realpathSync.native(abs);
  } catch {
    const parent = dirname(abs);
    out = parent === abs ? abs : join(resolvePath(parent), basename(abs));
  }
  resolveMemo?.set(abs, out);
  return out;
}

let resolveMemo: Map<string, string> | undefined;

/**
 * Run `fn` (one policy computation, synchronous) with resolvePath remembering its
 * answers: the same folders are resolved many times while the rules are made (each
 * credential, then each rule again). Nothing is kept after `fn` returns, so every run
 * judges the filesystem as it is then.
 */
export function withResolveMemo<T>(fn: () => T): T {
  if (resolveMemo) return fn();
  resolveMemo = new Map();
  try {
    return fn();
  } finally {
    resolveMemo = undefined;
  }
}

/** `~/x` against home; absolute paths as written; anything else undefined. */
export function expandHomePath(p: string, home: string | undefined): string | undefined {
  if (p === "~" || p.startsWith("~/")) return home === undefined || !isAbsolute(home) ? undefined : join(home, p.slice(1));
  return isAbsolute(p) ? normalize(p) : undefined;
}

export interface HomeJudgement {
  /** The path is a credential (or inside one). */
  secret: boolean;
  /** The path is a folder holding a credential. */
  containsSecret: boolean;
  /** The path is (or is inside) a place where code runs later. */
  neverWrite: boolean;
  containsNeverWrite: boolean;
  /** The path is home itself or one of its ancestors. */
  homeOrAbove: boolean;
}

/** Absolute, resolved spellings of home-relative entries (both the name and where a symlinked entry leads). */
export function homeEntries(home: string, rels: readonly string[]): string[] {
  const realHome = resolvePath(home);
  const out = new Set<string>();
  for (const rel of rels) {
    out.add(join(realHome, rel));
    out.add(resolvePath(join(home, rel)));
  }
  return [...out];
}

/**
 * Places under home where code runs later (HOME_NEVER_WRITE), plus every file git's
 * start-up files include: each spelled and resolved, so a start-up file that is a link
 * into a dotfiles repository keeps its target out of writable grants.
 */
export function homeNeverWrite(home: string): string[] {
  const out = new Set(homeEntries(home, HOME_NEVER_WRITE));
  for (const f of gitIncludedFiles(home, resolvePath)) {
    out.add(f);
    out.add(resolvePath(f));
  }
  return [...out];
}

/**
 * THE judgement of a resolved absolute path against home's secrets and never-write
 * lists, whatever the spelling it came from (`~/.ssh`, `/root/.ssh`, a symlink).
 * `home` is the real HOME; XDG folders outside `~/.config` count as home's too.
 */
export function judgeHomePath(resolved: string, home: string | undefined, xdg: Readonly<Record<string, string | undefined>> = {}): HomeJudgement {
  if (!home || !isAbsolute(home)) return { secret: false, containsSecret: false, neverWrite: false, containsNeverWrite: false, homeOrAbove: false };
  const secrets = [...homeEntries(home, HOME_SECRETS), ...xdgSecrets(xdg)];
  const never = homeNeverWrite(home);
  return {
    secret: secrets.some((s) => isInside(resolved, s)),
    containsSecret: secrets.some((s) => isInside(s, resolved) && s !== resolved),
    neverWrite: never.some((n) => isInside(resolved, n)),
    containsNeverWrite: never.some((n) => isInside(n, resolved) && n !== resolved),
    homeOrAbove: isInside(resolvePath(home), resolved),
  };
}

/**
 * Secrets under custom XDG folders: `~/.config/gh` is also `$XDG_CONFIG_HOME/gh`,
 * `~/.local/share/keyrings` is also `$XDG_DATA_HOME/keyrings`.
 */
export function xdgSecrets(xdg: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  const map: [string, string][] = [["XDG_CONFIG_HOME", ".config/"], ["XDG_DATA_HOME", ".local/share/"], ["XDG_STATE_HOME", ".local/state/"]];
  for (const [name, prefix] of map) {
    const dir = xdg[name];
    if (!dir || !isAbsolute(dir)) continue;
    for (const rel of HOME_SECRETS) if (rel.startsWith(prefix)) out.push(resolvePath(join(dir, rel.slice(prefix.length))));
    // shell histories and the like kept under XDG_STATE_HOME / XDG_DATA_HOME by newer tools
    if (name !== "XDG_CONFIG_HOME") for (const h of ["bash/history", "zsh/history", "fish", "python_history", "node_repl_history"]) out.push(resolvePath(join(dir, h)));
  }
  out.push(...envSecrets(xdg));
  return out;
}

/**
 * Every folder that is, or may become, fledge's own config folder (registry with the
 * `unconfined` choices, config with trust settings, the prepared-module cache, other
 * plugins' stores): `$FLEDGE_CONFIG_DIR`, `$XDG_CONFIG_HOME/fledge`, `~/.config/fledge`,
 * resolved. Never grantable, for reading or writing, whatever the spelling.
 */
export function fledgeOwnDirs(home: string | undefined, env: Readonly<Record<string, string | undefined>>, current?: string): string[] {
  const out = new Set<string>();
  const add = (p: string | undefined): void => {
    if (p === undefined || !isAbsolute(p)) return;
    out.add(normalize(p));
    out.add(resolvePath(p));
  };
  add(current);
  add(env.FLEDGE_CONFIG_DIR?.trim() || undefined);
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg) add(join(xdg, "fledge"));
  if (home && isAbsolute(home)) add(join(home, ".config", "fledge"));
  return [...out];
}

/**
 * Why a `[confinement]` path, once RESOLVED, cannot be granted (undefined: it can).
 * Judged at install and again at every run, on where the path leads, not on how it
 * is spelled. A folder that merely CONTAINS a credential is not refused for reading:
 * the credential is carved out when the rules are made.
 */
export function resolvedGrantProblem(resolved: string, kind: "read" | "write", home: string | undefined, fledgeDirs: readonly string[] = []): string | undefined {
  if (NEVER_GRANTABLE.some((k) => isInside(resolved, k))) return `leads to ${resolved}, inside /proc, /sys or /dev: these are never granted`;
  if (resolved === sep) return "leads to the whole filesystem";
  if (fledgeDirs.some((d) => isInside(resolved, d))) return `leads to ${resolved}, fledge's own folder (registry, settings, other plugins' data): it is never granted`;
  const j = judgeHomePath(resolved, home);
  if (j.homeOrAbove) return `leads to ${resolved}, your home folder or a folder holding it: list the folders the plugin needs`;
  if (kind === "write") {
    if (j.neverWrite || j.containsNeverWrite) return `leads to ${resolved}, where code runs later outside the confinement (shell start-up files, ssh, autostart, ~/.local/bin): it can never be writable`;
    if (SYSTEM_NEVER_WRITE.some((s) => isInside(resolved, s))) return `leads to ${resolved}, a system folder: it can never be writable`;
    if (segments(resolved).includes(".git")) return `leads to ${resolved}, inside a .git folder (hooks and config run code): it can never be writable`;
  }
  return undefined;
}

/** Whether a path grant reaches credentials (refused for unverified sources, flagged at consent), whatever its spelling. */
export function isCredentialPath(p: string, home: string | undefined = process.env.HOME, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const rel = homeRelative(p);
  if (rel !== undefined && under(rel, HOME_SECRETS)) return true;
  const abs = expandHomePath(p, home);
  if (abs === undefined) return false;
  // env: the XDG folders and the tools' own variables (CARGO_HOME, GNUPGHOME, ...) move credentials.
  const j = judgeHomePath(resolvePath(abs), home, env);
  return j.secret || j.containsSecret;
}

/** Whether an env grant passes a credential: by the variable's name, or by its value here (`DATABASE_URL=postgres://u:pw@...`, `X=ghp_...`). */
export function isCredentialEnv(name: string, value: string | undefined = process.env[name]): boolean {
  return SECRET_ENV_NAME.test(name) || isCredentialValue(value);
}

/** The credentials a `[confinement]` request reaches, in plain words (empty: none). */
export function credentialNeeds(n: ConfinementNeeds, home: string | undefined = process.env.HOME, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  return [...n.read.filter((p) => isCredentialPath(p, home, env)), ...n.write.filter((p) => isCredentialPath(p, home, env)), ...n.env.filter((v) => isCredentialEnv(v, env[v]))];
}

function stringList(raw: Record<string, unknown>, key: "read" | "write" | "env", f: Findings): string[] {
  const v = raw[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    f.err(`confinement.${key}`, `confinement.${key} must be an array of strings`);
    return [];
  }
  return v as string[];
}

/** Read and check `[confinement]`; problems go to `f`. */
export function readConfinement(doc: Record<string, unknown>, f: Findings): ConfinementNeeds {
  const raw = doc.confinement;
  if (raw === undefined) return { read: [], write: [], env: [] };
  if (!isTable(raw)) {
    f.err("confinement", "confinement must be a table ([confinement])");
    return { read: [], write: [], env: [] };
  }
  const needs: ConfinementNeeds = { read: stringList(raw, "read", f), write: stringList(raw, "write", f), env: stringList(raw, "env", f) };
  for (const kind of ["read", "write"] as const) {
    needs[kind].forEach((p, i) => {
      const problem = confinementPathProblem(p, kind);
      if (problem) f.err(`confinement.${kind}[${i}]`, `confinement.${kind} '${show(p)}' ${problem}`);
    });
  }
  needs.env.forEach((name, i) => {
    if (!ENV_NAME.test(name)) f.err(`confinement.env[${i}]`, `confinement.env '${show(name)}' is not a variable name (letters, digits and _, not starting with a digit)`);
  });
  for (const k of Object.keys(raw)) if (!["read", "write", "env"].includes(k)) f.warn(`confinement.${k}`, `confinement.${k} is not a key fledge knows (read, write, env)`);
  return needs;
}

/** Plain-words lines for consent, list and audit. */
export function describeConfinementNeeds(n: ConfinementNeeds): string[] {
  const flag = (credential: boolean): string => (credential ? " (credentials)" : "");
  return [
    ...n.read.map((p) => `may read ${p}${flag(isCredentialPath(p))}`),
    ...n.write.map((p) => `may write ${p}${flag(isCredentialPath(p))}`),
    ...n.env.map((v) => `sees the variable ${v}${flag(isCredentialEnv(v, process.env[v]))}`),
  ];
}
