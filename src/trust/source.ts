import { EXIT, FledgeError } from "../core/index.ts";
import { findDotSegment, isGithubOwner, isSafeRepoName, printable } from "./names.ts";
import type { Source } from "./types.ts";

/**
 * Parsing of every source form (owner/repo[@ref], GitHub and git URLs, local paths).
 * This is the only place that
 * splits `@ref` and URL authorities, so the classifier, the safety check and the
 * installer always agree on what a source names.
 *
 * Decisions worth knowing:
 * - Local means a path form only (`/`, `./`, `../`, `.`, `..`, `~`, `~/`, `.\`,
 *   `..\`, `\`, `C:\`, `C:/`, or a `local:` prefix). A bare word that happens to
 *   exist as a directory is NOT local (the original's ambiguity, weakness 29).
 * - `file://` URLs are remote git sources (kind "git", unverified), as in the original.
 * - `@ref` is split at the first `@` after the URL authority (or after `host:` for
 *   `git@host:path`). GitHub owners and repos cannot contain `@`, so refs may contain
 *   both `/` and `@`. An `@` inside the authority (`https://user:token@host/`) is
 *   always credentials, never a ref.
 * - `https://github.com/o/r/tree/<ref>` (and `blob`, `commit`, `releases`, ...) is a
 *   web page, not a repository: parse error with the `o/r@<ref>` form as the hint.
 * - `github.com/o/r` without a scheme means `https://github.com/o/r`.
 * - `ssh://git@github.com/o/r.git` and `git@github.com:o/r.git` are GitHub sources;
 *   `http://` and `git://` to github.com are not (no authentication: unverified).
 * - Credentials: every userinfo of an http(s)/git/file URL is treated as secret (a
 *   GitHub token is often the user name alone); for ssh the user name is kept and only
 *   a password is secret. Secrets are replaced by `***` in `input` and dropped from
 *   every other field. The credentialed address is kept outside the object, in a
 *   WeakMap, and only `credentialedCloneUrl()` returns it: printing, logging,
 *   spreading or JSON-encoding a Source can never reveal it.
 * - Query strings and fragments are refused (tokens hide there too; git has no use for them).
 * - Control and invisible formatting characters (incl. bidi overrides) are refused,
 *   so a source can never smuggle terminal escapes or look like something else.
 */

const secretCloneUrls = new WeakMap<Source, string>();

/** The clone address including credentials when the user gave some; otherwise `source.cloneUrl`. Never print it. */
export function credentialedCloneUrl(source: Source): string | null {
  return secretCloneUrls.get(source) ?? source.cloneUrl;
}

const FORMS_HINT =
  "use owner/repo[@ref] for GitHub, an https://, ssh://, git:// or file:// URL, git@host:owner/repo.git, or a local path such as ./my-plugin";

const SUPPORTED_SCHEMES = new Set(["https", "http", "ssh", "git", "file", "git+ssh", "ssh+git"]);
const SSH_SCHEMES = new Set(["ssh", "git+ssh", "ssh+git"]);
const GITHUB_HOSTS = new Set(["github.com", "www.github.com"]);
/** Path words after owner/repo that make a github.com URL a web page rather than a repository. */
const GITHUB_WEB_PAGES = new Set(["tree", "blob", "commit", "commits", "releases", "tags", "pull", "pulls", "issues", "actions", "wiki"]);

const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const SCP_LIKE = /^([A-Za-z0-9_][A-Za-z0-9._-]*)@([A-Za-z0-9][A-Za-z0-9.-]*):(.*)$/s;
const HOST_PORT = /^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PLAIN_USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
// Cc: control characters; Cf: invisible formatting (bidi overrides, zero-width joiners, BOM).
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

function invalidSource(message: string, hint: string = FORMS_HINT): FledgeError {
  return new FledgeError(message, { code: "invalid_source", exitCode: EXIT.error, hint });
}

/**
 * Replace anything that may be a secret with `***`: URL userinfo (keeping an ssh user
 * name), query strings and fragments, and in non-URL text a word before `@` that has no
 * `/` (`token@github.com/o/r`). Used for `Source.input` and for every error message.
 */
export function redactSource(text: string): string {
  const url = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/]*)(.*)$/s.exec(text);
  if (url) {
    const [, prefix = "", authority = "", rest = ""] = url;
    const scheme = prefix.slice(0, -3).toLowerCase();
    const at = authority.lastIndexOf("@");
    let shownAuthority = authority;
    if (at !== -1) {
      const userinfo = authority.slice(0, at);
      const host = authority.slice(at + 1);
      const colon = userinfo.indexOf(":");
      const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
      if (SSH_SCHEMES.has(scheme) && PLAIN_USER.test(user)) shownAuthority = `${user}${colon === -1 ? "" : ":***"}@${host}`;
      else shownAuthority = `***@${host}`;
    }
    return `${prefix}${`${shownAuthority}${rest}`.replace(/[?#].*$/s, (m) => `${m[0]}***`)}`;
  }
  const at = text.indexOf("@");
  if (at > 0 && !SCP_LIKE.test(text)) {
    const before = text.slice(0, at);
    if (!before.includes("/") && !before.includes("\\")) return `***${text.slice(at)}`;
  }
  return text;
}

/** Parse a plugin source. Throws FledgeError (code `invalid_source`, exit 1) naming the problem. */
export function parseSource(input: string): Source {
  const text = input.trim();
  if (text === "") throw invalidSource("the plugin source is empty");
  const shown = printable(redactSource(text));
  if (INVISIBLE.test(text)) {
    throw invalidSource(`plugin source '${shown}' contains control or invisible formatting characters`, "type the source again without them");
  }
  if (text.startsWith("local:")) {
    const path = text.slice("local:".length);
    if (path.trim() === "") throw invalidSource("'local:' needs a path after it, e.g. local:./my-plugin");
    return localSource(text, path);
  }
  if (isLocalPathForm(text)) return localSource(text, text);
  const scheme = URL_SCHEME.exec(text);
  if (scheme) return parseUrl(shown, scheme[1]!.toLowerCase(), text.slice(scheme[0].length));
  const scp = SCP_LIKE.exec(text);
  if (scp) return parseScpLike(shown, scp[1]!, scp[2]!, scp[3]!);
  if (/^(www\.)?github\.com\//i.test(text)) return parseUrl(shown, "https", text);
  return parseShorthand(shown, text);
}

/** Path forms only; see the file comment. */
export function isLocalPathForm(text: string): boolean {
  if (text === "." || text === ".." || text === "~") return true;
  if (["/", "./", "../", "~/", ".\\", "..\\", "\\"].some((p) => text.startsWith(p))) return true;
  return /^[A-Za-z]:[\\/]/.test(text);
}

function localSource(input: string, path: string): Source {
  return freeze({
    input,
    kind: "local",
    base: path,
    ref: null,
    owner: null,
    repo: null,
    host: null,
    path,
    hasCredentials: false,
    cloneUrl: null,
  });
}

/** Split `path@ref` at the first `@`; an `@` with nothing after it is an error, not "no ref". */
function splitRef(shown: string, pathAndRef: string): { path: string; ref: string | null } {
  const at = pathAndRef.indexOf("@");
  if (at === -1) return { path: pathAndRef, ref: null };
  const ref = pathAndRef.slice(at + 1);
  if (ref === "") throw invalidSource(`plugin source '${shown}' ends with '@' but no ref`, "put a branch, tag or commit after '@' (owner/repo@v1.2.0), or drop the '@'");
  return { path: pathAndRef.slice(0, at), ref };
}

interface GithubPath {
  path: string;
  owner: string | null;
  repo: string | null;
}

/**
 * `owner/repo[.git][/]` → its parts. owner/repo are set only for exactly two clean
 * segments with valid GitHub names; anything else (dot segments, extra segments,
 * percent escapes, empty parts) leaves them null so it can never match a trust list.
 */
function githubPath(raw: string): GithubPath {
  let path = raw.endsWith("/") ? raw.slice(0, -1) : raw;
  if (path.toLowerCase().endsWith(".git")) path = path.slice(0, -4);
  const segments = path.split("/");
  const [owner, repo] = segments;
  if (segments.length === 2 && owner !== undefined && repo !== undefined && isGithubOwner(owner) && isSafeRepoName(repo) && findDotSegment(path) === null) {
    return { path, owner, repo };
  }
  return { path, owner: null, repo: null };
}

function refuseGithubWebPage(shown: string, gp: GithubPath): void {
  const segments = gp.path.split("/");
  const [owner, repo, page] = segments;
  if (owner === undefined || repo === undefined || page === undefined) return;
  if (!GITHUB_WEB_PAGES.has(page) || findDotSegment(gp.path) !== null) return;
  if (!isGithubOwner(owner) || !isSafeRepoName(repo)) return;
  const rest = segments.slice(3).join("/");
  // `tree/feat/x` is ambiguous (branch `feat/x`, or directory `x` of `feat`): only suggest a one-word ref.
  const example = page === "tree" && rest !== "" && !rest.includes("/") ? `${owner}/${repo}@${rest}` : `${owner}/${repo}@<ref>`;
  throw invalidSource(
    `'${shown}' is a GitHub web page address, not a repository`,
    `install the repository with '${owner}/${repo}', or pin a branch, tag or commit with '${example}'`,
  );
}

function parseUrl(shown: string, scheme: string, rest: string): Source {
  if (!SUPPORTED_SCHEMES.has(scheme)) {
    throw invalidSource(`plugin source '${shown}' uses the unsupported URL scheme '${scheme}://'`);
  }
  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const pathAndRef = slash === -1 ? "" : rest.slice(slash);
  // Anywhere after the scheme: URL parsers disagree on where `#`/`?` end the authority.
  if (/[?#]/.test(rest)) {
    throw invalidSource(`plugin source '${shown}' has a query string or fragment, which fledge does not use`, "remove everything from '?' or '#'; to pick a branch or tag, put it after '@' (…/repo.git@v1.0.0)");
  }

  // `https://evil.com\@github.com/...`: WHATWG parsers read `\` as `/` (host evil.com),
  // git and curl do not (host github.com). Refuse rather than pick one reading.
  if (/[\\\s]/.test(authority)) {
    throw invalidSource(`the address part of plugin source '${shown}' contains a backslash or whitespace`, "write the host as host.name, and percent-encode such characters in credentials");
  }
  const at = authority.lastIndexOf("@");
  const userinfo = at === -1 ? null : authority.slice(0, at);
  const hostPort = authority.slice(at + 1);
  let keptUser: string | null = null;
  let hasCredentials = false;
  if (userinfo !== null) {
    const colon = userinfo.indexOf(":");
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (SSH_SCHEMES.has(scheme) && PLAIN_USER.test(user)) {
      keptUser = user;
      hasCredentials = colon !== -1;
    } else {
      hasCredentials = true;
    }
  }
  if (hostPort === "" ? scheme !== "file" : !HOST_PORT.test(hostPort)) {
    throw invalidSource(`the host in plugin source '${shown}' is missing or not a valid host name`);
  }

  const { path: urlPath, ref } = splitRef(shown, pathAndRef);
  const host = hostPort.toLowerCase();
  const base = `${scheme}://${keptUser === null ? "" : `${keptUser}@`}${hostPort}${urlPath}`;
  const secret = hasCredentials ? `${scheme}://${userinfo}@${hostPort}${urlPath}` : null;
  const isGithub = GITHUB_HOSTS.has(host) && (scheme === "https" || SSH_SCHEMES.has(scheme));

  if (isGithub) {
    const gp = githubPath(urlPath.startsWith("/") ? urlPath.slice(1) : urlPath);
    refuseGithubWebPage(shown, gp);
    return withSecret(githubSource(shown, base, ref, gp, hasCredentials), secret);
  }
  return withSecret(
    freeze({
      input: shown,
      kind: "git",
      base,
      ref,
      owner: null,
      repo: repoNameOf(urlPath),
      host: host === "" ? null : host,
      path: urlPath,
      hasCredentials,
      cloneUrl: base,
    }),
    secret,
  );
}

function parseScpLike(shown: string, user: string, hostText: string, rest: string): Source {
  const { path: repoPath, ref } = splitRef(shown, rest);
  const host = hostText.toLowerCase();
  const base = `${user}@${hostText}:${repoPath}`;
  if (GITHUB_HOSTS.has(host) && user === "git") {
    const gp = githubPath(repoPath);
    refuseGithubWebPage(shown, gp);
    return githubSource(shown, base, ref, gp, false);
  }
  return freeze({
    input: shown,
    kind: "git",
    base,
    ref,
    owner: null,
    repo: repoNameOf(repoPath),
    host,
    path: repoPath,
    hasCredentials: false,
    cloneUrl: base,
  });
}

function parseShorthand(shown: string, text: string): Source {
  if (text.includes(":")) {
    throw invalidSource(`'${shown}' is not a recognised plugin source`, `for GitHub over ssh write git@github.com:owner/repo.git; otherwise ${FORMS_HINT}`);
  }
  const at = text.indexOf("@");
  if (at === 0) throw invalidSource(`plugin source '${shown}' has nothing before '@'`, "write owner/repo@ref");
  const { path: written, ref } = splitRef(shown, text);
  if (!written.includes("/")) {
    // Echo the word back only when redaction left it alone (it may be a token otherwise).
    const example = shown === text ? `./${written.replaceAll("\\", "/")}` : "./my-plugin";
    throw invalidSource(`'${shown}' is not a recognised plugin source`, `a GitHub source is owner/repo; a local directory needs a path form such as ${example}`);
  }
  const gp = githubPath(written);
  return githubSource(shown, gp.owner !== null && gp.repo !== null ? `${gp.owner}/${gp.repo}` : written, ref, gp, false);
}

/** Every GitHub form ends here: one shape, and the clone URL only for a clean owner/repo. */
function githubSource(shown: string, base: string, ref: string | null, gp: GithubPath, hasCredentials: boolean): Source {
  return freeze({
    input: shown,
    kind: "github",
    base,
    ref,
    owner: gp.owner,
    repo: gp.repo,
    host: "github.com",
    path: gp.path,
    hasCredentials,
    cloneUrl: gp.owner !== null && gp.repo !== null ? `https://github.com/${gp.owner}/${gp.repo}.git` : null,
  });
}

/** Last path segment without `.git`, when it is a safe name. */
function repoNameOf(path: string): string | null {
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  const last = trimmed.slice(Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf(":")) + 1);
  const name = last.toLowerCase().endsWith(".git") ? last.slice(0, -4) : last;
  return isSafeRepoName(name) ? name : null;
}

function freeze(source: Source): Source {
  return Object.freeze(source);
}

function withSecret(source: Source, secret: string | null): Source {
  if (secret !== null) secretCloneUrls.set(source, secret);
  return source;
}
