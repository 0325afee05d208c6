/**
 * The engine's validation of a large module on another thread, so it runs while the
 * main thread rewrites the module (instrumenting is synchronous). The answer is
 * waited for synchronously (Atomics.wait) before the rewritten module is used, so the
 * rule stays: nothing that does not validate is ever prepared.
 *
 * The worker is a Blob URL (a compiled binary needs no extra entry point); where
 * threads are unavailable the caller validates on its own thread.
 */

/** Below this size validating in place is cheaper than starting a thread. */
export const PARALLEL_VALIDATE_MIN_BYTES = 4 * 1024 * 1024;

const WORKER_SOURCE = `
onmessage = (ev) => {
  const { bytes, flag } = ev.data;
  let ok = 0;
  try { ok = WebAssembly.validate(bytes) ? 1 : 2; } catch { ok = 2; }
  const f = new Int32Array(flag);
  Atomics.store(f, 0, ok);
  Atomics.notify(f, 0);
};`;

/**
 * Starts validating `bytes` on a worker thread; the returned function blocks until the
 * answer is in (true: valid). Undefined when no worker can be started.
 */
export function validateInParallel(bytes: Uint8Array): (() => boolean) | undefined {
  let worker: Worker;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
  } catch {
    return undefined;
  }
  const flag = new SharedArrayBuffer(4);
  const copy = bytes.slice(); // the worker gets its own copy, transferred without a second one
  worker.postMessage({ bytes: copy, flag }, [copy.buffer]);
  return () => {
    const f = new Int32Array(flag);
    while (Atomics.load(f, 0) === 0) Atomics.wait(f, 0, 0, 1000);
    void worker.terminate();
    return Atomics.load(f, 0) === 1;
  };
}
