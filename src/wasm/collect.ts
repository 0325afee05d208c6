/**
 * Garbage collection at the module loader's phase boundaries.
 *
 * JavaScriptCore lets garbage grow in proportion to the live heap before it collects,
 * and while a large module loads the live heap includes the module's buffers (tens of
 * MB): the rewrite's short-lived objects then piled up to hundreds of MB of host memory
 * (a 30 MB module peaked at 458 MB while instrumenting, 150 MB of it garbage), and the
 * instrumenter's leftovers were still resident when the engine started compiling. The
 * loader collects at its own pace instead: a young-generation collection every
 * {@link COLLECT_STRIDE_BYTES} of rewritten code, and a full one between instrumenting
 * and compiling a large module (measured: a few ms each, tens of ms for the full one).
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
