/**
 * Native plugin confinement (Linux: Landlock + seccomp through a re-executed launcher).
 * policy.ts decides what a grant allows; spawn.ts is the only place plugin code starts.
 */
export { confinementRules, expandGrantPath, secretPaths, ENV_ALLOW, SECRET_NAME, type Access, type ConfinementGrant, type ConfinementRules, type FsRule } from "./policy.ts";
export { spawnPlugin, pluginConfinement, confinementState, describeConfinement, kernelLandlockAbi, type ConfinementState, type PluginConfinement, type PluginProcess, type SpawnPluginOptions } from "./spawn.ts";
export { LAUNCHER_FLAG, LAUNCH_FAILED } from "./launcher.ts";
