/** The cap on how large metering may make a module, shared by the instrumenter (which stops early) and the loaders. */
import { FledgeError } from "../core/index.ts";

/**
 * Growth cap on the instrumented module, checked before it is compiled: the engine's
 * compile time and memory grow with the prepared bytes, and metering inflates code
 * made of tiny blocks many times over (a 9 MB module of tiny loops became 135 MB and
 * took 2 GB and 12 s to compile). Real toolchain output grows well under 2x, so 4x the
 * source leaves a wide margin; small modules may always reach 16 MiB; nothing passes
 * 128 MiB (the source itself is capped at 64 MiB).
 */
export const PREPARED_CAP = { factor: 4, floorBytes: 16 * 2 ** 20, ceilingBytes: 128 * 2 ** 20 } as const;

export function preparedSizeCap(sourceBytes: number): number {
  return Math.min(PREPARED_CAP.ceilingBytes, Math.max(PREPARED_CAP.floorBytes, PREPARED_CAP.factor * sourceBytes));
}

/** Refuses a prepared module over {@link preparedSizeCap}, naming the cap. */
export function checkPreparedSize(sourceBytes: number, preparedBytes: number): void {
  if (preparedBytes > preparedSizeCap(sourceBytes)) throw preparedSizeError(sourceBytes, preparedBytes, false);
}

/**
 * The refusal itself. `partial`: the instrumenter stopped as soon as its output passed
 * the cap (so the module would have been larger still) rather than finishing a rewrite
 * that only gets refused: a module of tiny loops needs GBs of host memory to rewrite.
 */
export function preparedSizeError(sourceBytes: number, preparedBytes: number, partial: boolean): FledgeError {
  const cap = preparedSizeCap(sourceBytes);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  return new FledgeError(
    `module exceeds fledge's instrumented size cap of ${mib(cap)} (4x the ${mib(sourceBytes)} source, at least 16 MiB, at most 128 MiB): metering made it ${partial ? "more than " : ""}${mib(preparedBytes)}`,
    { code: "wasm_cap", hint: "fledge refuses modules whose metered form is this large before compiling them; build with fewer tiny loops/blocks (e.g. -O2) or split the module" },
  );
}
