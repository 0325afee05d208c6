/**
 * The synchronous worker-call plumbing behind the blocking wasm imports (exec-sync.ts,
 * http-sync.ts). A guest calling such an import is suspended in a synchronous host
 * call, so the event loop cannot run the async work. A worker does it while this
 * thread sleeps in Atomics.wait; the result comes back through a MessagePort read
 * synchronously with receiveMessageOnPort.
 *
 * Every wait is bounded (start-up handshake, then the caller's limit), so a worker
 * that cannot start or dies makes the call fail with a message, never hang.
 *
 * Build note: `bun build --compile` must get each worker file as an extra entrypoint
 * (scripts/build.ts); inside the binary it then lives at `<bunfs root>/host/<file>`
 * (the bundle's import.meta.url is the binary itself, at the root).
 */
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";

const STARTUP_TIMEOUT_MS = 5_000;

/** What every worker message carries: [0] is the done flag the caller waits on. */
export interface SyncWorkerMessage {
  flag: Int32Array;
  port?: MessagePort;
}

export interface SyncWorkerReply {
  /** Atomics.wait's answer: "timed-out" when the limit passed before the worker woke us. */
  waited: "ok" | "not-equal" | "timed-out";
  /** The message the worker posted, if any arrived. */
  received: { message: unknown } | undefined;
}

function workerUrl(file: string): URL {
  const compiled = import.meta.url.includes("/$bunfs/") || import.meta.url.includes("/~BUN/");
  return compiled ? new URL(`./host/${file}`, import.meta.url) : new URL(`./${file}`, import.meta.url);
}

/**
 * A lazily started worker (`file` next to this module). The returned function starts
 * it once, waits (bounded) until it answers the handshake (a message with only the
 * flag), and gives undefined if it cannot start; a worker that errors is started anew
 * next time.
 */
export function lazySyncWorker(file: string): () => Worker | undefined {
  let worker: Worker | undefined;
  return () => {
    if (worker) return worker;
    let w: Worker;
    try {
      w = new Worker(workerUrl(file));
    } catch {
      return undefined;
    }
    w.unref(); // never keep fledge alive just for this helper
    w.on("error", () => {
      if (worker === w) worker = undefined;
    });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const hello: SyncWorkerMessage = { flag };
    w.postMessage(hello);
    if (Atomics.wait(flag, 0, 0, STARTUP_TIMEOUT_MS) === "timed-out") {
      void w.terminate();
      return undefined;
    }
    worker = w;
    return w;
  };
}

/**
 * Post `body` (plus a fresh flag and reply port) to `w` and block for at most
 * `waitMs` until it answers.
 */
export function callWorkerSync<B extends object>(w: Worker, body: B, waitMs: number): SyncWorkerReply {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const msg: B & SyncWorkerMessage = { ...body, flag, port: port2 as unknown as MessagePort };
  w.postMessage(msg, [port2]);
  const waited = Atomics.wait(flag, 0, 0, waitMs);
  const received = receiveMessageOnPort(port1);
  port1.close();
  return { waited, received };
}
