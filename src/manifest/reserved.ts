/**
 * Names fledge itself uses inside its folders. A plugin's folder is `plugins/<name>`,
 * so a plugin named `bin` would BE the shim folder (the folder the README tells users
 * to put on PATH), and one named `.staging-1` would be removed as a dead install's
 * leftovers. Every door a plugin name comes through (the manifest, the source's repo
 * name, the registry read from disk, `fledgePaths().pluginDir`) asks this one
 * function, so no plugin can ever be given, or take over, a folder fledge owns.
 *
 * The comparison is deliberately wider than any one file system: case is folded (macOS
 * and Windows ignore it: `BIN` is `bin`), trailing dots and spaces are dropped (Windows
 * drops them: `bin.` is `bin`), Unicode is NFKC-folded with look-alike letters mapped to
 * ASCII (`ｂｉｎ`, Cyrillic `віn`), and invisible characters are ignored.
 */

/** Exact names (after folding) fledge uses in `<config>/` and `<config>/plugins/`. */
export const RESERVED_NAMES: readonly string[] = [
  // plugins/: the shim folder, and room for fledge's own bookkeeping.
  "bin",
  "cache",
  "tmp",
  "temp",
  "staging",
  "journal",
  "lock",
  "locks",
  "trash",
  "backup",
  // <config>/: the registry, its lock, the config, the caches, a plugin's own files.
  "plugins",
  "plugins.toml",
  "plugins.toml.lock",
  "plugins.journal.json",
  "config.toml",
  "cache.key",
  "state.json",
  "data",
  // Windows device names: a folder with one of these names cannot be created there.
  "con",
  "prn",
  "aux",
  "nul",
  ...Array.from({ length: 9 }, (_, i) => `com${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `lpt${i + 1}`),
];

/**
 * Prefixes fledge uses for its own entries: `.staging-<pid>-…` (installs in flight),
 * `.<file>.tmp.…` (atomic writes), and any dot name (fledge keeps its hidden files
 * next to plugins; no plugin needs a hidden folder name).
 */
export const RESERVED_PREFIXES: readonly string[] = [".staging-", ".journal", "."];

/** Suffixes of fledge's lock, temp and journal files. */
export const RESERVED_SUFFIXES: readonly string[] = [".lock", ".tmp", ".journal", ".journal.json"];

/** Letters from other scripts that look like ASCII ones (the common confusables). */
const LOOKALIKES: Record<string, string> = {
  // Cyrillic
  а: "a", в: "b", е: "e", к: "k", м: "m", н: "h", о: "o", р: "p", с: "c", т: "t", у: "y", х: "x",
  і: "i", ј: "j", ѕ: "s", ԁ: "d", ɡ: "g", һ: "h", ӏ: "l", ԛ: "q", ԝ: "w",
  // Greek
  α: "a", β: "b", ε: "e", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", τ: "t", υ: "u", χ: "x",
  // Latin look-alikes
  ı: "i", ȷ: "j", ſ: "s", ℓ: "l",
};

/** Characters with no visible width (zero-width joiners, BOM, soft hyphen, variation selectors). */
const INVISIBLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]/gu;

/** The form two names share when a file system (or a human) would take them for the same name. */
export function foldName(name: string): string {
  let s = name.normalize("NFKC").replace(INVISIBLE, "").toLowerCase();
  s = [...s].map((c) => LOOKALIKES[c] ?? c).join("");
  // Strip combining marks so `bïn` (b + i + U+0308) folds with `bin`.
  s = s.normalize("NFKD").replace(/\p{M}/gu, "");
  // Windows drops trailing dots and spaces: `bin.` and `bin ` name `bin`.
  return s.replace(/[. ]+$/u, "");
}

/**
 * THE reserved-name rule: may `name` never be a plugin's folder name? Returns a short
 * reason when it is reserved, else undefined.
 */
export function reservedNameReason(name: string): string | undefined {
  const folded = foldName(name);
  if (folded === "") return "it is empty once trailing dots and spaces are removed";
  if (RESERVED_NAMES.includes(folded)) return `fledge uses '${folded}' for its own files`;
  // `nul.txt` is still the device on Windows.
  if (/^(con|prn|aux|nul|com\d|lpt\d)$/.test(folded.replace(/\..*$/, ""))) return "it is a Windows device name";
  const prefix = RESERVED_PREFIXES.find((p) => folded.startsWith(p));
  if (prefix !== undefined) return `names starting with '${prefix}' are fledge's own (staging and temporary files)`;
  const suffix = RESERVED_SUFFIXES.find((p) => folded.endsWith(p));
  if (suffix !== undefined) return `names ending in '${suffix}' are fledge's own (lock and temporary files)`;
  return undefined;
}

export function isReservedName(name: string): boolean {
  return reservedNameReason(name) !== undefined;
}
