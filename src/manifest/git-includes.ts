/**
 * What git's start-up configuration pulls in: `[include] path = ...` and
 * `[includeIf "..."] path = ...` in ~/.gitconfig and ~/.config/git/config (and in
 * what those include). An included file runs code just like the file including it
 * (core.fsmonitor, core.pager, aliases), so it must stay out of every writable grant
 * too; a dotfiles repository is where these usually live.
 */
import { dirname, isAbsolute, join } from "node:path";
import { readRegularFile } from "../core/read-file.ts";

/** Git's own start-up files, relative to home. */
export const GIT_START_FILES: readonly string[] = [".gitconfig", ".config/git/config"];
/** Config files are small; a bigger or deeper one is not followed further (it is still listed). */
const MAX_BYTES = 256 * 1024;
const MAX_FILES = 64;

/** The `path = ...` values of a config's [include] and [includeIf ...] sections, as written. */
export function includePaths(text: string): string[] {
  const out: string[] = [];
  let inInclude = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inInclude = /^\[\s*include(if)?(\s|\])/i.test(line);
      continue;
    }
    if (!inInclude) continue;
    const m = /^path\s*=\s*(.*?)\s*$/i.exec(line);
    if (!m?.[1]) continue;
    let v = m[1].replace(/\s[#;].*$/, "");
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v !== "") out.push(v);
  }
  return out;
}

/** A config file git reads and its text (undefined: not there, not a regular file, or too large). */
export interface ReadConfig {
  file: string;
  text: string | undefined;
}

/**
 * Config files `starts` and everything they include, transitively, each read once:
 * `included` lists the included files as written and as git finds them (not resolved:
 * the caller follows links), `read` every file with its text. `~/` is `home` (skipped
 * without one); a relative path is relative to the folder of the file including it.
 */
export function followIncludes(starts: readonly string[], home: string | undefined, resolve: (p: string) => string): { included: string[]; read: ReadConfig[] } {
  const seen = new Set<string>();
  const included: string[] = [];
  const read: ReadConfig[] = [];
  const queue = [...starts];
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const file = queue.shift() as string;
    const real = resolve(file);
    if (seen.has(real)) continue;
    seen.add(real);
    // The target is read (never through a link, never a FIFO): a planted oddity is a miss, not a hang.
    const text = readRegularFile(real, MAX_BYTES)?.toString("utf8");
    read.push({ file, text });
    if (text === undefined) continue;
    for (const p of includePaths(text)) {
      const tilde = p === "~" || p.startsWith("~/");
      if (tilde && (home === undefined || !isAbsolute(home))) continue;
      // A relative path: git reads it against the including file as named; a linked one's target folder is kept out too.
      const places = tilde ? [join(home as string, p.slice(1))] : isAbsolute(p) ? [p] : [join(dirname(file), p), join(dirname(real), p)];
      for (const abs of places) {
        included.push(abs);
        queue.push(abs);
      }
    }
  }
  return { included, read };
}

/**
 * Every file git's start-up files include, absolute, as written (not resolved: the
 * caller follows links like for any start-up file). `~/` is home; a relative path is
 * relative to the folder of the file including it, as git reads it.
 */
export function gitIncludedFiles(home: string, resolve: (p: string) => string): string[] {
  if (!isAbsolute(home)) return [];
  return followIncludes(GIT_START_FILES.map((rel) => join(home, rel)), home, resolve).included;
}
