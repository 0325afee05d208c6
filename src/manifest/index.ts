/**
 * The manifest resolver: reads plugin.toml, checks every rule (schema, names, paths,
 * commands, capabilities) at once, and resolves the plugin's runtime. Everything else (install, host, trust,
 * the `validate` command) goes through here.
 */
export { parseManifest, decodeManifest, MAX_MANIFEST_BYTES } from "./parse.ts";
export { loadManifest, locateManifest, MANIFEST_FILE } from "./load.ts";
export { resolveRuntime, binaryRuntime, inspectBinary, inPluginDataDir, DATA_BINARY_FIX, PLUGIN_DATA_DIR, resolveInside, unsafeBinaryPath, looksLikeWasmPath, type BinaryOnDisk } from "./binary.ts";
export { isSafePluginName, isValidVersion } from "./rules.ts";
export { detectAutoBuild, TOOLCHAIN_HELP, type AutoBuild } from "./build.ts";
export { isSafeCommandName, BUILTIN_COMMANDS, BUILTIN_TOP_COMMANDS, type BuiltinTopCommand } from "./commands.ts";
export { unknownKeyWarnings } from "./strict.ts";
export { show as showManifestValue } from "./text.ts";
export { parseHostEntry, formatHostEntry, MAX_HOSTS, type HostEntry } from "./hosts.ts";
export * from "./types.ts";
export { confinementPathProblem, credentialNeeds, expandHomePath, fledgeOwnDirs, isInside, judgeHomePath, resolvePath, resolvedGrantProblem, xdgSecrets, homeEntries, NEVER_GRANTABLE, describeConfinementNeeds, isCredentialEnv, isCredentialPath, isCredentialValue, envSecrets, ENV_SECRET_LOCATIONS, HOME_SECRETS, HOME_NEVER_WRITE, SECRET_ENV_NAME } from "./confinement.ts";
