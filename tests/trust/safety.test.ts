import { describe, expect, test } from "bun:test";
import { checkSourceSafety, parseSource, refProblem } from "../../src/trust/index.ts";

/** Sources install may fetch. */
const SAFE: string[] = [
  "CorvidLabs/fledge-plugin-hello",
  "CorvidLabs/x@v1.0.0",
  "someone/rune@chore/0.2.0-launch-prep",
  "owner/repo@a@b",
  "owner/repo@release-1.0_rc.2",
  "owner/repo@0123456789abcdef0123456789abcdef01234567",
  "owner/.github",
  "https://github.com/owner/repo.git@feature/thing",
  "https://user:token@github.com/o/r.git@feature/thing",
  "git@github.com:owner/repo.git@v2",
  "https://gitlab.com/group/sub/repo.git",
  "ssh://git@example.com/x/y.git",
  "file:///srv/git/repo.git",
  "./my-plugin",
  "../../plugins/x",
  "..",
  "/opt/a/../b",
  "local:../x",
];

describe("checkSourceSafety: accepted", () => {
  test.each(SAFE)("%p", (input) => {
    expect(checkSourceSafety(parseSource(input))).toBeNull();
  });
});

/** [source, phrase the refusal must contain]. */
const UNSAFE: Array<[string, string]> = [
  ["CorvidLabs/../attacker/evil", "'..' path segment"],
  ["CorvidLabs/./x", "'.' path segment"],
  ["CorvidLabs/%2e%2e/attacker/evil", "percent-encoded '..'"],
  ["CorvidLabs/%2E%2E/attacker/evil", "percent-encoded '..'"],
  ["CorvidLabs/%2e%2E/attacker/evil", "percent-encoded '..'"],
  ["CorvidLabs/.%2E/attacker/evil", "percent-encoded '..'"],
  ["CorvidLabs/%252e%252e/attacker/evil", "percent-encoded '..'"],
  ["CorvidLabs%2F..%2Fattacker/evil", "'..' path segment"],
  ["https://github.com/CorvidLabs/%2e%2e/attacker/evil", "percent-encoded '..'"],
  ["https://evil.example/a/../b.git", "'..' path segment"],
  ["git@github.com:CorvidLabs/../attacker/evil.git", "'..' path segment"],
  ["file:///srv/../etc/repo", "'..' path segment"],
  ["https://user:tok@github.com/CorvidLabs/%2e%2e/x", "percent-encoded"],
  // refs git would read as options or refuses as ref names
  ["CorvidLabs/x@-b", "starts with '-'"],
  ["CorvidLabs/x@--upload-pack=touch", "starts with '-'"],
  ["git@github.com:CorvidLabs/x.git@-c", "starts with '-'"],
  ["https://github.com/CorvidLabs/x@--output=/tmp/x", "starts with '-'"],
  ["CorvidLabs/x@v1..v2", "contains '..'"],
  ["CorvidLabs/x@a b", "a space"],
  ["CorvidLabs/x@v1~1", "'~'"],
  ["CorvidLabs/x@v1^", "'^'"],
  ["https://github.com/CorvidLabs/x@a:b", "':'"],
  ["CorvidLabs/x@v*", "'*'"],
  ["CorvidLabs/x@v[1", "'['"],
  ["CorvidLabs/x@v\\1", "'\\'"],
  ["CorvidLabs/x@main.lock", "'.lock'"],
  ["CorvidLabs/x@feature/a.lock/b", "'.lock'"],
  ["CorvidLabs/x@feature/", "ends with '/'"],
  ["CorvidLabs/x@/main", "starts with '/'"],
  ["CorvidLabs/x@a//b", "'//'"],
  ["CorvidLabs/x@.hidden", "starting with '.'"],
  ["CorvidLabs/x@a/.b", "starting with '.'"],
  ["CorvidLabs/x@v1.", "ends with '.'"],
  ["CorvidLabs/x@@", "'@'"],
  ["CorvidLabs/x@a@{1}", "'@{'"],
  ["CorvidLabs/x@v1%2f%2e%2e", "percent-encoded"],
  [`CorvidLabs/x@${"a".repeat(300)}`, "longer than 255"],
  // not exactly owner/repo, or a path git could take as an option
  ["CorvidLabs/x/extra", "does not name a GitHub repository"],
  ["CorvidLabs//x", "does not name a GitHub repository"],
  ["-CorvidLabs/x", "does not name a GitHub repository"],
  ["owner/-repo", "does not name a GitHub repository"],
  ["git@example.com:-oProxyCommand=x", "starting with '-'"],
];

describe("checkSourceSafety: refused", () => {
  test.each(UNSAFE)("%p", (input, phrase) => {
    const message = checkSourceSafety(parseSource(input));
    expect(message).not.toBeNull();
    expect(message ?? "").toContain(phrase);
    expect(message ?? "").not.toContain("tok@");
  });
});

describe("refProblem", () => {
  test("control characters are named without being echoed raw", () => {
    const message = refProblem("v1\u0001x") ?? "";
    expect(message).toContain("control character");
    expect(message).not.toContain("\u0001");
  });
  test("ordinary refs pass", () => {
    for (const ref of ["main", "v1.2.3", "feature/x", "chore/0.2.0-launch-prep", "a@b", "HEAD"]) expect(refProblem(ref)).toBeNull();
  });
  test("empty ref", () => {
    expect(refProblem("")).toContain("empty");
  });
});
