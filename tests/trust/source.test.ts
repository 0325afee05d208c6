import { describe, expect, test } from "bun:test";
import { credentialedCloneUrl, parseSource, type Source } from "../../src/trust/index.ts";
import { isFledgeError } from "../../src/ui/index.ts";

type Expect = Partial<Source>;

/** Every accepted form: [input, the fields it must parse to]. */
const ACCEPTED: Array<[string, Expect]> = [
  // GitHub shorthand
  ["CorvidLabs/fledge-plugin-hello", { kind: "github", base: "CorvidLabs/fledge-plugin-hello", ref: null, owner: "CorvidLabs", repo: "fledge-plugin-hello", host: "github.com", cloneUrl: "https://github.com/CorvidLabs/fledge-plugin-hello.git" }],
  ["someone/rune@chore/0.2.0-launch-prep", { kind: "github", base: "someone/rune", ref: "chore/0.2.0-launch-prep", owner: "someone", repo: "rune" }],
  ["owner/repo@v1.2.0", { base: "owner/repo", ref: "v1.2.0", owner: "owner", repo: "repo" }],
  ["owner/repo@a@b", { base: "owner/repo", ref: "a@b" }],
  ["owner/repo.git", { base: "owner/repo", repo: "repo", path: "owner/repo" }],
  ["owner/repo/", { base: "owner/repo", repo: "repo" }],
  ["owner/my.repo_x-1", { repo: "my.repo_x-1" }],
  ["owner/.github", { repo: ".github" }],
  ["  owner/repo  ", { input: "owner/repo", base: "owner/repo" }],
  ["CORVIDLABS/x", { owner: "CORVIDLABS" }],
  // github.com URLs
  ["https://github.com/owner/repo", { kind: "github", base: "https://github.com/owner/repo", owner: "owner", repo: "repo", ref: null, cloneUrl: "https://github.com/owner/repo.git" }],
  ["https://github.com/owner/repo.git@v1", { kind: "github", base: "https://github.com/owner/repo.git", ref: "v1", repo: "repo" }],
  ["https://github.com/owner/repo/", { owner: "owner", repo: "repo" }],
  ["https://github.com/owner/repo@feature/x/y", { ref: "feature/x/y", repo: "repo" }],
  ["HTTPS://GitHub.com/Owner/Repo", { kind: "github", host: "github.com", owner: "Owner", repo: "Repo", base: "https://GitHub.com/Owner/Repo" }],
  ["https://www.github.com/o/r", { kind: "github", owner: "o", repo: "r" }],
  ["github.com/o/r@v2", { kind: "github", base: "https://github.com/o/r", ref: "v2", owner: "o" }],
  ["git@github.com:owner/repo.git", { kind: "github", base: "git@github.com:owner/repo.git", owner: "owner", repo: "repo", ref: null, hasCredentials: false }],
  ["git@github.com:owner/repo.git@feature/x", { base: "git@github.com:owner/repo.git", ref: "feature/x" }],
  ["git@github.com:owner/repo", { kind: "github", owner: "owner", repo: "repo" }],
  ["ssh://git@github.com/owner/repo.git", { kind: "github", base: "ssh://git@github.com/owner/repo.git", owner: "owner", hasCredentials: false }],
  // credentials in the authority are never a ref
  ["https://user:token@github.com/o/r.git", { kind: "github", base: "https://github.com/o/r.git", ref: null, hasCredentials: true, input: "https://***@github.com/o/r.git", owner: "o" }],
  ["https://user:token@github.com/o/r.git@feature/thing", { base: "https://github.com/o/r.git", ref: "feature/thing", hasCredentials: true }],
  ["https://ghp_abc123@github.com/o/r", { hasCredentials: true, base: "https://github.com/o/r", input: "https://***@github.com/o/r" }],
  ["https://user:p@ss@github.com/o/r@v1", { hasCredentials: true, base: "https://github.com/o/r", ref: "v1", host: "github.com" }],
  ["ssh://git:hunter2@example.com/x/y.git", { kind: "git", hasCredentials: true, base: "ssh://git@example.com/x/y.git", input: "ssh://git:***@example.com/x/y.git", repo: "y" }],
  ["https://oauth2:glpat-xyz@gitlab.com/g/r.git", { kind: "git", hasCredentials: true, base: "https://gitlab.com/g/r.git" }],
  // other git URLs
  ["ssh://git@example.com/group/repo.git", { kind: "git", base: "ssh://git@example.com/group/repo.git", hasCredentials: false, owner: null, repo: "repo", host: "example.com" }],
  ["git://example.com/repo.git", { kind: "git", repo: "repo", cloneUrl: "git://example.com/repo.git" }],
  ["http://github.com/o/r", { kind: "git", host: "github.com", owner: null, repo: "r" }],
  ["git://github.com/o/r", { kind: "git", owner: null }],
  ["file:///tmp/repo.git", { kind: "git", host: null, repo: "repo", path: "/tmp/repo.git", base: "file:///tmp/repo.git" }],
  ["file:///tmp/repo@v2", { kind: "git", ref: "v2", base: "file:///tmp/repo" }],
  ["https://gitlab.com/group/sub/repo.git@v3", { kind: "git", repo: "repo", ref: "v3", base: "https://gitlab.com/group/sub/repo.git", owner: null }],
  ["https://gitlab.com:8443/g/r", { kind: "git", host: "gitlab.com:8443" }],
  ["https://github.com:443/o/r", { kind: "git", host: "github.com:443" }],
  ["git@gitlab.com:group/repo.git@v1", { kind: "git", base: "git@gitlab.com:group/repo.git", ref: "v1", repo: "repo" }],
  ["git+ssh://git@example.com/r.git", { kind: "git", repo: "r" }],
  // local paths: never split at '@', never a ref
  ["/abs/path/plugin", { kind: "local", base: "/abs/path/plugin", path: "/abs/path/plugin", ref: null, owner: null, repo: null, host: null, cloneUrl: null }],
  ["./my-plugin", { kind: "local", base: "./my-plugin" }],
  ["../my-plugin", { kind: "local" }],
  [".", { kind: "local", base: "." }],
  ["..", { kind: "local", base: ".." }],
  ["~", { kind: "local" }],
  ["~/plugins/x", { kind: "local", base: "~/plugins/x" }],
  ["./dir@v1", { kind: "local", base: "./dir@v1", ref: null }],
  ["local:my-plugin", { kind: "local", base: "my-plugin", input: "local:my-plugin" }],
  ["local:./x@y", { kind: "local", base: "./x@y", ref: null }],
  ["local:owner/repo", { kind: "local", base: "owner/repo" }],
  ["C:\\Users\\me\\plugin", { kind: "local", base: "C:\\Users\\me\\plugin" }],
  ["C:/Users/me/plugin", { kind: "local" }],
  [".\\plugin", { kind: "local" }],
  ["..\\plugin", { kind: "local" }],
  ["\\\\server\\share\\plugin", { kind: "local" }],
  // parse, but name nothing trustworthy (owner/repo null): classify and checkSourceSafety act on them
  ["CorvidLabs/../attacker/evil", { kind: "github", owner: null, repo: null, path: "CorvidLabs/../attacker/evil", cloneUrl: null }],
  ["CorvidLabs/%2e%2e/attacker/evil", { kind: "github", owner: null, repo: null }],
  ["https://github.com/CorvidLabs/../attacker/evil", { kind: "github", owner: null, path: "CorvidLabs/../attacker/evil" }],
  ["https://github.com/CorvidLabs/x/tree/../../attacker/evil", { kind: "github", owner: null }],
  ["CorvidLabs/x/extra", { kind: "github", owner: null, repo: null }],
  ["owner//repo", { owner: null }],
  ["CorvidLabs/", { owner: null, repo: null }],
  ["-owner/repo", { owner: null }],
  ["owner/-repo", { repo: null }],
  ["~user/x", { kind: "github", owner: null }],
  ["owner/re po", { repo: null }],
];

describe("parseSource: accepted forms", () => {
  test.each(ACCEPTED)("%p", (input, expected) => {
    const source = parseSource(input);
    for (const [key, value] of Object.entries(expected)) {
      expect({ key, value: source[key as keyof Source] }).toEqual({ key, value });
    }
  });
});

/** Rejected: [input, text the message must contain, text it must not contain]. */
const REJECTED: Array<[string, string, string | null]> = [
  ["", "empty", null],
  ["   ", "empty", null],
  ["\t\n", "empty", null],
  ["foo", "not a recognised plugin source", null],
  ["owner\\repo", "not a recognised plugin source", null],
  ["owner/repo@", "ends with '@' but no ref", null],
  ["https://github.com/o/r@", "ends with '@'", null],
  ["git@github.com:o/r.git@", "ends with '@'", null],
  ["@v1", "nothing before '@'", null],
  ["ftp://example.com/x/y", "unsupported URL scheme 'ftp://'", null],
  ["javascript://x/y", "unsupported URL scheme", null],
  ["https://github.com/o/r?access_token=s3cr3t", "query string", "s3cr3t"],
  ["https://github.com/o/r#frag", "query string or fragment", null],
  ["github.com:o/r", "not a recognised plugin source", null],
  ["ext::sh -c touch% /tmp/pwned", "not a recognised plugin source", null],
  ["local:", "needs a path", null],
  ["owner/re\u202epo", "invisible", null],
  ["owner/repo\nX", "control", null],
  ["owner/repo@v1\u001b]52;c;x\u0007", "control", null],
  ["https:///o/r", "host", null],
  ["https://-oProxyCommand=x/o/r", "host", null],
  ["https://github.com/o/r/tree/main", "web page", null],
  ["https://github.com/o/r/blob/main/README.md", "web page", null],
  ["github.com/o/r/releases/tag/v1", "web page", null],
  ["ghp_s3cr3t@github.com/o/r", "not a recognised", "ghp_s3cr3t"],
  ["https://user:s3cr3t@bad_host!/o/r", "host", "s3cr3t"],
  // URL parsers disagree on these authorities: refuse instead of guessing the host
  ["https://evil.com\\@github.com/CorvidLabs/x", "backslash", null],
  ["https://github.com#@evil.com/CorvidLabs/x", "query string or fragment", null],
  ["https://github.com?@evil.com/CorvidLabs/x", "query string or fragment", null],
  ["https://u:p#s3cr3t@github.com/o/r", "query string or fragment", "s3cr3t"],
  ["https://git hub.com/o/r", "whitespace", null],
  ["https://host#s3cr3t", "query string or fragment", "s3cr3t"],
  ["https://host?token=s3cr3t", "query string or fragment", "s3cr3t"],
];

describe("parseSource: rejected input is a FledgeError naming the problem", () => {
  test.each(REJECTED)("%p", (input, mustContain, mustNotContain) => {
    let caught: unknown;
    try {
      parseSource(input);
    } catch (e) {
      caught = e;
    }
    expect(isFledgeError(caught)).toBe(true);
    if (!isFledgeError(caught)) return;
    expect(caught.code).toBe("invalid_source");
    expect(caught.exitCode).toBe(1);
    expect(caught.message).toContain(mustContain);
    expect(caught.hint ?? "").not.toBe("");
    if (mustNotContain) expect(`${caught.message} ${caught.hint}`).not.toContain(mustNotContain);
    expect(caught.message).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  test("a tree URL's hint gives the owner/repo@ref form", () => {
    expect(() => parseSource("https://github.com/o/r/tree/main")).toThrow(expect.objectContaining({ hint: expect.stringContaining("'o/r@main'") }));
  });
});

describe("credentials never reach a printable field", () => {
  const cases: Array<[string, string]> = [
    ["https://user:tok-SECRET-1@github.com/o/r.git", "tok-SECRET-1"],
    ["https://tok-SECRET-2@github.com/o/r.git@feature/thing", "tok-SECRET-2"],
    ["https://x-access-token:tok-SECRET-3@example.com/g/r.git", "tok-SECRET-3"],
    ["ssh://git:tok-SECRET-4@example.com/g/r.git@v1", "tok-SECRET-4"],
    ["https://us@er:tok-SECRET-5@github.com/o/r", "tok-SECRET-5"],
  ];
  test.each(cases)("%p", (input, secret) => {
    const source = parseSource(input);
    expect(source.hasCredentials).toBe(true);
    expect(JSON.stringify(source)).not.toContain(secret);
    expect(Bun.inspect(source)).not.toContain(secret);
    expect(JSON.stringify({ ...source })).not.toContain(secret);
    for (const value of Object.values(source)) expect(String(value)).not.toContain(secret);
    // The installer can still clone with them, through the one accessor.
    expect(credentialedCloneUrl(source)).toContain(secret);
  });

  test("without credentials the clone URL is the public one", () => {
    const s = parseSource("owner/repo@v1");
    expect(s.hasCredentials).toBe(false);
    expect(credentialedCloneUrl(s)).toBe("https://github.com/owner/repo.git");
    expect(credentialedCloneUrl(parseSource("./x"))).toBeNull();
  });

  test("sources are frozen", () => {
    const s = parseSource("owner/repo");
    expect(Object.isFrozen(s)).toBe(true);
  });
});
