/**
 * What a repository's own config makes git run from the work tree: `core.hooksPath =
 * tools/git-hooks` (its hooks run on commit), `include.path = ../.gitconfig.shared` and
 * `includeIf` paths (an included file can set `core.fsmonitor`, which runs on `git
 * status`), and the keys that name a command (`core.fsmonitor`, `core.sshCommand`,
 * filter, diff and merge drivers, `!` aliases...) when that command is a script in the
 * project. The `.git` folder is read-only in a writable grant, but those files are
 * ordinary project files: a plugin rewriting them would have its code run by the user's
 * next git command, outside the confinement. So before a run each of them stays
 * read-only too (repoConfigPaths), whether it exists yet or not.
 */
import { lstatSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve as resolvePathFrom } from "node:path";
import { followIncludes } from "../manifest/git-includes.ts";
import { readRegularFile } from "../core/read-file.ts";
import { commonDirOf } from "./runs-later.ts";

/** One `key = value` of a config: its section and subsection as git names them (`filter "lfs"` is section filter, sub lfs), lower-cased section and key. */
interface ConfigEntry {
  section: string;
  sub: string | undefined;
  key: string;
  value: string;
}

/** The entries of a git config text (enough of git's syntax for the keys below: sections, subsections, quoted values, comments). */
export function configEntries(text: string): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  let section = "";
  let sub: string | undefined;
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    const head = /^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]\s*(.*)$/.exec(line);
    if (head) {
      // `[core.x]` is the old spelling of a subsection.
      const [name, dotted] = head[1]!.split(/\.(.*)/s);
      section = name!.toLowerCase();
      sub = head[2] ?? dotted;
      line = head[3]!.trim();
      if (line === "") continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(line);
    if (!m || section === "") continue;
    out.push({ section, sub, key: m[1]!.toLowerCase(), value: unquote(m[2] ?? "") });
  }
  return out;
}

/** A value as git reads it: comments outside quotes dropped, quotes removed, `\"` and `\\` unescaped. */
function unquote(v: string): string {
  let out = "";
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '"') quoted = !quoted;
    else if (c === "\\" && i + 1 < v.length) out += v[++i] === "t" ? "\t" : v[i]!;
    else if (!quoted && (c === "#" || c === ";")) break;
    else out += c;
  }
  return out.trim();
}

/** THE decision which config keys name a command git runs (their values may name a project script). */
export function namesCommand(e: Pick<ConfigEntry, "section" | "sub" | "key">): boolean {
  switch (e.section) {
    case "core":
      return ["fsmonitor", "sshcommand", "editor", "pager", "askpass", "gitproxy", "hookspath"].includes(e.key);
    case "filter":
      return ["clean", "smudge", "process"].includes(e.key);
    case "diff":
      return e.key === "textconv" || e.key === "command" || e.key === "external";
    case "merge":
      return e.key === "driver";
    case "difftool":
    case "mergetool":
      return e.key === "cmd" || e.key === "path";
    case "alias":
    case "pager":
      return true;
    case "sequence":
      return e.key === "editor";
    case "gpg":
      return e.key === "program";
    case "credential":
      return e.key === "helper";
    case "interactive":
      return e.key === "difffilter";
    case "uploadpack":
      return e.key === "packobjectshook";
    default:
      return false;
  }
}

/** The words of a command that look like paths (`tools/x.sh`, `./fsmon`, `!sh scripts/a`), as written. */
function pathWords(value: string): string[] {
  return value
    .replace(/^!/, "")
    .split(/[\s;&|()<>`"']+/)
    .filter((w) => w.includes("/") && !w.startsWith("-") && !w.includes("$"));
}

/**
 * The git directory of a `.git` entry (a folder, or a file saying `gitdir: ...`) or of a
 * git directory found under another name; undefined when a `.git` file says nothing usable.
 */
function gitDirOf(entry: string): string | undefined {
  if (basename(entry) !== ".git") return entry;
  let st;
  try {
    st = lstatSync(entry);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return entry;
  const text = readRegularFile(entry, 4096)?.toString("utf8");
  const m = text === undefined ? null : /^gitdir:\s*(.+?)\s*$/m.exec(text);
  return m ? resolvePathFrom(dirname(entry), m[1]!) : undefined;
}

/**
 * THE list of project paths a repository's config makes git run or read config from:
 * its included files, `core.hooksPath`, and the path-like words of the commands it
 * names (relative ones against the work tree, where git runs them). `entry` is a `.git`
 * (the work tree is its folder) or a git directory under another name (no work tree:
 * relative paths are against it). The work tree itself and the folders above it are
 * never listed: the rest of the project is not made read-only by a `..` in a value.
 */
export function repoConfigPaths(entry: string, resolve: (p: string) => string): string[] {
  const gitDir = gitDirOf(entry);
  if (gitDir === undefined) return [];
  const base = basename(entry) === ".git" ? dirname(entry) : gitDir;
  const common = commonDirOf(gitDir);
  const starts = [join(gitDir, "config"), join(gitDir, "config.worktree"), ...(common === undefined ? [] : [join(common, "config")])];
  const { included, read } = followIncludes(starts, undefined, resolve);
  const out = [...included];
  for (const { text } of read) {
    if (text === undefined) continue;
    for (const e of configEntries(text)) {
      if (!namesCommand(e)) continue;
      const words = e.section === "core" && e.key === "hookspath" ? [e.value] : pathWords(e.value);
      for (const w of words) {
        if (w === "" || w.startsWith("~")) continue;
        out.push(isAbsolute(w) ? w : join(base, w));
      }
    }
  }
  const above = (p: string): boolean => base === p || base.startsWith(p.endsWith("/") ? p : `${p}/`);
  return [...new Set(out.flatMap((p) => [p, resolve(p)]))].filter((p) => !above(p));
}
