/**
 * THE lookup of every program fledge starts (git, gh, a plugin's interpreter, the
 * fledge it re-executes): fledge itself runs unconfined, so nothing it starts may come
 * from a place a plugin can write. A bare name is looked up on the ABSOLUTE entries of
 * PATH only: a relative or empty entry (`./node_modules/.bin`, `bin`, `::`) means "the
 * folder fledge happens to run in", i.e. a project a plugin may have written into, and
 * Bun's own lookup resolves such entries against the cwd.
 *
 * Also here: how fledge starts itself again from source (bun must not read the cwd's
 * `.env` or `bunfig.toml`, whose `preload` runs code before fledge's first line), and
 * the git options that keep a repository's own configuration from starting programs.
 */
import { accessSync, constants, readFileSync, realpathSync, statSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join, sep } from "node:path";

/**
 * Flags for a `bun` that runs fledge's sources: no `.env*` files and no `bunfig.toml`
 * from the folder it starts in. The compiled binary is built with the same two
 * autoloads off (scripts/build.ts), and src/bin.js carries them in its `#!` line.
 */
export const BUN_SAFE_FLAGS: readonly string[] = ["--no-env-file", "--config=/dev/null"];

/** The absolute entries of a PATH value, in order (relative and empty ones dropped). */
export function absolutePathEntries(path: string | undefined): string[] {
  return (path ?? "").split(delimiter).filter((d) => d !== "" && isAbsolute(d));
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * THE rule: the program `name` stands for, as an absolute path, or undefined. A name
 * with a slash must already be absolute (a relative one would be resolved against the
 * cwd); a bare name is searched on the absolute entries of `path` only.
 */
export function findProgram(name: string, path: string | undefined = process.env.PATH): string | undefined {
  if (name === "") return undefined;
  if (name.includes("/")) return isAbsolute(name) && isExecutableFile(name) ? name : undefined;
  for (const dir of absolutePathEntries(path)) {
    const file = join(dir, name);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/** {@link findProgram}, or an ENOENT error (what a spawn of a missing program throws) naming it. */
export function requireProgram(name: string, path: string | undefined = process.env.PATH): string {
  const found = findProgram(name, path);
  if (found !== undefined) return found;
  throw Object.assign(new Error(`${name}: not found on the absolute entries of PATH`), { code: "ENOENT" });
}

/**
 * Options for every git fledge runs: a repository's own configuration may name programs
 * (core.fsmonitor runs at every status, hooks run on index writes), and a project a
 * plugin wrote into (a planted `.git` in a subfolder) is not the user's. Prompts off.
 */
export const GIT_SAFE_ARGS: readonly string[] = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never"];

/**
 * The command line of fledge's own git: absolute git, {@link GIT_SAFE_ARGS}, then `args`.
 * `askingHooksPath`: for `rev-parse --git-path hooks/...` only, whose answer must be the
 * repository's own hooks folder (the override would make it /dev/null); that command
 * runs no hook.
 */
export function gitCommand(args: readonly string[], path: string | undefined = process.env.PATH, askingHooksPath = false): string[] {
  const safe = askingHooksPath ? GIT_SAFE_ARGS.filter((a, i, all) => a !== "core.hooksPath=/dev/null" && all[i + 1] !== "core.hooksPath=/dev/null") : GIT_SAFE_ARGS;
  return [requireProgram("git", path), ...safe, ...args];
}

/**
 * `-c` options that switch off the filter drivers a repository's configuration names
 * (`filter.<name>.clean/smudge/process` run for `git status` on a touched file). `list`
 * is `git config --name-only --get-regexp ^filter\.` output. Undefined when a name
 * cannot be overridden safely (an `=` in it): the caller then does not run that git.
 */
export function filterOffArgs(list: string): string[] | undefined {
  const names = new Set<string>();
  for (const line of list.split("\n")) {
    const m = /^filter\.(.*)\.[^.]+$/s.exec(line.trim());
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  const out: string[] = [];
  for (const n of names) {
    if (n.includes("=") || n.includes("\n")) return undefined;
    for (const key of ["clean", "smudge", "process"]) out.push("-c", `filter.${n}.${key}=`);
    out.push("-c", `filter.${n}.required=false`);
  }
  return out;
}

/** Whether this fledge is the compiled binary (its modules live in Bun's embedded file system). */
export function isCompiled(): boolean {
  return import.meta.url.includes("/$bunfs/") || import.meta.url.includes("/~BUN/");
}

/**
 * THE way fledge starts itself again (command shims, the git pre-push hook, the
 * confinement launcher): the compiled binary as is, or this Bun on src/main.ts with
 * {@link BUN_SAFE_FLAGS}, so a `.env` or `bunfig.toml` where it starts is never read.
 */
export function fledgeSelfCommand(entry: string = join(import.meta.dir, "..", "main.ts")): string[] {
  return isCompiled() ? [process.execPath] : [process.execPath, ...BUN_SAFE_FLAGS, entry];
}

/**
 * The files fledge itself runs from: the compiled binary, or (from source) fledge's
 * package folder, the Bun running it, and the packages it imports, which `bun add
 * fledge-cli` puts in a project's node_modules. A plugin that may write the project must
 * never write these: fledge would run its code unconfined on its next start.
 */
export function fledgeOwnFiles(): string[] {
  if (isCompiled()) return [process.execPath];
  const root = join(import.meta.dir, "..", "..");
  const out = [root, dirname(dirname(realpathSync(process.execPath)))];
  let deps: string[] = [];
  try {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    deps = Object.keys(pkg.dependencies ?? {});
  } catch {
    // no package.json next to the sources: only the folders above
  }
  for (const dep of deps) {
    try {
      out.push(packageFolder(Bun.resolveSync(dep, root), dep));
    } catch {
      // not installed: nothing to protect
    }
  }
  return out;
}

/** The folder of package `name` holding `file` (the nearest node_modules/<name> above it). */
function packageFolder(file: string, name: string): string {
  const marker = `${sep}node_modules${sep}${name}${sep}`;
  const at = file.lastIndexOf(marker);
  return at < 0 ? dirname(file) : file.slice(0, at + marker.length - 1);
}
