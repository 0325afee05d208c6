// "Did you mean" lives in src/core (the manifest checks use it too); kept here for older imports.
export { suggest } from "../core/suggest.ts";
