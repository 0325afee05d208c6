/**
 * Low-level checks on the pieces of a source: GitHub names, dot segments and git ref
 * names. Pure string functions; the decisions built on them live in classify.ts,
 * safety.ts and policy.ts.
 */

/** GitHub login/org: letters, digits and hyphens, not starting with a hyphen, at most 39 characters. */
const GITHUB_OWNER = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
/** GitHub repository name: letters, digits, `.`, `-`, `_`, at most 100 characters. */
const GITHUB_REPO = /^[A-Za-z0-9._-]{1,100}$/;

export function isGithubOwner(name: string): boolean {
  return GITHUB_OWNER.test(name);
}

/** A repository name that is also safe as a directory name and a command argument. */
export function isSafeRepoName(name: string): boolean {
  return GITHUB_REPO.test(name) && name !== "." && name !== ".." && !name.startsWith("-");
}

/**
 * Decode `%XX` escapes until nothing changes, so `%2e`, `%2E%2e` and double-encoded
 * `%252e` all become `.`. Invalid escapes are left as they are. Servers and proxies
 * differ in how many times they decode; checking the fixpoint covers all of them.
 */
export function percentDecodeFully(text: string): string {
  let current = text;
  for (let i = 0; i < 8; i++) {
    const next = current.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === current) return current;
    current = next;
  }
  return current;
}

export interface DotSegment {
  segment: "." | "..";
  /** True when the segment only appears after percent-decoding (`%2e%2e`, `%252e`...). */
  encoded: boolean;
}

/**
 * The first `.` or `..` segment of a path, looked for in the raw text and in its fully
 * percent-decoded form, splitting on both `/` and `\` (decoded `%2f`/`%5c` included).
 * Git and HTTP clients collapse such segments, so `CorvidLabs/../attacker/evil`
 * fetches `attacker/evil`: a path with one is never what it appears to name.
 */
export function findDotSegment(path: string): DotSegment | null {
  const candidates: Array<[string, boolean]> = [[path, false], [percentDecodeFully(path), true]];
  for (const [candidate, encoded] of candidates) {
    for (const segment of candidate.split(/[/\\]/)) {
      if (segment === ".." || segment === ".") return { segment, encoded };
    }
  }
  return null;
}

/** Characters git forbids anywhere in a ref name (git-check-ref-format rule 4 and 5), plus whitespace. */
const REF_FORBIDDEN = /[\u0000-\u0020\u007f~^:?*[\\]/;

/**
 * Why `ref` is not a ref fledge will pass to git or the GitHub API, or null when it is
 * fine. Follows git-check-ref-format, and adds the rule that matters most for us: a
 * leading `-` would be read as an option by git.
 */
export function refProblem(ref: string): string | null {
  if (ref.length === 0) return "the ref is empty";
  if (ref.startsWith("-")) return `ref '${ref}' starts with '-', which git would read as an option`;
  if (ref.length > 255) return `ref '${ref.slice(0, 40)}...' is longer than 255 characters`;
  const bad = REF_FORBIDDEN.exec(ref);
  if (bad) {
    const ch = bad[0];
    const shown = /[\u0000-\u0020\u007f]/.test(ch) ? (ch === " " ? "a space" : "a control character") : `'${ch}'`;
    return `ref '${printable(ref)}' contains ${shown}, which git does not allow in ref names`;
  }
  if (ref.includes("..")) return `ref '${ref}' contains '..'`;
  if (ref.includes("@{")) return `ref '${ref}' contains '@{'`;
  if (ref === "@") return "ref '@' is not a valid ref name";
  if (ref.startsWith("/")) return `ref '${ref}' starts with '/'`;
  if (ref.endsWith("/")) return `ref '${ref}' ends with '/'`;
  if (ref.endsWith(".")) return `ref '${ref}' ends with '.'`;
  if (ref.includes("//")) return `ref '${ref}' contains an empty component ('//')`;
  for (const component of ref.split("/")) {
    if (component.startsWith(".")) return `ref '${ref}' has a component starting with '.' ('${component}')`;
    if (component.endsWith(".lock")) return `ref '${ref}' has a component ending in '.lock'`;
  }
  if (findDotSegment(ref) !== null) return `ref '${ref}' has a percent-encoded '.' or '..' segment`;
  return null;
}

/** Make control and invisible formatting characters (bidi overrides too) visible instead of letting them reach the terminal. */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}
