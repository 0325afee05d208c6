/**
 * The hidden launcher mode: fledge re-executed with an empty environment and one
 * variable carrying the launch spec. It confines itself (Landlock, seccomp, no new
 * privileges, no inherited descriptors) and execve's the plugin, which inherits all
 * of it, as does everything the plugin starts. Where it can, the plugin runs in a PID
 * namespace of its own (pidns.ts), so its processes end with it. It never returns on
 * success.
 */
import { SPEC_VAR } from "./flag.ts";
import { runInPidNamespace } from "./pidns.ts";
import { applyAndExec, dieWithParent, type LaunchSpec } from "./syscalls.ts";

export { LAUNCHER_FLAG, SPEC_VAR } from "./flag.ts";
/** Exit code when the plugin could not be confined or started (the shell's "cannot execute"). */
export const LAUNCH_FAILED = 126;

export function runLauncher(): never {
  const raw = process.env[SPEC_VAR];
  let spec: LaunchSpec | undefined;
  try {
    spec = raw ? (JSON.parse(raw) as LaunchSpec) : undefined;
  } catch {
    spec = undefined;
  }
  if (!spec || !Array.isArray(spec.argv) || spec.argv.length === 0) {
    process.stderr.write("fledge: the confinement launcher is started by fledge only\n");
    process.exit(LAUNCH_FAILED);
  }
  if (!dieWithParent(spec.parentPid)) process.exit(LAUNCH_FAILED);
  // A PID namespace of its own where the system allows one (never returns then), else in process.
  const why = runInPidNamespace(spec) ?? applyAndExec(spec);
  process.stderr.write(`fledge: cannot start the plugin confined: ${why}\n`);
  process.exit(LAUNCH_FAILED);
}
