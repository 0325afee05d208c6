/**
 * Blocking HTTP for the `fledge.http` wasm import: the guest is suspended in a
 * synchronous host call, so a worker runs {@link httpFetch} while this thread sleeps
 * in Atomics.wait (the same arrangement as exec-sync.ts). The exchange's own time
 * limit is already cut to the run's deadline by the caller, and the wait is bounded
 * by it plus a small margin, so a slow or silent server never holds the run past its
 * deadline.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";
import type { HttpLimits, HttpOutcome, HttpRequest } from "./http-client.ts";
import type { HttpWorkerRequest } from "./http-worker.ts";

const STARTUP_TIMEOUT_MS = 5_000;
/** Beyond the exchange's own limit: time for the worker to give up and answer. */
const RESULT_MARGIN_MS = 500;

let worker: Worker | undefined;

function workerUrl(): URL {
  const compiled = import.meta.url.includes("/$bunfs/") || import.meta.url.includes("/~BUN/");
  return compiled ? new URL("./host/http-worker.ts", import.meta.url) : new URL("./http-worker.ts", import.meta.url);
}

function httpWorker(): Worker | undefined {
  if (worker) return worker;
  let w: Worker;
  try {
    w = new Worker(workerUrl());
  } catch {
    return undefined;
  }
  w.unref();
  w.on("error", () => {
    if (worker === w) worker = undefined;
  });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const hello: HttpWorkerRequest = { flag };
  w.postMessage(hello);
  if (Atomics.wait(flag, 0, 0, STARTUP_TIMEOUT_MS) === "timed-out") {
    void w.terminate();
    return undefined;
  }
  worker = w;
  return w;
}

function isOutcome(x: unknown): x is HttpOutcome {
  return typeof x === "object" && x !== null && typeof (x as { ok?: unknown }).ok === "boolean";
}

/** {@link httpFetch}, blocking for at most `limits.timeoutMs` plus a margin. */
export function httpRequestSync(request: HttpRequest, hosts: readonly string[], limits: HttpLimits): HttpOutcome {
  const w = httpWorker();
  if (!w) return { ok: false, error: "the HTTP helper worker could not be started", refused: false };
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const msg: HttpWorkerRequest = { request, hosts: [...hosts], limits, flag, port: port2 as unknown as MessagePort };
  w.postMessage(msg, [port2]);
  Atomics.wait(flag, 0, 0, limits.timeoutMs + RESULT_MARGIN_MS);
  const received = receiveMessageOnPort(port1);
  port1.close();
  const outcome: unknown = received?.message;
  return isOutcome(outcome) ? outcome : { ok: false, error: "no complete response before the time limit", refused: false };
}
