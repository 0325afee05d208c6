/**
 * Garbage collection at the module loader's phase boundaries.
 *
 * JavaScriptCore lets garbage grow in proportion to the live heap before it collects,
 * and while a large module loads the live heap includes the module's buffers (tens of
 * MB): the rewrite's short-lived objects then piled up (instrumenting a 30 MB module
 * peaked ~115 MB higher without the collections below), and the instrumenter's
 * leftovers were still resident when the engine started compiling. The loader
 * collects at its own pace instead: a young-generation collection every
 * {@link COLLECT_STRIDE_BYTES} of rewritten code (11 for that module, under 10 ms in
 * all on its thread), and a full one between instrumenting and compiling a large
 * module (~100 ms after that module, ~20 ms after 30 MB of loops: the compile that
 * follows takes seconds).
 */

/** Rewritten code between two young-generation collections while instrumenting. */
export const COLLECT_STRIDE_BYTES = 4 * 2 ** 20;

/** Modules at least this large (source or prepared bytes) get a full collection before they compile. */
export const COLLECT_BEFORE_COMPILE_BYTES = 4 * 2 ** 20;

/** Collects the young generation: the per-body garbage of the rewrite so far. */
export function collectYoung(): void {
  Bun.gc(false);
}

/** Collects everything (synchronously): what instrumenting left behind, before the engine compiles. */
export function collectAll(): void {
  Bun.gc(true);
}
