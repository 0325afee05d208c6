/**
 * The `metadata` service: read-only facts about the project for plugins granted
 * `metadata`. Keys: `fledge_config`, `git_tags`, `git_status`, `git_log`, `env`;
 * an unknown key answers null. Synchronous (the wasm import calls it mid-guest).
 */
import { parse as parseToml } from "smol-toml";
import { readProjectFileForPlugin } from "../confine/on-behalf.ts";
import { isCredentialEnv } from "../manifest/confinement.ts";
import { git } from "./project.ts";

export const METADATA_KEYS = ["fledge_config", "git_tags", "git_status", "git_log", "env"] as const;
export type MetadataKey = (typeof METADATA_KEYS)[number];

/**
 * Environment variables a plugin may see. An allowlist, not a denylist: the original
 * passed everything except names that looked secret, and the next `STRIPE_SK` or
 * `DATABASE_URL` would have slipped through. These are locale, terminal, editor,
 * user and CI-detection variables: what a plugin needs to format output and adapt to
 * its surroundings. `LC_*` is matched by prefix. PATH and HOME are deliberately left
 * out (they describe the machine, not the project); a plugin needing more can be
 * granted `exec`, which runs with the user's full environment anyway.
 */
export const ENV_ALLOWLIST: readonly string[] = [
  "LANG",
  "LANGUAGE",
  "TZ",
  "TERM",
  "TERM_PROGRAM",
  "COLORTERM",
  "NO_COLOR",
  "FORCE_COLOR",
  "CLICOLOR",
  "COLUMNS",
  "LINES",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "SHELL",
  "USER",
  "LOGNAME",
  "CI",
  "GITHUB_ACTIONS",
  "GITLAB_CI",
  "CIRCLECI",
  "BUILDKITE",
  "TRAVIS",
  "TF_BUILD",
];

/**
 * THE env filter for `metadata.env`. A variable passes only if its name is on
 * {@link ENV_ALLOWLIST} (or is `LC_*`), AND it is not a credential by the one rule the
 * confinement and consent use (`isCredentialEnv`: a secret-looking name, or a
 * token-shaped value or a URL carrying `user:password@`), belt and braces should the
 * allowlist ever grow carelessly.
 */
export function filterEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const allowed = new Set(ENV_ALLOWLIST);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (!allowed.has(name) && !/^LC_[A-Z]+$/.test(name)) continue;
    if (isCredentialEnv(name, value)) continue;
    out[name] = value;
  }
  return out;
}

function lines(text: string | undefined): string[] {
  return (text ?? "").split("\n").filter((l) => l.trim() !== "");
}

/**
 * The project's fledge.toml, read as the plugin could read it (confine/on-behalf.ts):
 * fledge is unconfined, and the plugin may have planted the file as a symlink to a
 * credential. Null when absent, refused or not TOML.
 */
function fledgeConfig(projectRoot: string, env: Readonly<Record<string, string | undefined>>): unknown {
  const text = readProjectFileForPlugin(projectRoot, "fledge.toml", env);
  if (text === undefined) return null;
  try {
    return parseToml(text);
  } catch {
    return null;
  }
}

export interface MetadataContext {
  projectRoot: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Distinct keys answered per request; later ones are dropped (the wasm import refuses such a request outright). */
export const MAX_METADATA_KEYS_PER_REQUEST = 32;

/**
 * Answer one metadata request: an object keyed by the requested names. Each distinct
 * key is computed once (a request naming "git_log" 200,000 times runs git once) and
 * at most {@link MAX_METADATA_KEYS_PER_REQUEST} distinct keys are answered.
 */
export function collectMetadata(keys: readonly string[], ctx: MetadataContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const distinct = [...new Set(keys)].slice(0, MAX_METADATA_KEYS_PER_REQUEST);
  for (const key of distinct) {
    switch (key) {
      case "fledge_config":
        out[key] = fledgeConfig(ctx.projectRoot, ctx.env ?? process.env);
        break;
      case "git_tags":
        out[key] = lines(git(["tag", "--sort=-v:refname", "--no-column"], ctx.projectRoot)).slice(0, 100);
        break;
      case "git_status":
        out[key] = lines(git(["status", "--porcelain"], ctx.projectRoot));
        break;
      case "git_log":
        out[key] = lines(git(["log", "--oneline", "-20"], ctx.projectRoot));
        break;
      case "env":
        out[key] = filterEnv(ctx.env ?? process.env);
        break;
      default:
        // Own property even for "__proto__": never touch the prototype.
        Object.defineProperty(out, key, { value: null, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}
