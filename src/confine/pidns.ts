/**
 * The launcher's preferred path on Linux: the plugin runs in a PID namespace of its
 * own (pidns.c), so every process it starts ends with it, killed by the kernel, and
 * none can slip out (a fork chain faster than any scan, a setsid'd daemon). The C is
 * compiled at run time with bun:ffi's cc (TinyCC, a few milliseconds): a namespace
 * must be made with clone(2), and a multithreaded process (Bun) cannot make a user
 * namespace with unshare.
 *
 * When no namespace can be made (user namespaces off or restricted, a container's
 * seccomp, no TinyCC), runInPidNamespace returns and the launcher confines in process
 * as before; fledge's subreaper (reaper.ts) then ends what it can find, which a fast
 * fork chain can outrun. `fledge canary --native` says which of the two holds.
 */
import { cc, ptr } from "bun:ffi";
import { closeSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import source from "./pidns.c" with { type: "text" };
import { buildRuleset, ConfineError, cstr, execArrays, landlockAbi, seccompFprog, type LaunchSpec } from "./syscalls.ts";

const symbols = {
  fledge_pidns_run: { args: ["i32", "u64", "ptr", "ptr", "ptr", "ptr", "ptr", "i32", "i32", "ptr", "ptr"], returns: "i32" },
} as const;

/**
 * The compiled C, or undefined when it cannot be built here. The source goes through
 * a private temp file (TinyCC reads a path; the compiled binary holds the text only).
 */
function compile(): { fledge_pidns_run: (...a: unknown[]) => number } | undefined {
  if (process.platform !== "linux") return undefined;
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), "fledge-pidns-"));
    const file = join(dir, "pidns.c");
    writeFileSync(file, source, { mode: 0o600, flag: "wx" });
    return cc({ source: file, symbols }).symbols as unknown as { fledge_pidns_run: (...a: unknown[]) => number };
  } catch {
    return undefined;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The credentials to cover, for pidns.c: a 0-terminated array of C strings, each its
 * kind ('d' folder, 'f' file) then its path. Undefined when there is nothing to cover
 * or no cover file (a file could not be covered).
 */
function hideArray(spec: LaunchSpec): { list: BigUint64Array; cover: Buffer; keep: Buffer[] } | undefined {
  const hide = spec.hide ?? [];
  if (hide.length === 0 || !spec.cover) return undefined;
  const keep = hide.map((h) => cstr(`${h.dir ? "d" : "f"}${h.path}`));
  const list = new BigUint64Array(keep.length + 1);
  keep.forEach((b, i) => (list[i] = BigInt(ptr(b))));
  return { list, cover: cstr(spec.cover), keep };
}

/**
 * Run the plugin confined in a new PID namespace. Never returns when the namespace
 * was made (the process ends as the plugin did). Returns undefined when no namespace
 * can be made here (the caller confines in process instead), or the reason the
 * confinement itself failed.
 */
export function runInPidNamespace(spec: LaunchSpec): string | undefined {
  const abi = landlockAbi();
  if (abi < 1) return "Landlock is not available";
  const run = compile()?.fledge_pidns_run;
  if (!run) return undefined;
  let ruleset: { fd: number; procRights: bigint };
  try {
    // "/proc/self" is added by the plugin's own process, once it exists (pidns.c).
    ruleset = buildRuleset(spec, abi, undefined);
  } catch (e) {
    return e instanceof ConfineError ? e.message : String(e);
  }
  const sc = seccompFprog(spec);
  const { argv, envp, keep } = execArrays(spec);
  const cwd = cstr(spec.cwd);
  const hidden = hideArray(spec);
  run(ruleset.fd, ruleset.procRights, sc ? ptr(sc.fprog) : null, ptr(keep[0]!), ptr(argv), ptr(envp), ptr(cwd), process.getuid?.() ?? 0, process.getgid?.() ?? 0, hidden ? ptr(hidden.list) : null, hidden ? ptr(hidden.cover) : null);
  // Only when no namespace could be made: confine in process with a fresh ruleset.
  try {
    closeSync(ruleset.fd);
  } catch {
    // already closed
  }
  return undefined;
}
