/**
 * The SDK sources the scaffolds copy into a new plugin, embedded in fledge (also in
 * the compiled binary), so `fledge plugins create` works anywhere, offline, and the
 * plugin builds without fetching anything: the Rust SDK is vendored beside the
 * plugin's own code and referenced by path; the C header is copied next to main.c.
 */
import sdkCargoToml from "../../sdk/rust/Cargo.toml" with { type: "text" };
import sdkLib from "../../sdk/rust/src/lib.rs" with { type: "text" };
import sdkJson from "../../sdk/rust/src/json.rs" with { type: "text" };
import cHeader from "../../sdk/c/fledge.h" with { type: "text" };

/** Files of the Rust SDK crate, relative to its folder. */
export const RUST_SDK_FILES: Readonly<Record<string, string>> = Object.freeze({
  "Cargo.toml": sdkCargoToml as unknown as string,
  "src/lib.rs": sdkLib,
  "src/json.rs": sdkJson,
});

export const C_HEADER: string = cHeader;
