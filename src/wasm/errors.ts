import { FledgeError } from "../core/index.ts";
export { malformed } from "./leb128.ts";

/** A module needing a proposal fledge does not run. Refused before instantiation. */
export function refuseFeature(feature: string, where?: string): FledgeError {
  return new FledgeError(`module uses ${feature}, which fledge does not run${where ? ` (${where})` : ""}`, {
    code: "wasm_unsupported",
    hint: "rebuild the module without that feature (fledge runs MVP, SIMD, bulk memory, reference types, multi-value, tail calls and extended-const)",
  });
}
