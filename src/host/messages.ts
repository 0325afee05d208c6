/**
 * The fledge-v1 wire format: one JSON object per line, tagged by
 * `type`. Plugin-to-host messages are validated with valibot so every later step can
 * trust their shape; host-to-plugin messages are plain typed builders.
 *
 * Unknown extra fields are ignored (looseObject) so newer plugins keep working; an
 * unknown `type` is a problem the caller warns about and skips.
 */
import * as v from "valibot";
import type { Capabilities, FilesystemGrant } from "../manifest/types.ts";
import type { ProjectInfo } from "./project.ts";

export const PROTOCOL = "fledge-v1";

/** Request ids are echoed back verbatim; the original used strings, numbers are tolerated. */
const Id = v.union([v.string(), v.number()]);
const Count = v.pipe(v.number(), v.finite());

export const VALIDATE_KINDS = ["non_empty", "integer", "path_exists", "url"] as const;
export type ValidateKind = (typeof VALIDATE_KINDS)[number];

const OutputSchema = v.looseObject({ type: v.literal("output"), text: v.string() });
const LogSchema = v.looseObject({ type: v.literal("log"), level: v.string(), message: v.string() });
const ProgressSchema = v.looseObject({
  type: v.literal("progress"),
  message: v.optional(v.string()),
  current: v.optional(Count),
  total: v.optional(Count),
  done: v.optional(v.boolean()),
});
const PromptSchema = v.looseObject({
  type: v.literal("prompt"),
  id: Id,
  message: v.string(),
  default: v.optional(v.string()),
  // Unknown validator names are ignored, as in the original.
  validate: v.optional(v.string()),
});
const ConfirmSchema = v.looseObject({
  type: v.literal("confirm"),
  id: Id,
  message: v.string(),
  default: v.optional(v.boolean()),
});
const SelectSchema = v.looseObject({
  type: v.literal("select"),
  id: Id,
  message: v.string(),
  options: v.array(v.string()),
  default: v.optional(v.pipe(v.number(), v.integer())),
});
const MultiSelectSchema = v.looseObject({
  type: v.literal("multi_select"),
  id: Id,
  message: v.string(),
  options: v.array(v.string()),
  defaults: v.optional(v.array(v.pipe(v.number(), v.integer()))),
});
const StoreSchema = v.looseObject({
  type: v.literal("store"),
  key: v.string(),
  value: v.pipe(
    v.unknown(),
    v.check((x) => x !== undefined, "value is required"),
  ),
});
const LoadSchema = v.looseObject({ type: v.literal("load"), id: Id, key: v.string() });
const ExecSchema = v.looseObject({
  type: v.literal("exec"),
  id: Id,
  command: v.string(),
  cwd: v.optional(v.string()),
  timeout: v.optional(Count),
});
const MetadataSchema = v.looseObject({ type: v.literal("metadata"), id: Id, keys: v.array(v.string()) });

export const PluginMessageSchema = v.variant("type", [
  OutputSchema,
  LogSchema,
  ProgressSchema,
  PromptSchema,
  ConfirmSchema,
  SelectSchema,
  MultiSelectSchema,
  StoreSchema,
  LoadSchema,
  ExecSchema,
  MetadataSchema,
]);

export type PluginMessage = v.InferOutput<typeof PluginMessageSchema>;
export type PluginMessageType = PluginMessage["type"];
export type MessageOf<T extends PluginMessageType> = Extract<PluginMessage, { type: T }>;
export type RequestId = string | number;

export const PLUGIN_MESSAGE_TYPES: readonly PluginMessageType[] = [
  "output",
  "log",
  "progress",
  "prompt",
  "confirm",
  "select",
  "multi_select",
  "store",
  "load",
  "exec",
  "metadata",
];

export type ParseResult = { ok: true; message: PluginMessage } | { ok: false; problem: string };

/**
 * Parse one line (or one wasm `send` payload) into a typed plugin message. Never
 * throws: malformed JSON, a non-object, a missing or unknown `type` and invalid
 * fields all come back as a one-line `problem` for the caller to warn about.
 */
export function parseMessage(line: string): ParseResult {
  const shape = jsonShapeProblem(line);
  if (shape) return { ok: false, problem: shape };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, problem: `malformed JSON: ${(e as Error).message}` };
  }
  return validateMessage(raw);
}

/** Bounds on one plugin message, checked on its text BEFORE it is parsed (see {@link jsonShapeProblem}). */
export const MESSAGE_LIMITS = Object.freeze({
  /** Nesting of arrays and objects. */
  maxDepth: 64,
  /** Arrays, objects and elements together (counted as brackets plus commas). */
  maxValues: 100_000,
});

/**
 * THE pre-parse check for guest JSON: a linear scan of the text (strings skipped,
 * escapes honoured) that refuses nesting deeper than MESSAGE_LIMITS.maxDepth or more
 * than maxValues values, so JSON.parse never builds millions of objects or recurses
 * millions deep for a message that would be refused anyway. Returns the problem
 * naming the limit, or null.
 */
export function jsonShapeProblem(text: string | Uint8Array): string | null {
  // Every character the scan looks at is ASCII, so raw UTF-8 bytes scan the same as text.
  const at = typeof text === "string" ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let values = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MESSAGE_LIMITS.maxDepth) return `message nests deeper than ${MESSAGE_LIMITS.maxDepth} levels`;
      if (++values > MESSAGE_LIMITS.maxValues) return `message has more than ${MESSAGE_LIMITS.maxValues} values`;
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++values > MESSAGE_LIMITS.maxValues) return `message has more than ${MESSAGE_LIMITS.maxValues} values`;
  }
  return null;
}

/** Validate an already-decoded JSON value as a plugin message. */
export function validateMessage(raw: unknown): ParseResult {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, problem: "message is not a JSON object" };
  }
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== "string") return { ok: false, problem: "message has no string `type`" };
  if (!(PLUGIN_MESSAGE_TYPES as readonly string[]).includes(type)) {
    return { ok: false, problem: `unknown message type ${JSON.stringify(type)}` };
  }
  const result = v.safeParse(PluginMessageSchema, raw);
  if (result.success) return { ok: true, message: result.output };
  const issues = result.issues.map((i) => {
    const path = i.path?.map((p) => String(p.key)).join(".");
    return path ? `${path}: ${i.message}` : i.message;
  });
  return { ok: false, problem: `invalid ${type} message: ${issues.join("; ")}` };
}

// ---------------------------------------------------------------- host -> plugin

export interface InitCapabilities {
  exec: boolean;
  store: boolean;
  metadata: boolean;
  filesystem: FilesystemGrant;
  network: boolean;
}

export interface InitMessage {
  type: "init";
  protocol: typeof PROTOCOL;
  args: string[];
  project: ProjectInfo | null;
  plugin: { name: string; version: string; dir: string };
  fledge: { version: string };
  capabilities: InitCapabilities;
}

export interface ResponseMessage {
  type: "response";
  id: RequestId;
  value: unknown;
}

export type CancelReason = "user_interrupt" | "timeout";

export interface CancelMessage {
  type: "cancel";
  reason: CancelReason;
}

export type HostMessage = InitMessage | ResponseMessage | CancelMessage;

export interface BuildInitOptions {
  args: readonly string[];
  project: ProjectInfo | null;
  plugin: { name: string; version: string; dir: string };
  fledgeVersion: string;
  /** The GRANTED capabilities (from the registry), never the manifest's request. */
  capabilities: Capabilities;
}

/** The first message every fledge-v1 plugin receives (field order as the original's, which plugins may rely on). */
export function buildInit(opts: BuildInitOptions): InitMessage {
  return {
    type: "init",
    protocol: PROTOCOL,
    args: [...opts.args],
    project: opts.project,
    plugin: { name: opts.plugin.name, version: opts.plugin.version, dir: opts.plugin.dir },
    fledge: { version: opts.fledgeVersion },
    capabilities: {
      exec: opts.capabilities.exec,
      store: opts.capabilities.store,
      metadata: opts.capabilities.metadata,
      filesystem: opts.capabilities.filesystem,
      network: opts.capabilities.network,
    },
  };
}

export function responseMessage(id: RequestId, value: unknown): ResponseMessage {
  return { type: "response", id, value };
}

export function cancelMessage(reason: CancelReason): CancelMessage {
  return { type: "cancel", reason };
}

/** One NDJSON line. JSON.stringify escapes U+2028/9 and control characters, so a line never splits. */
export function encodeLine(message: HostMessage): string {
  return `${JSON.stringify(message)}\n`;
}
