/**
 * What fledge reads on a plugin's behalf (the `metadata` capability's `fledge_config`)
 * it reads as the plugin could: fledge itself is unconfined, so a file the plugin
 * planted as a symlink (`fledge.toml -> ~/.cargo/credentials.toml`) must not turn
 * fledge into the deputy that reads the credential for it.
 */
import { realpathSync } from "node:fs";
import { readRegularFile } from "../core/read-file.ts";
import { isAbsolute, join } from "node:path";
import { isInside } from "../manifest/confinement.ts";
import { fledgePaths } from "../registry/paths.ts";
import { policyHome } from "./home.ts";
import { projectRootProblem, secretPaths } from "./policy.ts";

/** Largest project file fledge reads for a plugin (a config, not a data set). */
export const ON_BEHALF_MAX_BYTES = 1024 * 1024;

/**
 * THE rule for a project file fledge reads for a plugin: `name` (one file name) in the
 * project `root`, only when the root is a project the confinement would grant (not
 * home, not a system folder), the file resolves inside the root (no symlink leaving
 * it), is no secret of the confinement (the same list: credentials in home, fledge's
 * own folder, /etc secrets), and is a regular file of at most {@link ON_BEHALF_MAX_BYTES}.
 * The final open does not follow a symlink, so one swapped in after the checks fails.
 * Undefined when any of that does not hold, or the file is absent.
 */
export function readProjectFileForPlugin(root: string, name: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (name.includes("/") || name === "" || name === "." || name === "..") return undefined;
  const home = policyHome(env);
  if (home === undefined || !isAbsolute(root) || projectRootProblem(root, home) !== undefined) return undefined;
  let realRoot: string;
  let target: string;
  try {
    realRoot = realpathSync.native(root);
    target = realpathSync.native(join(root, name));
  } catch {
    return undefined;
  }
  if (target === realRoot || !isInside(target, realRoot)) return undefined;
  const secrets = secretPaths(home, fledgePaths(env as NodeJS.ProcessEnv).configDir, env);
  if (secrets.some((s) => isInside(target, s))) return undefined;
  return readRegularFile(target, ON_BEHALF_MAX_BYTES)?.toString("utf8");
}
