/**
 * Worker side of {@link httpRequestSync}: runs the async {@link httpFetch} and hands
 * the outcome back through the request's MessagePort, then wakes the blocked caller.
 * A compiled binary must list this file as a build entrypoint (scripts/build.ts).
 */
import { parentPort } from "node:worker_threads";
import { httpFetch, type HttpLimits, type HttpOutcome, type HttpRequest } from "./http-client.ts";

export interface HttpWorkerRequest {
  /** Absent for the start-up handshake. */
  request?: HttpRequest;
  hosts?: string[];
  limits?: HttpLimits;
  /** [0] done flag the caller waits on. */
  flag: Int32Array;
  port?: MessagePort;
}

function wake(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

parentPort?.on("message", (msg: HttpWorkerRequest) => {
  if (!msg.request || !msg.hosts || !msg.limits || !msg.port) {
    wake(msg.flag);
    return;
  }
  const port = msg.port;
  httpFetch(msg.request, msg.hosts, msg.limits)
    .catch((e: unknown): HttpOutcome => ({ ok: false, error: `request failed: ${(e as Error).message}`, refused: false }))
    .then((outcome) => {
      port.postMessage(outcome);
      port.close();
      wake(msg.flag);
    });
});
