/**
 * THE one place where plugin code is started: native commands, protocol plugins,
 * hooks and `exec` all come through spawnPlugin. Confined (through the launcher) when
 * the kernel has Landlock and the user did not choose `--unconfined`; otherwise run as
 * before, with a warning that says so.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { FledgeError } from "../core/errors.ts";
import { findProgram, fledgeOwnFiles, fledgeSelfCommand, isCompiled } from "../core/programs.ts";
import type { Capabilities, GrantedConfinement } from "../manifest/types.ts";
import { fledgePaths } from "../registry/paths.ts";
import { log } from "../ui/log.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { policyHome } from "./home.ts";
import { LAUNCHER_FLAG, SPEC_VAR } from "./launcher.ts";
import { stdioTerminals } from "./kernel-files.ts";
import { confinementRules, type ConfinementGrant } from "./policy.ts";
import { reapAfterRun, type RunEnd } from "./reaper.ts";
import { describeQuarantine, quarantineNewRunsLater } from "./runs-later.ts";
import { landlockAbi, type LaunchSpec } from "./syscalls.ts";

/**
 * What a plugin's confinement is made from; serializable (it crosses into the exec
 * worker). The grant fields are ConfinementGrant's (one definition), plus the plugin's
 * name and the --unconfined choice.
 */
export type PluginConfinement = Pick<
  ConfinementGrant,
  "pluginDir" | "projectRoot" | "projectWritable" | "network" | "extraRead" | "extraWrite" | "extraEnv" | "approvedRead" | "approvedWrite" | "approvedCredentialEnv" | "build"
> & {
  /** The plugin's name, for messages. */
  name: string;
  /** The user chose `--unconfined` at install. */
  unconfined: boolean;
};

/** A plugin's confinement from its registry grants (capabilities + `[confinement]` + the --unconfined choice). */
export function pluginConfinement(o: {
  name: string;
  pluginDir: string;
  projectRoot?: string | undefined;
  capabilities: Pick<Capabilities, "filesystem" | "network">;
  granted?: GrantedConfinement | undefined;
  build?: boolean | undefined;
}): PluginConfinement {
  return {
    name: o.name,
    pluginDir: o.pluginDir,
    projectRoot: o.projectRoot,
    projectWritable: o.capabilities.filesystem === "project",
    network: o.capabilities.network,
    unconfined: o.granted?.unconfined ?? false,
    extraRead: o.granted?.read ?? [],
    extraWrite: o.granted?.write ?? [],
    extraEnv: o.granted?.env ?? [],
    approvedRead: o.granted?.resolved_read,
    approvedWrite: o.granted?.resolved_write,
    approvedCredentialEnv: o.granted?.credential_env,
    build: o.build,
  };
}

export type ConfinementState =
  | { kind: "confined"; abi: number; by: string }
  | { kind: "unconfined"; reason: "chosen" | "unavailable"; why: string };

let cachedAbi: number | undefined;
/** Landlock ABI of this kernel (0: none). Asked once per process. */
export function kernelLandlockAbi(): number {
  cachedAbi ??= landlockAbi();
  return cachedAbi;
}

/** Whether (and by what) a plugin with this choice would be confined on this system. */
export function confinementState(unconfined: boolean): ConfinementState {
  if (unconfined) return { kind: "unconfined", reason: "chosen", why: "installed with --unconfined" };
  const abi = kernelLandlockAbi();
  if (abi < 1) {
    const why = process.platform === "linux" ? "this Linux kernel offers no Landlock" : `confinement is not available on ${process.platform} yet`;
    return { kind: "unconfined", reason: "unavailable", why };
  }
  return { kind: "confined", abi, by: `Landlock ABI ${abi} + seccomp` };
}

/** One line for list, audit, consent and run warnings. */
export function describeConfinement(state: ConfinementState): string {
  return state.kind === "confined" ? `confined (${state.by})` : `unconfined, elevated risk (${state.why})`;
}

const compiled = isCompiled;

/** How to start the launcher: the compiled binary is fledge itself; from source, a small entry file. */
function launcherCommand(): string[] {
  if (compiled()) return [process.execPath, LAUNCHER_FLAG];
  return fledgeSelfCommand(new URL("./launch.ts", import.meta.url).pathname);
}

/**
 * argv[0] as a path execve can run: a path relative to the plugin's cwd as given, a
 * bare word on the absolute entries of the plugin's PATH only (core/programs.ts), so
 * nothing in the folder fledge runs in is ever picked by a relative PATH entry.
 */
function resolveProgram(argv0: string, path: string | undefined, cwd: string): string {
  if (argv0.includes("/")) return isAbsolute(argv0) ? argv0 : join(cwd, argv0);
  return findProgram(argv0, path ?? "/usr/bin:/bin") ?? argv0;
}

export interface PluginProcess<In extends Bun.SpawnOptions.Writable, Out extends Bun.SpawnOptions.Readable, Err extends Bun.SpawnOptions.Readable> {
  proc: Bun.Subprocess<In, Out, Err>;
  state: ConfinementState;
  /**
   * Resolves once the plugin has exited AND everything it started is gone (see
   * reaper.ts) and fledge's after-run checks are done. Await it, not `proc.exited`,
   * before reporting the run as over. Never rejects.
   */
  settled: Promise<void>;
}

export interface SpawnPluginOptions<In, Out, Err> {
  argv: readonly string[];
  cwd: string;
  /** fledge's environment (the plugin gets the allowlisted part when confined, all of it when not). */
  env: Readonly<Record<string, string | undefined>>;
  /** Variables fledge sets for the plugin (FLEDGE_PLUGIN_DIR). */
  fledgeEnv: Readonly<Record<string, string>>;
  confinement: PluginConfinement;
  stdin: In;
  stdout: Out;
  stderr: Err;
  detached?: boolean | undefined;
  /** Warn on stderr when the run is unconfined because the system cannot confine (default true). */
  warnUnconfined?: boolean | undefined;
}

/**
 * Start plugin code. Throws what Bun.spawn throws when nothing can be started; a
 * confined start that fails inside the launcher exits 126 with the reason on stderr.
 */
export function spawnPlugin<In extends Bun.SpawnOptions.Writable, Out extends Bun.SpawnOptions.Readable, Err extends Bun.SpawnOptions.Readable>(
  o: SpawnPluginOptions<In, Out, Err>,
): PluginProcess<In, Out, Err> {
  const state = confinementState(o.confinement.unconfined);
  if (state.kind === "unconfined") {
    if (state.reason === "unavailable" && o.warnUnconfined !== false) {
      log.warn(`${renderUntrusted(o.confinement.name)} runs unconfined, elevated risk: ${state.why}`);
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(o.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, o.fledgeEnv);
    const program = resolveProgram(o.argv[0] ?? "", o.env.PATH, o.cwd);
    if (!program.includes("/")) throw Object.assign(new Error(`No such file or directory: ${o.argv[0] ?? ""}`), { code: "ENOENT" });
    const reap = reapAfterRun(false);
    let proc: Bun.Subprocess<In, Out, Err>;
    try {
      proc = Bun.spawn([program, ...o.argv.slice(1)], { cwd: o.cwd, env, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, detached: o.detached });
    } catch (e) {
      void reap();
      throw e;
    }
    return { proc, state, settled: afterExit(proc, reap, () => {}) };
  }

  if (policyHome(o.env) === undefined) {
    // Without a home the policy cannot tell credentials from the rest: refuse, never guess.
    throw new FledgeError(`${renderUntrusted(o.confinement.name)} cannot run confined: fledge cannot tell which folder is your home (HOME is unset and your account has no home in the password database)`, {
      code: "no_home",
      hint: "set HOME to your home folder and run it again",
    });
  }
  const tempDir = mkdtempSync(join(tmpdir(), "fledge-plugin-"));
  const c = o.confinement;
  const grant: ConfinementGrant = {
    pluginDir: c.pluginDir,
    projectRoot: c.projectRoot,
    projectWritable: c.projectWritable,
    network: c.network,
    tempDir,
    fledgeConfigDir: fledgePaths(o.env as NodeJS.ProcessEnv).configDir,
    extraRead: c.extraRead,
    extraWrite: c.extraWrite,
    extraEnv: c.extraEnv,
    approvedRead: c.approvedRead,
    approvedWrite: c.approvedWrite,
    approvedCredentialEnv: c.approvedCredentialEnv,
    fledgeEnv: o.fledgeEnv,
    terminals: stdioTerminals([o.stdin, o.stdout, o.stderr]),
    build: c.build,
    // From source, fledge's Bun is a runtime plugins may use too (`#!/usr/bin/env bun`).
    runtimeDirs: compiled() ? [] : [dirname(dirname(realpathSync(process.execPath)))],
    selfFiles: fledgeOwnFiles(),
  };
  const program = resolveProgram(o.argv[0] ?? "", o.env.PATH, o.cwd);
  if (!existsSync(program)) {
    rmSync(tempDir, { recursive: true, force: true });
    throw Object.assign(new Error(`No such file or directory: ${o.argv[0] ?? ""}`), { code: "ENOENT" });
  }
  const rules = confinementRules({ ...grant, program, cwd: o.cwd }, o.env);
  for (const note of rules.notes) log.warn(`${renderUntrusted(o.confinement.name)} ${renderUntrusted(note)}`);
  const spec: LaunchSpec = { argv: [program, ...o.argv.slice(1)], env: rules.env, cwd: o.cwd, fs: rules.fs, network: rules.network, chmodByPath: rules.chmodByPath, runsAsRoot: rules.runsAsRoot, parentPid: process.pid, hide: rules.hide, cover: coverFile(tempDir) };
  let proc: Bun.Subprocess<In, Out, Err>;
  const reap = reapAfterRun(true);
  try {
    // The launcher starts in / with nothing but the spec: no project .env, bunfig or user variables reach it.
    proc = Bun.spawn(launcherCommand(), { cwd: "/", env: { [SPEC_VAR]: JSON.stringify(spec) }, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, detached: o.detached });
  } catch (e) {
    void reap();
    rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }
  const settled = afterExit(proc, reap, (end) => {
    try {
      // A .git, .envrc, .vscode... created in a writable folder during the run is moved aside.
      const report = quarantineNewRunsLater(rules.watch);
      if (!end.ended) report.processesLeft = true;
      for (const line of describeQuarantine(report, o.cwd)) log.warn(`${renderUntrusted(o.confinement.name)} ${renderUntrusted(line)}`);
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
    }
  });
  return { proc, state, settled };
}

/**
 * The empty file bound over each credential file in the plugin's mount namespace, in
 * the run's private temp folder (never /dev/null: a chmod through the cover would then
 * reach the device node, shared by every user). Read-only and empty: what a plugin
 * does to the cover's own copy in its temp folder reveals nothing.
 */
function coverFile(tempDir: string): string {
  const p = join(tempDir, ".fledge-cover");
  writeFileSync(p, "", { mode: 0o400, flag: "wx" });
  return p;
}

/**
 * After the plugin exits: end its leftover processes and wait until they are gone, then
 * check and clean up. A launcher fledge killed can end before the rest of its run (its
 * namespace is torn down after it), so the reaper's wait, not the launcher's exit, says
 * when nothing of the plugin runs any more; when that wait gave up, `cleanup` is told.
 */
async function afterExit(proc: Bun.Subprocess<Bun.SpawnOptions.Writable, Bun.SpawnOptions.Readable, Bun.SpawnOptions.Readable>, reap: () => Promise<RunEnd>, cleanup: (end: RunEnd) => void): Promise<void> {
  await proc.exited.catch(() => undefined);
  const end = await reap().catch((): RunEnd => ({ ended: false }));
  try {
    cleanup(end);
  } catch {
    // best effort: a temp folder left behind is not a failure of the run
  }
}
