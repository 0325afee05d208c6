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
 * A buffer for a module source of `size` bytes: shared memory when the source is large
 * enough to be validated on a worker, so the worker needs no copy of it (30 MB for
 * yosys), ordinary memory otherwise.
 */
export function sourceBuffer(size: number): Uint8Array {
  if (size >= PARALLEL_VALIDATE_MIN_BYTES && typeof SharedArrayBuffer === "function") return new Uint8Array(new SharedArrayBuffer(size));
  return new Uint8Array(size);
}

/**
 * A validation under way: calling it blocks until the answer is in (true: valid);
 * `abandon` stops waiting for one no longer needed (the module was refused anyway).
 */
export type PendingValidation = (() => boolean) & { abandon: () => void };

/**
 * Starts validating `bytes` on a worker thread. Undefined when no worker can be
 * started.
 */
export function validateInParallel(bytes: Uint8Array): PendingValidation | undefined {
  let worker: Worker;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" })));
  } catch {
    return undefined;
  }
  const flag = new SharedArrayBuffer(4);
  // Bytes read into shared memory (sourceBuffer) are shared with the worker as
  // they are; others are copied once and the copy transferred. Nothing writes a
  // source once read, so the worker validates exactly the bytes that are rewritten.
  if (bytes.buffer instanceof SharedArrayBuffer) worker.postMessage({ bytes, flag });
  else {
    const copy = bytes.slice();
    worker.postMessage({ bytes: copy, flag }, [copy.buffer]);
  }
  const wait = (): boolean => {
    const f = new Int32Array(flag);
    while (Atomics.load(f, 0) === 0) Atomics.wait(f, 0, 0, 1000);
    void worker.terminate();
    return Atomics.load(f, 0) === 1;
  };
  // The engine's validation cannot be interrupted: the thread ends when it returns (or
  // with the process). Its memory grows with the module (485 MB for 30 MB of tiny
  // loops), so a refused module's load must not wait for it to peak.
  return Object.assign(wait, { abandon: (): void => void worker.terminate() });
}
