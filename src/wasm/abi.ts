/**
 * The names an instrumented module shares with its runner (the meter's import and
 * exports) and the instrumenter's version (part of the prepared-module cache key).
 * They live apart from the instrumenter (./instrument.ts re-exports them) so that a
 * cached start, which runs an already-instrumented module, never loads the rewriting
 * code: the meter and the cache key need only these names.
 */

/** Import module and name of the refuel function the meter provides. */
export const METER_MODULE = "fledge:meter";
export const REFUEL_NAME = "refuel";
/** An exported getter `() -> i64` for the remaining fuel, so a runner can read exact usage. */
export const FUEL_EXPORT = "fledge:fuel";
/** Bumped whenever the rewrite changes; part of the prepared-module cache key. */
export const INSTRUMENTER_VERSION = "15-throw-price";
/** Exported `() -> ()` that drives the fuel global far below zero (the meter's stop from inside a host call). */
export const HALT_EXPORT = "fledge:halt";
/** Exported `() -> i32`: the page delta of the last refused memory.grow, 0 when none was refused. */
export const GROW_EXPORT = "fledge:grow_refused";
