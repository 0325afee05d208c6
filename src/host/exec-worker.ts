/**
 * Worker side of {@link runExecSync}: runs the ordinary async exec and hands the
 * result back through the request's MessagePort, then wakes the blocked caller.
 * A compiled binary must list this file as a build entrypoint (see exec-sync.ts).
 */
import { parentPort } from "node:worker_threads";
import { runExec, type ExecContext, type ExecRequest, type ExecResult } from "./exec.ts";

export interface ExecWorkerRequest {
  /** Absent for the start-up handshake. */
  request?: ExecRequest;
  ctx?: Omit<ExecContext, "signal">;
  /** [0] done flag the caller waits on. */
  flag: Int32Array;
  port?: MessagePort;
}

function wake(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

parentPort?.on("message", (msg: ExecWorkerRequest) => {
  if (!msg.request || !msg.ctx || !msg.port) {
    wake(msg.flag); // handshake: the worker is up
    return;
  }
  const port = msg.port;
  runExec(msg.request, msg.ctx)
    .catch((e: unknown): ExecResult => ({ code: 1, stdout: "", stderr: `exec failed: ${(e as Error).message}` }))
    .then((result) => {
      port.postMessage(result);
      port.close();
      wake(msg.flag);
    });
});
