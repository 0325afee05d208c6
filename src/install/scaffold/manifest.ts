/**
 * The start of every scaffold's plugin.toml (native, Rust and C): the [plugin] table and
 * the one command named after the plugin. One writer, so the scaffolds cannot drift on
 * quoting or on the fields `validate --strict` wants.
 */

/** A JSON string is a valid TOML basic string for printable text. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** `[plugin]` and `[[commands]]`, ending with a blank line; wasm plugins speak fledge-v1. */
export function manifestHead(name: string, description: string, runtime: "wasm" | "native", binary: string): string {
  const protocol = runtime === "wasm" ? `protocol = "fledge-v1"\n` : "";
  return `[plugin]
name = ${tomlString(name)}
version = "0.1.0"
description = ${tomlString(description)}
author = "you"
${protocol}runtime = "${runtime}"

[[commands]]
name = ${tomlString(name)}
description = ${tomlString(description)}
binary = "${binary}"

`;
}

/** A wasm scaffold starts with no capabilities: the author grants each one on purpose. */
export const WASM_NO_CAPABILITIES = `[capabilities]
exec = false
store = false
metadata = false
filesystem = "none"
network = false
`;
