/**
 * Blocking HTTP for the `fledge.http` wasm import: the guest is suspended in a
 * synchronous host call, so a worker runs {@link httpFetch} while this thread sleeps
 * in Atomics.wait (the plumbing shared with exec-sync.ts: sync-worker.ts). The exchange's own time
 * limit is already cut to the run's deadline by the caller, and the wait is bounded
 * by it plus a small margin, so a slow or silent server never holds the run past its
 * deadline.
 */
import type { HttpLimits, HttpOutcome, HttpRequest } from "./http-client.ts";
import type { HttpWorkerRequest } from "./http-worker.ts";
import { callWorkerSync, lazySyncWorker } from "./sync-worker.ts";

/** Beyond the exchange's own limit: time for the worker to give up and answer. */
const RESULT_MARGIN_MS = 500;

const httpWorker = lazySyncWorker("http-worker.ts");

function isOutcome(x: unknown): x is HttpOutcome {
  return typeof x === "object" && x !== null && typeof (x as { ok?: unknown }).ok === "boolean";
}

/** {@link httpFetch}, blocking for at most `limits.timeoutMs` plus a margin. */
export function httpRequestSync(request: HttpRequest, hosts: readonly string[], limits: HttpLimits): HttpOutcome {
  const w = httpWorker();
  if (!w) return { ok: false, error: "the HTTP helper worker could not be started", refused: false };
  const body: Omit<HttpWorkerRequest, "flag" | "port"> = { request, hosts: [...hosts], limits };
  const { received } = callWorkerSync(w, body, limits.timeoutMs + RESULT_MARGIN_MS);
  const outcome: unknown = received?.message;
  return isOutcome(outcome) ? outcome : { ok: false, error: "no complete response before the time limit", refused: false };
}
