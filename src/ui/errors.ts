// Errors live in src/core (every layer may use them); kept here for older imports.
export { FledgeError, usageError, isFledgeError } from "../core/errors.ts";
