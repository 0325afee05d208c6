/**
 * THE capability table: every plugin request fledge gates, with the capability it needs,
 * the `fledge` wasm import that carries it (the JSON message type carries it for native
 * plugins and through `send`), and what a plugin without the grant gets back. The
 * message handler (dispatcher.ts) and the import linker (wasm-imports.ts) both read it,
 * so a request cannot be gated in one front end and open in the other.
 */
import type { Capabilities } from "../manifest/types.ts";
import type { ExecResult } from "./exec.ts";

/** The capabilities that gate a request (the filesystem grant shapes the sandbox instead). */
export type GatedCapability = "exec" | "store" | "metadata" | "network";

export const NOT_GRANTED_EXEC: Readonly<ExecResult> = Object.freeze({
  code: 126,
  stdout: "",
  stderr: "exec capability not granted",
});

interface GatedRequest {
  capability: GatedCapability;
  /** The `fledge` import that makes this request from a wasm guest. */
  import: string;
  /** The reply a plugin without the grant gets; `undefined`: no reply (a one-way message, dropped). */
  denied: unknown;
  /** false: a wasm import only, with no fledge-v1 message of this name (never linked without the grant). */
  message?: false;
}

export const GATED_REQUESTS = {
  store: { capability: "store", import: "store_set", denied: undefined },
  load: { capability: "store", import: "store_get", denied: null },
  exec: { capability: "exec", import: "exec", denied: NOT_GRANTED_EXEC },
  metadata: { capability: "metadata", import: "metadata", denied: {} },
  http: { capability: "network", import: "http", denied: undefined, message: false },
} as const satisfies Record<string, GatedRequest>;

export type GatedMessageType = keyof typeof GATED_REQUESTS;
type GatedImport = (typeof GATED_REQUESTS)[GatedMessageType]["import"];

/** Which capability each optional `fledge` import needs (derived from {@link GATED_REQUESTS}). */
export const CAPABILITY_IMPORTS = Object.freeze(Object.fromEntries(Object.values(GATED_REQUESTS).map((r) => [r.import, r.capability]))) as Readonly<Record<GatedImport, GatedCapability>>;

/** The gate of a message type, or undefined when the message needs no capability. */
export function gateOf(type: string): GatedRequest | undefined {
  const gate: GatedRequest | undefined = Object.hasOwn(GATED_REQUESTS, type) ? GATED_REQUESTS[type as GatedMessageType] : undefined;
  return gate?.message === false ? undefined : gate;
}

/** Does this grant allow the request? */
export function granted(capabilities: Pick<Capabilities, GatedCapability>, gate: GatedRequest): boolean {
  return capabilities[gate.capability] === true;
}
