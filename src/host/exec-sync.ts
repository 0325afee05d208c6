/**
 * Blocking exec for the wasm imports. A guest calling `fledge.exec` is suspended in
 * a synchronous host call, so the event loop cannot run the command. A worker runs
 * the very same async {@link runExec} (concurrent pipe reads, caps, process group,
 * timeout) while this thread sleeps in Atomics.wait; the result comes back through a
 * MessagePort read synchronously with receiveMessageOnPort.
 *
 * Build note: `bun build --compile` must get `src/host/exec-worker.ts` as an extra
 * entrypoint; inside the binary it then lives at `<bunfs root>/host/exec-worker.ts`
 * (the bundle's import.meta.url is the binary itself, at the root).
 *
 * The waits are bounded (start-up handshake, then the exec timeout plus a margin), so
 * a worker that cannot start or dies makes exec fail with a message, never hang.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";
import { execTimeoutMs, type ExecContext, type ExecRequest, type ExecResult } from "./exec.ts";
import type { ExecWorkerRequest } from "./exec-worker.ts";

const STARTUP_TIMEOUT_MS = 5_000;
/** Beyond the exec's own timeout: time to kill the group and drain the pipes. */
const RESULT_MARGIN_MS = 15_000;

let worker: Worker | undefined;

function workerUrl(): URL {
  const compiled = import.meta.url.includes("/$bunfs/") || import.meta.url.includes("/~BUN/");
  return compiled ? new URL("./host/exec-worker.ts", import.meta.url) : new URL("./exec-worker.ts", import.meta.url);
}

function failed(why: string): ExecResult {
  return { code: 1, stdout: "", stderr: `exec failed: ${why}` };
}

/** Start the worker once and wait (bounded) until it answers the handshake. */
function execWorker(): Worker | undefined {
  if (worker) return worker;
  let w: Worker;
  try {
    w = new Worker(workerUrl());
  } catch {
    return undefined;
  }
  w.unref(); // never keep fledge alive just for this helper
  w.on("error", () => {
    if (worker === w) worker = undefined;
  });
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const hello: ExecWorkerRequest = { flag };
  w.postMessage(hello);
  if (Atomics.wait(flag, 0, 0, STARTUP_TIMEOUT_MS) === "timed-out") {
    void w.terminate();
    return undefined;
  }
  worker = w;
  return w;
}

/** A plain copy (process.env is not cloneable into a worker message as is). */
function envRecord(env: ExecContext["env"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? process.env)) if (v !== undefined) out[k] = v;
  return out;
}

function isExecResult(x: unknown): x is ExecResult {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.code === "number" && typeof r.stdout === "string" && typeof r.stderr === "string";
}

/** {@link runExec}, blocking. An already-aborted signal interrupts; a later abort cannot be observed while blocked. */
export function runExecSync(request: ExecRequest, ctx: ExecContext): ExecResult {
  if (ctx.signal?.aborted) return { code: 130, stdout: "", stderr: "command interrupted" };
  const w = execWorker();
  if (!w) return failed("the exec helper worker could not be started");
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const msg: ExecWorkerRequest = {
    request,
    ctx: { projectRoot: ctx.projectRoot, pluginDir: ctx.pluginDir, maxOutputBytes: ctx.maxOutputBytes, env: envRecord(ctx.env), confinement: ctx.confinement },
    flag,
    port: port2 as unknown as MessagePort,
  };
  w.postMessage(msg, [port2]);
  const waited = Atomics.wait(flag, 0, 0, execTimeoutMs(request.timeout) + RESULT_MARGIN_MS);
  const received = receiveMessageOnPort(port1);
  port1.close();
  if (waited === "timed-out" && !received) return failed("no result from the exec helper worker");
  const result: unknown = received?.message;
  return isExecResult(result) ? result : failed("no result from the exec helper worker");
}
