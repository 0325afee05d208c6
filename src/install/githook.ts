/**
 * The git pre-push hook that runs plugins' `pre_push` hooks (`fledge hooks install`).
 * It is a three-line sh script that execs `fledge hooks run pre-push`, marked as
 * fledge's own so that fledge only ever rewrites or deletes a hook it wrote: any other
 * pre-push hook (the user's, husky's, pre-commit's) is never overwritten.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fledgeSelfCommand, gitCommand } from "../core/programs.ts";
import { FledgeError } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export const GIT_HOOK_MARKER = "# fledge-hook: pre-push (written by 'fledge hooks install'; 'fledge hooks uninstall' removes it)";

/** How this fledge is started again: the compiled binary itself, or bun with the entry script. */
export function fledgeCommand(): string[] {
  return fledgeSelfCommand();
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function gitHookScript(command: readonly string[] = fledgeCommand()): string {
  return `#!/bin/sh\n${GIT_HOOK_MARKER}\n# Runs the pre_push hooks of installed fledge plugins; a failing hook stops the push.\nexec ${command.map(shQuote).join(" ")} hooks run pre-push\n`;
}

/** Where git looks for this repository's pre-push hook (honours core.hooksPath), and the repo's top. */
export function gitHookPath(cwd: string): { repo: string; file: string } {
  const run = (args: string[]): string | undefined => {
    let argv: string[];
    try {
      argv = gitCommand(args, process.env.PATH, args[1] === "--git-path");
    } catch {
      return undefined;
    }
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const repo = run(["rev-parse", "--show-toplevel"]);
  if (!repo) throw new FledgeError(`${renderUntrusted(cwd)} is not inside a git work tree`, { code: "not_a_repository", hint: "run 'fledge hooks install' from inside the repository whose pushes should run the hooks" });
  const rel = run(["rev-parse", "--git-path", "hooks/pre-push"]);
  if (!rel) throw new FledgeError("git did not say where this repository's hooks live", { code: "git_failed" });
  return { repo, file: isAbsolute(rel) ? rel : resolve(cwd, rel) };
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** THE ownership rule: a hook is fledge's only if it carries the marker line. */
export function isOurHook(text: string): boolean {
  return text.split("\n").includes(GIT_HOOK_MARKER);
}

/** What `hooks install` would do at `file`: write a new hook, replace our own, or refuse a foreign one. */
export function planGitHook(file: string): "create" | "replace" {
  const current = readIfExists(file);
  if (current === undefined) return "create";
  if (isOurHook(current)) return "replace";
  throw new FledgeError(`${renderUntrusted(file)} already exists and was not written by fledge; it was left as it is`, {
    code: "hook_exists",
    hint: "add the line 'fledge hooks run pre-push' to that hook yourself (a non-zero exit stops the push)",
  });
}

/** Write the hook atomically (temp file + rename), executable. */
export function writeGitHook(file: string, script: string = gitHookScript()): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.fledge-${process.pid}.tmp`;
  writeFileSync(tmp, script, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, file);
}

/** Remove the hook only if it is ours; returns whether one was removed. */
export function removeGitHook(file: string): boolean {
  const current = readIfExists(file);
  if (current === undefined) return false;
  if (!isOurHook(current)) {
    throw new FledgeError(`${renderUntrusted(file)} was not written by fledge; it was left as it is`, { code: "hook_exists", hint: "edit that hook yourself to stop running fledge from it" });
  }
  rmSync(file, { force: true });
  return true;
}
