/**
 * `plugins.toml`: reading (tolerant of the original fledge's format), validation, and
 * locked, atomic read-modify-write. A corrupt registry is reported with where and how
 * to fix it and is never overwritten: it is the only record of what was granted.
 */
import { stringify, TomlDate } from "smol-toml";
import * as v from "valibot";
import { NO_CAPABILITIES, type Capabilities, type GrantedConfinement } from "../manifest/types.ts";
import { FledgeError } from "../core/index.ts";
import { formatHostEntry, parseHostEntry } from "../manifest/hosts.ts";
import { atomicWrite } from "./atomic.ts";
import { withLock, type LockOptions } from "./lock.ts";
import { assertSafePathSegment, fledgePaths } from "./paths.ts";
import { isReservedName } from "../manifest/reserved.ts";
import { describeValue, issuePath, parseTomlText, readTextIfExists } from "./toml.ts";
import { INSTALL_KINDS, TRUST_TIERS, type Registry, type RegistryEntry } from "./types.ts";

const REGISTRY_HEADER =
  "# fledge plugin registry. Written by fledge; edit by hand only with care.\n" +
  "# [plugins.capabilities] is what was GRANTED at install; the host uses nothing else.\n\n";

const CODE = "registry_corrupt";

function isSafeSegment(s: string): boolean {
  try {
    assertSafePathSegment(s);
    return true;
  } catch {
    return false;
  }
}

const SafeName = v.pipe(v.string(), v.minLength(1), v.check(isSafeSegment, "a single path segment (no /, \\ or ..)"));
// A plugin name from disk is a door like any other: `bin` in plugins.toml must not make
// fledge treat the shim folder as that plugin's folder (move it, replace it, delete it).
const PluginName = v.pipe(SafeName, v.check((s) => !isReservedName(s), "a name fledge does not use for its own files"));
// A TOML local date (installed = 2024-01-02, unquoted) is accepted and read as its text.
const DateText = v.pipe(
  v.union([v.string(), v.pipe(v.instance(TomlDate), v.transform((d: TomlDate) => d.toISOString()))]),
  v.regex(/^\d{4}-\d{2}-\d{2}$/, "a date YYYY-MM-DD"),
);

const CapabilitiesSchema = v.object({
  exec: v.optional(v.boolean(), false),
  store: v.optional(v.boolean(), false),
  metadata: v.optional(v.boolean(), false),
  filesystem: v.optional(v.picklist(["none", "project", "plugin"]), "none"),
  network: v.optional(v.boolean(), false),
  // Canonical entries only: a hand-edited registry cannot widen what fledge.http reaches past what the manifest syntax allows.
  hosts: v.optional(v.array(v.pipe(v.string(), v.check((s) => { const e = parseHostEntry(s); return typeof e !== "string" && formatHostEntry(e) === s; }, "a canonical host or host:port")))),
});

const ConfinementSchema = v.object({
  unconfined: v.optional(v.boolean(), false),
  read: v.optional(v.array(v.string()), []),
  write: v.optional(v.array(v.string()), []),
  env: v.optional(v.array(v.string()), []),
  resolved_read: v.optional(v.array(v.string())),
  resolved_write: v.optional(v.array(v.string())),
  credential_env: v.optional(v.array(v.string())),
});

const EntrySchema = v.looseObject({
  name: PluginName,
  source: v.pipe(v.string(), v.minLength(1)),
  version: v.string(),
  installed: DateText,
  commands: v.optional(v.array(SafeName), []),
  pinned_ref: v.optional(v.pipe(v.string(), v.minLength(1))),
  runtime: v.optional(v.picklist(["wasm", "native"]), "native"),
  capabilities: v.optional(CapabilitiesSchema),
  commit: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{7,64}$/, "a hex commit SHA"))),
  trust_tier: v.optional(v.picklist(TRUST_TIERS)),
  kind: v.optional(v.picklist(INSTALL_KINDS)),
  integrity: v.optional(v.record(v.string(), v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "a lowercase sha256 hex digest")))),
  confinement: v.optional(ConfinementSchema),
});

const KNOWN_KEYS = new Set(Object.keys(EntrySchema.entries));

const EXPECTED: Record<string, string> = {
  name: "a non-empty plugin name without /, \\ or .., and not one fledge reserves for its own files (bin, cache, .staging-*, ...)",
  source: "a non-empty string",
  version: "a string",
  installed: "a date string \"YYYY-MM-DD\"",
  commands: "an array of command names",
  pinned_ref: "a non-empty string",
  runtime: "\"wasm\" or \"native\"",
  capabilities: "a table",
  "capabilities.exec": "true or false",
  "capabilities.store": "true or false",
  "capabilities.metadata": "true or false",
  "capabilities.network": "true or false",
  "capabilities.hosts": "an array of canonical \"host\" or \"host:port\" strings",
  "capabilities.filesystem": "\"none\", \"project\" or \"plugin\"",
  commit: "a hex commit SHA",
  trust_tier: "one of \"local\", \"official\", \"team\", \"unverified\"",
  kind: "one of \"linked\", \"copied\", \"downloaded\"",
  integrity: "a table of binary path = \"<sha256 hex>\"",
  "integrity.*": "a lowercase sha256 hex digest (64 characters)",
  confinement: "a table (unconfined, read, write, env)",
  "confinement.unconfined": "true or false",
  "confinement.read": "an array of paths",
  "confinement.write": "an array of paths",
  "confinement.env": "an array of variable names",
  "confinement.resolved_read": "an array of paths",
  "confinement.resolved_write": "an array of paths",
  "confinement.credential_env": "an array of variable names",
};

function corrupt(file: string, message: string, details: Record<string, unknown>): FledgeError {
  return new FledgeError(`Plugin registry ${file} is invalid: ${message}`, {
    code: CODE,
    hint: `Fix ${file} by hand (or move it aside to start over). fledge never overwrites a corrupt registry.`,
    details: { file, ...details },
  });
}

function normalizeEntry(raw: v.InferOutput<typeof EntrySchema>): RegistryEntry {
  const caps: Capabilities = raw.capabilities ? { ...raw.capabilities } : { ...NO_CAPABILITIES };
  if (caps.hosts !== undefined && caps.hosts.length === 0) delete caps.hosts;
  const entry: RegistryEntry = {
    name: raw.name,
    source: raw.source,
    version: raw.version,
    installed: raw.installed,
    commands: [...raw.commands],
    runtime: raw.runtime,
    capabilities: caps,
  };
  if (raw.pinned_ref !== undefined) entry.pinned_ref = raw.pinned_ref;
  if (raw.commit !== undefined) entry.commit = raw.commit;
  if (raw.trust_tier !== undefined) entry.trust_tier = raw.trust_tier;
  if (raw.kind !== undefined) entry.kind = raw.kind;
  if (raw.integrity !== undefined) entry.integrity = { ...raw.integrity };
  if (raw.confinement !== undefined) entry.confinement = copyConfinement(raw.confinement);
  const extra: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(raw)) if (!KNOWN_KEYS.has(k)) extra[k] = val;
  if (Object.keys(extra).length > 0) entry.extra = extra;
  return entry;
}

/** Parse registry text. `file` is only used in messages. Throws a FledgeError (code `registry_corrupt`) on any problem. */
export function parseRegistry(text: string, file: string): Registry {
  let doc: Record<string, unknown>;
  try {
    doc = parseTomlText(text, file, CODE, "Plugin registry");
  } catch (e) {
    if (e instanceof FledgeError) {
      throw new FledgeError(e.message, {
        cause: e,
        code: CODE,
        hint: `Fix the syntax at ${file}:${String((e.details as { line?: number }).line)}:${String((e.details as { column?: number }).column)} by hand (or move ${file} aside to start over). fledge never overwrites a corrupt registry.`,
        details: e.details,
      });
    }
    throw e;
  }
  const list = doc.plugins;
  if (list === undefined) return { plugins: [] };
  if (!Array.isArray(list)) {
    throw corrupt(file, `\`plugins\` must be an array of [[plugins]] tables, got ${describeValue(list)}.`, { key: "plugins" });
  }
  const plugins: RegistryEntry[] = [];
  const seen = new Map<string, number>();
  list.forEach((rawEntry: unknown, i) => {
    const n = i + 1;
    const label =
      rawEntry && typeof rawEntry === "object" && typeof (rawEntry as { name?: unknown }).name === "string"
        ? `entry #${n} (name = ${JSON.stringify((rawEntry as { name: string }).name)})`
        : `entry #${n}`;
    const result = v.safeParse(EntrySchema, rawEntry);
    if (!result.success) {
      const issue = result.issues[0];
      const at = issue ? issuePath(issue) : "";
      if (!at) throw corrupt(file, `${label} must be a table.`, { entry: n });
      const key = at.startsWith("integrity.") ? "integrity.*" : at.replace(/\[\d+\]$/, "");
      const got = issue && issue.input !== undefined ? `got ${describeValue(issue.input)}` : "it is missing";
      throw corrupt(file, `${label}: \`${at}\` must be ${EXPECTED[key] ?? "a valid value"}, ${got}.`, { entry: n, key: at });
    }
    const entry = normalizeEntry(result.output);
    const prev = seen.get(entry.name);
    if (prev !== undefined) {
      throw corrupt(file, `entries #${prev} and #${n} are both named ${JSON.stringify(entry.name)}.`, { entry: n, key: "name" });
    }
    seen.set(entry.name, n);
    plugins.push(entry);
  });
  return { plugins };
}

function entryToToml(e: RegistryEntry): Record<string, unknown> {
  // Insertion order is the file's key order: scalars first, then the sub-tables.
  const out: Record<string, unknown> = {
    name: e.name,
    source: e.source,
    version: e.version,
    installed: e.installed,
    commands: [...e.commands],
  };
  if (e.pinned_ref !== undefined) out.pinned_ref = e.pinned_ref;
  out.runtime = e.runtime;
  if (e.commit !== undefined) out.commit = e.commit;
  if (e.trust_tier !== undefined) out.trust_tier = e.trust_tier;
  if (e.kind !== undefined) out.kind = e.kind;
  for (const [k, val] of Object.entries(e.extra ?? {})) if (!KNOWN_KEYS.has(k)) out[k] = val;
  const c = e.capabilities;
  out.capabilities = { exec: c.exec, store: c.store, metadata: c.metadata, filesystem: c.filesystem, network: c.network, ...(c.hosts && c.hosts.length > 0 ? { hosts: [...c.hosts] } : {}) };
  if (e.integrity !== undefined) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(e.integrity).sort()) sorted[k] = e.integrity[k] as string;
    out.integrity = sorted;
  }
  if (e.confinement !== undefined) {
    out.confinement = copyConfinement(e.confinement);
  }
  return out;
}

/** Render a registry as TOML with a header and a stable key order. */
export function serializeRegistry(reg: Registry): string {
  if (reg.plugins.length === 0) return `${REGISTRY_HEADER}plugins = []\n`;
  return REGISTRY_HEADER + stringify({ plugins: reg.plugins.map(entryToToml) });
}

export function emptyRegistry(): Registry {
  return { plugins: [] };
}

/** Read `plugins.toml`; a missing file is an empty registry. */
export function readRegistry(env: NodeJS.ProcessEnv = process.env): Registry {
  const file = fledgePaths(env).registryFile;
  const text = readTextIfExists(file);
  return text === undefined ? emptyRegistry() : parseRegistry(text, file);
}

/**
 * Locked read-modify-write. The mutator may edit `reg` in place (return nothing) or
 * return a new registry. The result is validated by parsing its own serialization
 * before anything touches the disk, so fledge can never write a registry it could not
 * read back. Returns the registry as written. The lock is held while the mutator runs,
 * so keep it quick: fetch, build and prompt before calling, not inside.
 */
export async function updateRegistry(
  mutator: (reg: Registry) => Registry | void | Promise<Registry | void>,
  env: NodeJS.ProcessEnv = process.env,
  opts: LockOptions = {},
): Promise<Registry> {
  const paths = fledgePaths(env);
  return withLock(
    paths.lockFile,
    async () => {
      const before = readTextIfExists(paths.registryFile);
      const reg = before === undefined ? emptyRegistry() : parseRegistry(before, paths.registryFile);
      const next = (await mutator(reg)) ?? reg;
      const text = serializeRegistry(next);
      let checked: Registry;
      try {
        checked = parseRegistry(text, paths.registryFile);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new FledgeError(`Refusing to write an invalid plugin registry (the file was left unchanged): ${msg}`, {
          code: "registry_invalid_update",
          hint: "This is a bug in fledge; please report it.",
        });
      }
      if (text !== before) await atomicWrite(paths.registryFile, text);
      return checked;
    },
    opts,
  );
}

export function getEntry(reg: Registry, name: string): RegistryEntry | undefined {
  return reg.plugins.find((p) => p.name === name);
}

/** The installed plugin that provides `fledge <command>`, if any. */
export function findCommandOwner(reg: Registry, command: string): RegistryEntry | undefined {
  return reg.plugins.find((p) => p.commands.includes(command));
}

/** Today's local date as the registry's `installed` value (YYYY-MM-DD). */
export function installedDate(date: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}`;
}

/** A copy of a confinement grant, with where its paths led at consent when recorded. */
function copyConfinement(k: GrantedConfinement): GrantedConfinement {
  const out: GrantedConfinement = { unconfined: k.unconfined, read: [...k.read], write: [...k.write], env: [...k.env] };
  if (k.resolved_read !== undefined) out.resolved_read = [...k.resolved_read];
  if (k.resolved_write !== undefined) out.resolved_write = [...k.resolved_write];
  if (k.credential_env !== undefined) out.credential_env = [...k.credential_env];
  return out;
}
