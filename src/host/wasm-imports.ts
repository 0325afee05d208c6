/**
 * The `fledge` wasm import module, byte-compatible with the
 * original so existing plugins run unmodified:
 *
 *   send(ptr, len)              one outbound JSON message
 *   recv(ptr, max_len) -> i32   copy pending inbound bytes (first `init`); a remainder
 *                               longer than max_len stays pending for the next call
 *   exit(code)                  end the run with `code`
 *   exec(ptr, len) -> i32       [exec]     {command, cwd?, timeout?} → {code, stdout, stderr}
 *   store_set(ptr, len)         [store]    {key, value}
 *   store_get(ptr, len) -> i32  [store]    raw UTF-8 key bytes → JSON value or null
 *   metadata(ptr, len) -> i32   [metadata] JSON array of keys → JSON object
 *
 * Added beside them (fledge only; the original has no way to reach the network):
 *
 *   http(ptr, len) -> i32       [network]  {method?, url, headers?, body?|body_base64?, timeout?}
 *                               → {status, headers, body|body_base64, url} or {error, refused}
 *                               only to the hosts in [capabilities] hosts (./http-policy.ts)
 *
 * The request imports replace the single pending slot with their JSON result and
 * return its length. Requests sent through `send` (load, exec, metadata, prompts)
 * answer with a `{type:"response", id, value}` message in the pending slot, so the
 * interactive messages the original dropped work here.
 *
 * Bad input from the guest (negative or out-of-bounds pointers, oversized lengths,
 * invalid UTF-8, malformed request JSON) ends the run with a {@link FledgeImportError}
 * naming the import, e.g. `exec: malformed JSON: ...`: never a crash of fledge. A
 * `send` whose message is not a valid fledge-v1 message is warned about and skipped,
 * exactly as a malformed line from a native plugin is.
 */
import type { Capabilities } from "../manifest/types.ts";
import { FledgeError } from "../core/index.ts";
import { createGate, deadlineBudget, WasiExit, type Gate } from "../wasi/index.ts";
import { EXEC_LIMITS } from "./exec.ts";
import { CAPABILITY_IMPORTS, type GatedCapability } from "./capabilities.ts";
import type { Reply } from "./dispatcher.ts";
import { jsonShapeProblem, responseMessage, parseMessage, type InitMessage, type PluginMessage } from "./messages.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { HTTP_LIMITS, type HttpOutcome, type HttpRequest } from "./http-client.ts";
import { checkMethod, checkRequestHeaders, HttpRefused } from "./http-policy.ts";
import { httpRequestSync } from "./http-sync.ts";

export const FLEDGE_MODULE = "fledge";

/** Linked for every plugin. */
export const ALWAYS_LINKED = ["send", "recv", "exit"] as const;

// Which capability each optional import needs: one table with the message gates (capabilities.ts).
export { CAPABILITY_IMPORTS };

export type FledgeImportName = (typeof ALWAYS_LINKED)[number] | keyof typeof CAPABILITY_IMPORTS;

/** The largest message a guest may hand the host in one call. */
export const MAX_GUEST_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * The largest request each import reads from guest memory, checked before anything
 * is copied or parsed: a request can only be as big as what it may ask for (a store
 * value is at most 64 KiB, a store key 256 bytes, a metadata request 32 names).
 */
export const IMPORT_MAX_BYTES: Readonly<Record<string, number>> = Object.freeze({
  send: MAX_GUEST_MESSAGE_BYTES,
  exec: 1024 * 1024,
  store_set: 1024 * 1024,
  store_get: 4 * 1024,
  metadata: 64 * 1024,
  http: 12 * 1024 * 1024,
});

/** Distinct keys one `metadata` call may ask for. */
export const MAX_METADATA_KEYS = 32;

/** A guest misused the fledge ABI; ends the run. The message starts with the import's name. */
export class FledgeImportError extends FledgeError {
  constructor(
    readonly importName: string,
    problem: string,
  ) {
    super(`${importName}: ${problem}`, { code: "plugin_abi_error" });
    this.name = "FledgeImportError";
  }
}

/** THE linking decision: the `fledge` functions a plugin with these grants gets. */
export function fledgeImportsFor(capabilities: Capabilities): Set<FledgeImportName> {
  const names = new Set<FledgeImportName>(ALWAYS_LINKED);
  for (const [name, cap] of Object.entries(CAPABILITY_IMPORTS) as [keyof typeof CAPABILITY_IMPORTS, GatedCapability][]) {
    if (capabilities[cap] === true) names.add(name);
  }
  return names;
}

/**
 * Refuse, before anything runs, a module that imports a `fledge` function its grants
 * do not link (or one that does not exist), naming what to add to `[capabilities]`.
 */
export function checkModuleImports(moduleImports: readonly WebAssembly.ModuleImportDescriptor[], capabilities: Capabilities): void {
  const linked = fledgeImportsFor(capabilities);
  const missing = new Set<GatedCapability>();
  const unknown: string[] = [];
  for (const imp of moduleImports) {
    if (imp.module !== FLEDGE_MODULE) continue;
    const name = imp.name as FledgeImportName;
    if (linked.has(name)) {
      if (imp.kind !== "function") unknown.push(`${renderUntrusted(imp.name)} (imported as a ${imp.kind})`);
      continue;
    }
    const cap = Object.prototype.hasOwnProperty.call(CAPABILITY_IMPORTS, imp.name) ? (CAPABILITY_IMPORTS as Record<string, GatedCapability>)[imp.name] : undefined;
    if (cap) missing.add(cap);
    else unknown.push(renderUntrusted(imp.name));
  }
  if (missing.size > 0) {
    const caps = [...missing].sort();
    throw new FledgeError(`WASM plugin imports functions that require capabilities not granted: ${caps.join(", ")}`, {
      code: "capability_not_granted",
      hint: `Add ${caps.map((c) => `\`${c} = true\``).join(", ")} to [capabilities] in plugin.toml and reinstall (you will be asked to approve them).`,
      details: { capabilities: caps },
    });
  }
  if (unknown.length > 0) {
    throw new FledgeError(`WASM plugin imports unknown fledge functions: ${unknown.join(", ")}`, {
      code: "wasm_link",
      hint: `The fledge module provides: ${[...ALWAYS_LINKED, ...Object.keys(CAPABILITY_IMPORTS)].join(", ")}.`,
    });
  }
}

export interface FledgeImportsOptions {
  /** The guest's exported memory; undefined until instantiated. */
  getMemory: () => WebAssembly.Memory | undefined;
  /** GRANTED capabilities: decide which functions are linked. */
  capabilities: Capabilities;
  /** Handle one message synchronously (the runner passes `m => dispatchMessageSync(m, ctx)`). */
  dispatch: (message: PluginMessage) => Reply | undefined;
  /** The first pending inbound message. */
  init: InitMessage;
  /** Report a skipped `send` message (malformed, unknown type). */
  warn: (message: string) => void;
  /** The run's host-call gate: bytes handled are charged to it and exec is bounded by its deadline. */
  gate?: Gate;
  /** Sends one checked HTTP request (tests may replace it); default: the blocking worker client. */
  http?: (request: HttpRequest, hosts: readonly string[], limits: typeof HTTP_LIMITS) => HttpOutcome;
}

/** A request refused by the shape check before decoding (internal to this file). */
class ShapeRefused extends Error {}

export type HostFunction = (...args: number[]) => number | undefined;

export interface FledgeImports {
  /** The `fledge` import module: only the linked names are present. */
  imports: Record<string, HostFunction>;
  /** Bytes not yet taken by `recv`. */
  pendingBytes(): number;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function createFledgeImports(opts: FledgeImportsOptions): FledgeImports {
  const gate = opts.gate ?? createGate(deadlineBudget());
  let pending: Uint8Array = utf8.encode(JSON.stringify(opts.init));

  function memoryBytes(name: string): Uint8Array {
    const memory = opts.getMemory();
    if (!memory) throw new FledgeImportError(name, "plugin has no memory export");
    return new Uint8Array(memory.buffer);
  }

  /** Bounds-check a guest range; i32 arguments arrive signed, negative means bogus. */
  function range(name: string, ptr: number, len: number, limit: number): { mem: Uint8Array; ptr: number; len: number } {
    if (!Number.isInteger(ptr) || !Number.isInteger(len) || ptr < 0 || len < 0) {
      throw new FledgeImportError(name, `negative pointer or length from guest (ptr=${ptr}, len=${len})`);
    }
    if (len > limit) throw new FledgeImportError(name, `length ${len} exceeds the ${limit}-byte limit`);
    const mem = memoryBytes(name);
    if (ptr + len > mem.length) {
      throw new FledgeImportError(name, `out-of-bounds guest memory access (ptr=${ptr}, len=${len}, memory=${mem.length} bytes)`);
    }
    return { mem, ptr, len };
  }

  /**
   * The guest's bytes as text. Decoded straight from guest memory (the guest is
   * suspended in this call, so the bytes cannot change underneath): no host copy.
   * With `json`, the shape check runs on the bytes first, so a message refused for
   * its nesting or size is never even decoded.
   */
  function readText(name: string, ptr: number, len: number, json = false): string {
    const r = range(name, ptr, len, IMPORT_MAX_BYTES[name] ?? MAX_GUEST_MESSAGE_BYTES);
    const bytes = r.mem.subarray(r.ptr, r.ptr + r.len);
    if (json) {
      const shape = jsonShapeProblem(bytes);
      if (shape) throw new ShapeRefused(shape);
    }
    gate.bytes(r.len * 3, true); // the decoded string and what parsing it builds
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new FledgeImportError(name, "invalid UTF-8");
    }
  }

  function readJson(name: string, ptr: number, len: number): unknown {
    let text: string;
    try {
      text = readText(name, ptr, len, true);
    } catch (e) {
      if (e instanceof ShapeRefused) throw new FledgeImportError(name, e.message);
      throw e;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new FledgeImportError(name, `malformed JSON: ${(e as Error).message}`);
    }
  }

  /** Replace the pending slot (an unread remainder is discarded) and return its length. */
  function setPending(value: unknown): number {
    pending = utf8.encode(JSON.stringify(value ?? null));
    gate.bytes(pending.length * 3, true);
    return pending.length;
  }

  function request(name: string, message: PluginMessage): unknown {
    const reply = opts.dispatch(message);
    if (!reply) throw new FledgeImportError(name, "the host produced no answer");
    return reply.value;
  }

  const all: Record<FledgeImportName, HostFunction> = {
    send(ptr, len) {
      let text: string;
      try {
        text = readText("send", ptr ?? -1, len ?? -1, true);
      } catch (e) {
        if (!(e instanceof ShapeRefused)) throw e;
        opts.warn(`send: ${e.message} (message skipped)`);
        return undefined;
      }
      const parsed = parseMessage(text);
      if (!parsed.ok) {
        opts.warn(`send: ${parsed.problem} (message skipped)`);
        return undefined;
      }
      const reply = opts.dispatch(parsed.message);
      if (reply) pending = utf8.encode(JSON.stringify(responseMessage(reply.id, reply.value)));
      return undefined;
    },
    recv(ptr, maxLen) {
      const p = ptr ?? -1;
      const max = maxLen ?? -1;
      if (!Number.isInteger(p) || !Number.isInteger(max) || p < 0 || max < 0) {
        throw new FledgeImportError("recv", `negative pointer or length from guest (ptr=${p}, max_len=${max})`);
      }
      const n = Math.min(pending.length, max);
      if (n === 0) return 0;
      // Only the bytes actually written must fit: max_len is the guest's buffer size.
      const r = range("recv", p, n, Number.MAX_SAFE_INTEGER);
      gate.bytes(n);
      r.mem.set(pending.subarray(0, n), r.ptr);
      pending = pending.slice(n);
      return n;
    },
    exit(code) {
      throw new WasiExit(code ?? 0);
    },
    exec(ptr, len) {
      const req = readJson("exec", ptr ?? -1, len ?? -1);
      if (typeof req !== "object" || req === null || Array.isArray(req)) {
        throw new FledgeImportError("exec", "request must be a JSON object {command, cwd?, timeout?}");
      }
      const { command, cwd, timeout } = req as Record<string, unknown>;
      if (typeof command !== "string") throw new FledgeImportError("exec", "`command` must be a string");
      if (cwd !== undefined && typeof cwd !== "string") throw new FledgeImportError("exec", "`cwd` must be a string");
      if (timeout !== undefined && typeof timeout !== "number") throw new FledgeImportError("exec", "`timeout` must be a number of seconds");
      return setPending(request("exec", { type: "exec", id: 0, command, cwd, timeout: boundedExecTimeout(timeout, gate) }));
    },
    store_set(ptr, len) {
      const req = readJson("store_set", ptr ?? -1, len ?? -1);
      if (typeof req !== "object" || req === null || Array.isArray(req)) {
        throw new FledgeImportError("store_set", "request must be a JSON object {key, value}");
      }
      const { key, value } = req as Record<string, unknown>;
      if (typeof key !== "string") throw new FledgeImportError("store_set", "`key` must be a string");
      if (value === undefined) throw new FledgeImportError("store_set", "`value` is required");
      opts.dispatch({ type: "store", key, value });
      return undefined;
    },
    store_get(ptr, len) {
      const key = readText("store_get", ptr ?? -1, len ?? -1);
      return setPending(request("store_get", { type: "load", id: 0, key }));
    },
    metadata(ptr, len) {
      const req = readJson("metadata", ptr ?? -1, len ?? -1);
      // As the original: anything but an array asks for nothing; non-strings are ignored.
      // Deduplicated (each key is computed once per call) and capped: 200,000 "git_log" is one git run.
      const keys = [...new Set(Array.isArray(req) ? req.filter((k): k is string => typeof k === "string") : [])];
      if (keys.length > MAX_METADATA_KEYS) throw new FledgeImportError("metadata", `${keys.length} distinct keys requested; at most ${MAX_METADATA_KEYS} per call`);
      gate.work(keys.length * 1_000_000);
      return setPending(request("metadata", { type: "metadata", id: 0, keys }));
    },
    http(ptr, len) {
      const req = readJson("http", ptr ?? -1, len ?? -1);
      if (typeof req !== "object" || req === null || Array.isArray(req)) {
        throw new FledgeImportError("http", "request must be a JSON object {method?, url, headers?, body?, timeout?}");
      }
      let prepared: HttpRequest;
      try {
        prepared = httpRequestFrom(req as Record<string, unknown>);
      } catch (e) {
        if (e instanceof HttpRefused) return setPending({ error: `refused: ${e.message}`, refused: true });
        throw e;
      }
      const limits = { ...HTTP_LIMITS, timeoutMs: httpTimeoutMs((req as Record<string, unknown>).timeout, gate) };
      gate.bytes(prepared.body.length + prepared.url.length);
      const outcome = (opts.http ?? httpRequestSync)(prepared, opts.capabilities.hosts ?? [], limits);
      // A wait that ran into the run's deadline ends the run, like every other host call.
      if (!outcome.ok && gate.timeLeft() <= 0) gate.deadline();
      if (!outcome.ok) return setPending({ error: outcome.error, refused: outcome.refused });
      gate.bytes(outcome.body.length);
      let text: string | undefined;
      try {
        text = strictUtf8.decode(outcome.body);
      } catch {
        text = undefined;
      }
      const body = text !== undefined ? { body: text } : { body_base64: Buffer.from(outcome.body).toString("base64") };
      return setPending({ status: outcome.status, headers: outcome.headers, ...body, url: outcome.url });
    },
  };

  const imports: Record<string, HostFunction> = {};
  for (const name of fledgeImportsFor(opts.capabilities)) imports[name] = all[name];
  return { imports, pendingBytes: () => pending.length };
}

/**
 * An exec never outlives the run: its timeout is the one asked for (or exec's
 * default), cut to the seconds left before the run's deadline. With no time left the
 * run stops at once.
 */
export function boundedExecTimeout(timeout: number | undefined, gate: Gate): number {
  const left = gate.timeLeft();
  if (left <= 0) gate.deadline();
  const asked = timeout === undefined || !Number.isFinite(timeout) || timeout <= 0 ? EXEC_LIMITS.defaultTimeoutSeconds : timeout;
  return Math.max(0.001, Math.min(asked, left / 1000));
}

/** Largest request body a plugin may send, decoded. */
export const MAX_HTTP_REQUEST_BODY = 8 * 1024 * 1024;

/** The guest's request object, checked (url is checked against the hosts later, hop by hop). */
function httpRequestFrom(r: Record<string, unknown>): HttpRequest {
  const { url, body, body_base64 } = r;
  if (typeof url !== "string") throw new FledgeImportError("http", "`url` must be a string");
  const method = checkMethod(r.method);
  const headers = checkRequestHeaders(r.headers);
  let bytes: Uint8Array = new Uint8Array(0);
  if (body !== undefined && body !== null) {
    if (typeof body !== "string") throw new FledgeImportError("http", "`body` must be a string (use body_base64 for bytes)");
    bytes = utf8.encode(body);
  } else if (body_base64 !== undefined && body_base64 !== null) {
    if (typeof body_base64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(body_base64)) throw new FledgeImportError("http", "`body_base64` must be a base64 string");
    bytes = new Uint8Array(Buffer.from(body_base64, "base64"));
  }
  if (bytes.length > MAX_HTTP_REQUEST_BODY) throw new HttpRefused(`request body is ${bytes.length} bytes; at most ${MAX_HTTP_REQUEST_BODY}`);
  return { method, url, headers, body: bytes };
}

/** An HTTP exchange never outlives the run: the asked timeout (default 30 s) cut to the time left. */
export function httpTimeoutMs(timeout: unknown, gate: Gate): number {
  const left = gate.timeLeft();
  if (left <= 0) gate.deadline();
  const asked = typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : HTTP_LIMITS.timeoutMs;
  return Math.max(1, Math.ceil(Math.min(asked, left, HTTP_LIMITS.timeoutMs * 4)));
}
