import { findDotSegment, refProblem } from "./names.ts";
import type { Source } from "./types.ts";

/**
 * The install-time refusal of sources that could fetch something other than what they
 * name or inject options into git: a `.`/`..` path segment (literal or percent-encoded,
 * at any depth of encoding), a ref git would read as an option or rejects as a ref
 * name, a GitHub path that is not exactly `owner/repo`, and a git path starting with
 * `-`. Returns a message naming the problem, or null when the source may be fetched.
 * Local paths are never refused here: `..` in a path you typed is your choice.
 */
export function checkSourceSafety(source: Source): string | null {
  if (source.kind === "local") return null;
  const dot = findDotSegment(source.path);
  if (dot !== null) {
    return `plugin source '${source.input}' has a ${dot.encoded ? "percent-encoded " : ""}'${dot.segment}' path segment; '.' and '..' segments are not allowed in a remote source because git and HTTP clients collapse them and would fetch a different repository`;
  }
  if (source.ref !== null) {
    const problem = refProblem(source.ref);
    if (problem !== null) return `plugin source '${source.input}': ${problem}; use a branch, tag or commit name that git accepts`;
  }
  if (source.kind === "github" && (source.owner === null || source.repo === null)) {
    return `plugin source '${source.input}' does not name a GitHub repository: expected owner/repo, where the owner has letters, digits and '-', and the repo letters, digits, '.', '-' and '_'`;
  }
  if (source.path.startsWith("-")) {
    return `plugin source '${source.input}' has a path starting with '-', which git would read as an option`;
  }
  return null;
}
