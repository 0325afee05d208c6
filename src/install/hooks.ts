/**
 * Running plugin hooks (build, post_install, post_remove) and auto-detected builds.
 * Never through a shell: a hook that names a file in the plugin dir runs that file;
 * otherwise the command line is split into words (quotes and backslashes as in sh,
 * but no pipes, redirects, variables or `&&`) and executed directly. cwd is the plugin
 * dir, FLEDGE_PLUGIN_DIR is set, and output goes to fledge's stderr as it happens (so
 * stdout stays clean for --json, and a chatty build can never fill a pipe nobody reads).
 */
import { chmodSync, existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { pluginConfinement, spawnPlugin } from "../confine/index.ts";
import { findProgram } from "../core/programs.ts";
import { detectAutoBuild, resolveInside, TOOLCHAIN_HELP, type AutoBuild, type GrantedConfinement, type HookName, type Runtime } from "../manifest/index.ts";
import { FledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

/** Split a command line into words like a POSIX shell would, without expanding anything. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new FledgeError(`unterminated ' quote in hook command: ${renderUntrusted(line)}`, { code: "hook_invalid" });
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new FledgeError(`unterminated " quote in hook command: ${renderUntrusted(line)}`, { code: "hook_invalid" });
        const d = line[i]!;
        if (d === '"') break;
        if (d === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          cur += line[i + 1];
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The environment hooks run with: the user's, plus FLEDGE_PLUGIN_DIR, minus GitHub tokens (a build has no use for fledge's credentials). */
export function hookEnv(pluginDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !["FLEDGE_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"].includes(k)) out[k] = v;
  out.FLEDGE_PLUGIN_DIR = pluginDir;
  return out;
}

const SHELL_OPERATORS = new Set(["&&", "||", "|", ";", ">", ">>", "<", "2>", "2>&1", "&"]);

/**
 * Refuse, before anyone is asked to approve it, a hook written for a shell (`cd wasm &&
 * cargo build`, `a | b`, `> out`): hooks run without a shell, as in the original
 * fledge, so such a line would pass `&&` to the first program as an argument and fail
 * (or do something else) after consent. The message names the operator and the fix.
 */
export function assertNoShellSyntax(event: HookName, hook: string, pluginDir: string): void {
  if (insideFile(pluginDir, hook.trim())) return; // a script file named as a whole
  const op = splitWords(hook).find((w) => SHELL_OPERATORS.has(w));
  if (op === undefined) return;
  throw new FledgeError(`the ${event} hook '${renderUntrusted(hook)}' uses the shell operator '${op}', but hooks run without a shell (as in the original fledge), so it cannot work`, {
    code: "hook_shell_syntax",
    hint: `the plugin's author must put these steps in a script (for example ${event}.sh) and name it in [hooks] ${event}; nothing was installed`,
  });
}

/**
 * The argv a hook runs as. A hook string naming a regular file inside the plugin dir
 * runs that file; a first word with a `/` must also stay inside the plugin dir; any
 * other first word is looked up on PATH.
 */
export function hookArgv(hook: string, pluginDir: string): string[] {
  const trimmed = hook.trim();
  if (trimmed === "") throw new FledgeError("the hook command is empty", { code: "hook_invalid" });
  const asFile = insideFile(pluginDir, trimmed);
  if (asFile) return [asFile];
  const words = splitWords(trimmed);
  const first = words[0];
  if (first === undefined) throw new FledgeError("the hook command is empty", { code: "hook_invalid" });
  if (first.includes("/")) {
    const file = insideFile(pluginDir, first);
    if (!file) throw new FledgeError(`hook program '${renderUntrusted(first)}' is not a file inside the plugin directory`, { code: "hook_invalid" });
    words[0] = file;
  }
  return words;
}

function insideFile(pluginDir: string, rel: string): string | undefined {
  if (rel.startsWith("/") || rel.includes("\0")) return undefined;
  let r;
  try {
    r = resolveInside(pluginDir, rel);
  } catch {
    return undefined;
  }
  if (!("path" in r)) {
    if ("escapes" in r && existsSync(join(pluginDir, rel))) throw new FledgeError(`hook path '${renderUntrusted(rel)}' leads outside the plugin directory`, { code: "hook_invalid" });
    return undefined;
  }
  try {
    const st = statSync(r.path);
    if (!st.isFile()) return undefined;
    if ((st.mode & 0o100) === 0) chmodSync(r.path, st.mode | 0o100); // as the original: hook scripts need not be committed executable
    return r.path;
  } catch {
    return undefined;
  }
}

/** What a hook may do beyond its own folder: the plugin's grants (install passes what the user approved). */
export interface HookGrant {
  name?: string | undefined;
  network?: boolean | undefined;
  granted?: GrantedConfinement | undefined;
  /** Lifecycle hooks (pre_push, ...) see the repository: read-only unless the plugin may write the project. */
  projectRoot?: string | undefined;
  projectWritable?: boolean | undefined;
  /** Variables fledge sets for the hook besides FLEDGE_PLUGIN_DIR (FLEDGE_REPO_ROOT, ...). */
  fledgeEnv?: Readonly<Record<string, string>> | undefined;
}

/**
 * Run one hook to completion; throws FledgeError `hook_failed` on a non-zero exit.
 * Hooks are plugin code: they run confined like the plugin (src/confine), with
 * their plugin folder writable; a build (hook or auto-detected) may also use the
 * network and the toolchain caches, since fetching dependencies is what builds do.
 */
export async function runHook(event: HookName | "auto-build", hook: string, pluginDir: string, env: NodeJS.ProcessEnv = process.env, grant: HookGrant = {}): Promise<void> {
  const argv = hookArgv(hook, pluginDir);
  log.info(event === "auto-build" ? `building: ${renderUntrusted(hook)} (no build hook; build file detected)` : `running ${event} hook: ${renderUntrusted(hook)}`);
  const build = event === "build" || event === "auto-build";
  const code = await new Promise<number>((res, rej) => {
    try {
      // stdout → fd 2: hook output is log output, and stdout may be carrying --json.
      const { proc, settled } = spawnPlugin({
        argv,
        cwd: pluginDir,
        env: hookEnv(pluginDir, env),
        fledgeEnv: { ...grant.fledgeEnv, FLEDGE_PLUGIN_DIR: pluginDir },
        confinement: pluginConfinement({
          name: grant.name ?? event,
          pluginDir,
          projectRoot: grant.projectRoot,
          capabilities: { filesystem: grant.projectWritable ? "project" : "none", network: grant.network ?? false },
          granted: grant.granted,
          build,
        }),
        stdin: "ignore",
        stdout: 2,
        stderr: 2,
      });
      // Settled: the hook exited and whatever it left running in the background ended
      // with it (its grants too), before install goes on.
      settled.then(() => res(proc.exitCode ?? 128), () => res(1));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === "ENOENT" ? `command not found: ${renderUntrusted(argv[0] ?? "")}` : renderUntrusted(err.message);
      const known = err.code === "ENOENT" ? TOOLCHAIN_HELP[basename(argv[0] ?? "")] : undefined;
      rej(
        new FledgeError(`the ${describe(event, hook)} could not start (${why})`, {
          code: err.code === "ENOENT" ? "toolchain_missing" : "hook_failed",
          hint: known ? `${known}, then install again` : event === "auto-build" ? `install ${renderUntrusted(argv[0] ?? "")}, then install again` : `install what the hook needs, or check [hooks] ${event} in plugin.toml`,
          details: { program: argv[0] ?? "" },
        }),
      );
    }
  });
  if (code !== 0) {
    const wasmTarget = /wasm32-wasip1/.test(hook) && /^cargo\b/.test(hook.trim());
    throw new FledgeError(`the ${describe(event, hook)} failed with exit code ${code}${event === "auto-build" ? "" : `: ${renderUntrusted(hook)}`}`, {
      code: "hook_failed",
      hint: `see the build output above${wasmTarget ? "; a wasm build needs the target: rustup target add wasm32-wasip1" : ""}`,
    });
  }
}

function describe(event: HookName | "auto-build", hook: string): string {
  return event === "auto-build" ? `automatic build (${renderUntrusted(hook)})` : `${event} hook`;
}

/** Whether `program` can be started: a path that exists, or a name found on the absolute PATH entries (as it will be started). */
export function onPath(program: string, env: NodeJS.ProcessEnv): boolean {
  if (program.includes("/")) return existsSync(program);
  return findProgram(program, env.PATH) !== undefined;
}

/** Refuse an automatic build whose toolchain is not installed, before anyone is asked to approve it. */
export function assertToolchain(build: AutoBuild, env: NodeJS.ProcessEnv): void {
  if (onPath(build.tool, env)) return;
  throw new FledgeError(`this plugin is a ${build.language} project built with '${build.command}', but '${build.tool}' is not installed (not found on PATH)`, {
    code: "toolchain_missing",
    hint: `${build.getIt}, then install again`,
    details: { program: build.tool },
  });
}

export type { AutoBuild };

/**
 * The build fledge would run for a plugin with no build hook whose binaries are
 * missing (the original's auto-detection). It runs the project's own build code
 * (build.rs, npm scripts), so it is shown in the consent prompt like a hook.
 */
export function detectBuild(dir: string, runtime: Runtime, binaries: readonly string[] = []): AutoBuild | null {
  return detectAutoBuild(dir, runtime, binaries);
}
