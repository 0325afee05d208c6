/**
 * Shapes shared by every part that talks about plugins. The manifest resolver owns
 * parsing; trust, registry, install and host import these types from here.
 */

export type Runtime = "wasm" | "native";
export type FilesystemGrant = "none" | "project" | "plugin";

/** What a plugin asks for in `[capabilities]`, or what the registry says was granted. */
export interface Capabilities {
  exec: boolean;
  store: boolean;
  metadata: boolean;
  filesystem: FilesystemGrant;
  network: boolean;
}

export const NO_CAPABILITIES: Readonly<Capabilities> = Object.freeze({
  exec: false,
  store: false,
  metadata: false,
  filesystem: "none",
  network: false,
});
