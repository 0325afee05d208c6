/**
 * The home folder the confinement protects. With HOME unset (env -i, some cron, systemd
 * and CI setups) the home is still the account's, from the password database, never
 * "no home": that would make the home folder a project and its credentials readable.
 */
import { userInfo } from "node:os";
import { isAbsolute } from "node:path";

/**
 * THE home of the confinement policy: `$HOME` when it is an absolute path, else the
 * account's home from the password database; undefined when neither is knowable
 * (then nothing may run confined: the caller refuses rather than guess).
 */
export function policyHome(env: Readonly<Record<string, string | undefined>>, account: () => { homedir: string } = () => userInfo()): string | undefined {
  const h = env.HOME;
  if (h !== undefined && isAbsolute(h)) return h;
  try {
    const d = account().homedir;
    return d !== "" && isAbsolute(d) ? d : undefined;
  } catch {
    return undefined;
  }
}

