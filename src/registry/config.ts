/**
 * User config (`<configDir>/config.toml`). Unlike the original, a malformed config is an
 * error rather than silently "no trust config": a typo in `[trust]` should be seen, not
 * quietly ignored while the user believes an org is trusted.
 */
import * as v from "valibot";
import { FledgeError } from "../core/index.ts";
import { findProgram } from "../core/programs.ts";
import { fledgePaths } from "./paths.ts";
import { describeValue, issuePath, parseTomlText, readTextIfExists } from "./toml.ts";

export interface FledgeLimitsConfig {
  fuel?: number | "none";
  memory?: string | number;
  /** Wall-clock limit in seconds. */
  timeout?: number;
}

export interface FledgeConfig {
  trust: { orgs: string[]; users: string[] };
  github: { token?: string };
  limits?: FledgeLimitsConfig;
}

const StringList = v.array(v.string());

// Unknown keys are ignored (the original's `fledge config` stores other sections here too).
const ConfigSchema = v.object({
  trust: v.optional(
    v.object({
      orgs: v.optional(StringList),
      users: v.optional(StringList),
    }),
  ),
  github: v.optional(v.object({ token: v.optional(v.string()) })),
  limits: v.optional(
    v.object({
      fuel: v.optional(v.union([v.pipe(v.number(), v.minValue(0)), v.literal("none")])),
      memory: v.optional(v.union([v.string(), v.pipe(v.number(), v.minValue(0))])),
      timeout: v.optional(v.pipe(v.number(), v.minValue(0))),
    }),
  ),
});

const EXPECTED: Record<string, string> = {
  trust: "a table",
  "trust.orgs": "an array of strings, e.g. orgs = [\"my-org\"]",
  "trust.users": "an array of strings, e.g. users = [\"my-user\"]",
  github: "a table",
  "github.token": "a string",
  limits: "a table",
  "limits.fuel": "a non-negative number or \"none\"",
  "limits.memory": "a size such as \"256MiB\" or a number of bytes",
  "limits.timeout": "a non-negative number of seconds",
};

export function defaultConfig(): FledgeConfig {
  return { trust: { orgs: [], users: [] }, github: {} };
}

/** Parse config text (exposed for tests and `fledge config`); `file` is only for messages. */
export function parseConfig(text: string, file: string): FledgeConfig {
  const raw = parseTomlText(text, file, "config_invalid", "Config file");
  const result = v.safeParse(ConfigSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const at = issue ? issuePath(issue) : "";
    // Report the key the user wrote (`trust.orgs`), not an array index inside it.
    const key = at.replace(/\[\d+\]$/, "");
    const expected = EXPECTED[key] ?? "a different type";
    const got = issue ? describeValue(issue.input) : "an invalid value";
    throw new FledgeError(`Config file ${file}: \`${at || "(root)"}\` must be ${expected}, got ${got}.`, {
      code: "config_invalid",
      hint: `Edit ${file} and fix \`${key}\`.`,
      details: { file, key: at },
    });
  }
  const out = result.output;
  const config: FledgeConfig = {
    trust: { orgs: out.trust?.orgs ?? [], users: out.trust?.users ?? [] },
    github: out.github?.token !== undefined ? { token: out.github.token } : {},
  };
  if (out.limits) {
    const limits: FledgeLimitsConfig = {};
    if (out.limits.fuel !== undefined) limits.fuel = out.limits.fuel;
    if (out.limits.memory !== undefined) limits.memory = out.limits.memory;
    if (out.limits.timeout !== undefined) limits.timeout = out.limits.timeout;
    config.limits = limits;
  }
  return config;
}

/** Load `<configDir>/config.toml`; a missing file means defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FledgeConfig {
  const file = fledgePaths(env).configFile;
  const text = readTextIfExists(file);
  return text === undefined ? defaultConfig() : parseConfig(text, file);
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/**
 * The GitHub token: FLEDGE_GITHUB_TOKEN, GITHUB_TOKEN, GH_TOKEN, config `github.token`,
 * then what the GitHub CLI is logged in with (`gh auth token`, as the original).
 * Never log, interpolate into URLs, or persist the result. The config is only read
 * when no env var is set, so a broken config cannot block an env token. Callers ask
 * only when talking to the GitHub API host, and name that host (`ghHost`, e.g.
 * "github.com"): gh is asked for that host's token only, so a token gh holds for
 * github.com never goes to an Enterprise, mirror or test API. Without `ghHost`, gh is
 * not asked.
 */
export function githubToken(env: NodeJS.ProcessEnv = process.env, config?: FledgeConfig, ghHost?: string): string | undefined {
  for (const name of ["FLEDGE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"] as const) {
    const t = nonEmpty(env[name]);
    if (t) return t;
  }
  return nonEmpty((config ?? loadConfig(env)).github.token) ?? (ghHost ? ghAuthToken(env, ghHost) : undefined);
}

/** Longest a token may be; anything longer is not a token (a confused `gh` printing help). */
const MAX_TOKEN = 1024;

/**
 * `gh auth token`, or undefined when gh is absent, not logged in, slow, or prints
 * something that is not a single token. Its output is captured, never shown; its
 * stderr is discarded (it may name the account). Looked up on the absolute entries of
 * PATH only, like every program fledge starts by name.
 */
export function ghAuthToken(env: NodeJS.ProcessEnv = process.env, host = "github.com"): string | undefined {
  if (!/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/.test(host)) return undefined;
  const gh = findProgram("gh", env.PATH);
  if (!gh) return undefined;
  try {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const r = Bun.spawnSync([gh, "auth", "token", "--hostname", host], { env: childEnv, stdin: "ignore", stdout: "pipe", stderr: "ignore", timeout: 10_000 });
    if (r.exitCode !== 0) return undefined;
    const t = r.stdout.toString().trim();
    return t !== "" && t.length <= MAX_TOKEN && /^[\x21-\x7e]+$/.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}
