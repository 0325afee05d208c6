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
  // browser and mail profiles (cookies, saved passwords)
  ".mozilla", ".thunderbird", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".config/microsoft-edge",
  ".config/vivaldi", ".config/opera", ".var",
  // shell and REPL histories (typed passwords, tokens on command lines)
  ".bash_history", ".zsh_history", ".zhistory", ".history", ".sh_history", ".python_history", ".node_repl_history",
  ".psql_history", ".mysql_history", ".sqlite_history", ".lesshst", ".viminfo", ".local/share/fish",
];

/** Never writable by a grant: code there runs later, outside any confinement (relative to home). */
export const HOME_NEVER_WRITE: readonly string[] = [
  ".ssh", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin",
  ".config/fish", ".cshrc", ".tcshrc", ".kshrc", ".inputrc", ".config/autostart", ".config/systemd", ".local/share/systemd",
  ".config/environment.d", ".xprofile", ".xinitrc", ".xsession", ".pam_environment", ".local/bin", "bin", ".gitconfig",
  ".config/git", ".config/fledge",
];
const SYSTEM_NEVER_WRITE: readonly string[] = ["/etc", "/var/spool/cron", "/var/spool/anacron", "/usr", "/bin", "/sbin", "/lib", "/boot"];

/** Variable names that look like credentials. */
export const SECRET_ENV_NAME = /TOKEN|SECRET|PASS|PWD|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|SOCK/i;
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
  if (kind === "write") {
    if (rel !== undefined && under(rel, HOME_NEVER_WRITE)) return "is a place where code runs later outside the confinement (shell start-up files, ssh, autostart, services, ~/.local/bin): it can never be writable";
    if (rel === undefined && SYSTEM_NEVER_WRITE.some((s) => p === s || p.startsWith(`${s}/`))) return "is a system folder: it can never be writable";
    if (segments(p).includes(".git")) return "is inside a .git folder (hooks and config run code): it can never be writable";
  }
  return undefined;
}

/** Whether a path grant reaches credentials (refused for unverified sources, flagged at consent). */
export function isCredentialPath(p: string): boolean {
  const rel = homeRelative(p);
  return rel !== undefined && under(rel, HOME_SECRETS);
}

/** Whether an env grant passes a credential-looking variable. */
export function isCredentialEnv(name: string): boolean {
  return SECRET_ENV_NAME.test(name);
}

/** The credentials a `[confinement]` request reaches, in plain words (empty: none). */
export function credentialNeeds(n: ConfinementNeeds): string[] {
  return [...n.read.filter(isCredentialPath), ...n.write.filter(isCredentialPath), ...n.env.filter(isCredentialEnv)];
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
    ...n.env.map((v) => `sees the variable ${v}${flag(isCredentialEnv(v))}`),
  ];
}
