import { describe, expect, test } from "bun:test";
import { classify, classifyOwner, parseSource, type TrustConfig, type TrustTier } from "../../src/trust/index.ts";

const NONE: TrustConfig = { orgs: [], users: [] };
const ACME: TrustConfig = { orgs: ["acme"], users: ["Alice"] };

/** [source, config, expected tier, a phrase the reasons must contain]. */
const CASES: Array<[string, TrustConfig, TrustTier, string]> = [
  // official: exact case only
  ["CorvidLabs/fledge-plugin-hello", NONE, "official", "owner 'CorvidLabs' is on the official list"],
  ["corvidlabs/x", NONE, "official", "official list"],
  ["CORVIDLABS/x", NONE, "unverified", "exact case"],
  ["Corvidlabs/x", NONE, "unverified", "exact case"],
  ["https://github.com/CorvidLabs/x.git", NONE, "official", "official list"],
  ["https://github.com/CorvidLabs/x.git@v1.0.0", NONE, "official", "official list"],
  ["git@github.com:CorvidLabs/x.git", NONE, "official", "official list"],
  ["git@github.com:CorvidLabs/x.git@feature/y", NONE, "official", "official list"],
  ["ssh://git@github.com/CorvidLabs/x", NONE, "official", "official list"],
  ["github.com/CorvidLabs/x", NONE, "official", "official list"],
  ["https://user:tok@github.com/CorvidLabs/x.git", NONE, "official", "official list"],
  ["someone/rune@chore/0.2.0-launch-prep", NONE, "unverified", "not on the official or team lists"],
  // team: built-ins, case-insensitive
  ["0xLeif/x", NONE, "team", "built-in team list"],
  ["0xleif/x", NONE, "team", "built-in team list"],
  ["0XGASPAR/x", NONE, "team", "built-in team list"],
  ["KYNTRIN/x", NONE, "team", "built-in team list"],
  ["tofu-ux/x", NONE, "team", "built-in team list"],
  ["https://github.com/Tofu-UX/x", NONE, "team", "built-in team list"],
  // team: config orgs / users, case-insensitive, never official
  ["acme/tool", ACME, "team", "[trust] orgs"],
  ["ACME/tool", ACME, "team", "[trust] orgs"],
  ["alice/tool", ACME, "team", "[trust] users"],
  ["acme/tool", NONE, "unverified", "[trust] orgs or users"],
  ["CORVIDLABS/x", { orgs: ["corvidlabs"], users: [] }, "team", "[trust] orgs"],
  ["CORVIDLABS/x", { orgs: [], users: ["CORVIDLABS"] }, "team", "[trust] users"],
  ["acme/tool", { orgs: [" acme "], users: [] }, "team", "[trust] orgs"],
  ["acme/tool", { orgs: ["*"], users: [""] }, "unverified", "not on the official or team lists"],
  ["CorvidLabs/x", { orgs: ["CorvidLabs"], users: [] }, "official", "official list"],
  // dot segments, literal and encoded: never trusted, whatever the config says
  ["CorvidLabs/../attacker/evil", { orgs: ["attacker"], users: [] }, "unverified", "'..' segment"],
  ["CorvidLabs/./x", NONE, "unverified", "'.' segment"],
  ["CorvidLabs/%2e%2e/attacker/evil", NONE, "unverified", "percent-encoded '..' segment"],
  ["CorvidLabs/%2E%2E/attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs/%2E%2e/attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs/.%2e/attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs/%2e./attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs/%252e%252e/attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs/%25252e%25252E/attacker/evil", NONE, "unverified", "percent-encoded '..'"],
  ["CorvidLabs%2f..%2fattacker/evil", NONE, "unverified", "'..' segment"],
  ["CorvidLabs/x%2f%2e%2e%2f..%2fattacker", NONE, "unverified", "'..' segment"],
  ["CorvidLabs/x%5c..%5c..%5cattacker", NONE, "unverified", "'..' segment"],
  ["CorvidLabs/x\\..\\..\\attacker", NONE, "unverified", "'..' segment"],
  ["CorvidLabs/%2e", NONE, "unverified", "'.' segment"],
  ["https://github.com/CorvidLabs/../attacker/evil", NONE, "unverified", "'..' segment"],
  ["https://github.com/CorvidLabs/%2e%2e/attacker/evil.git", NONE, "unverified", "percent-encoded '..'"],
  ["git@github.com:CorvidLabs/../attacker/evil.git", NONE, "unverified", "'..' segment"],
  ["https://github.com/CorvidLabs/x/tree/../../attacker/evil", NONE, "unverified", "'..' segment"],
  // unsafe refs can redirect an API path: never trusted
  ["CorvidLabs/x@../../attacker/evil", NONE, "unverified", "contains '..'"],
  ["CorvidLabs/x@-upload-pack=evil", NONE, "unverified", "starts with '-'"],
  ["CorvidLabs/x@v1%2f..%2f..%2fattacker", NONE, "unverified", "ref"],
  // not a clean owner/repo
  ["CorvidLabs/x/extra", NONE, "unverified", "not a plain GitHub owner/repo"],
  ["CorvidLabs/", NONE, "unverified", "not a plain GitHub owner/repo"],
  ["CorvidLabs//x", NONE, "unverified", "not a plain GitHub owner/repo"],
  ["-CorvidLabs/x", NONE, "unverified", "not a plain GitHub owner/repo"],
  ["C\u043ervidLabs/x", NONE, "unverified", "not a plain GitHub owner/repo"],
  // non-GitHub and unauthenticated transports
  ["http://github.com/CorvidLabs/x", NONE, "unverified", "plain http://"],
  ["git://github.com/CorvidLabs/x", NONE, "unverified", "git:// is unauthenticated"],
  ["https://github.com:443/CorvidLabs/x", NONE, "unverified", "not github.com"],
  ["https://gitlab.com/CorvidLabs/x", { orgs: ["CorvidLabs"], users: [] }, "unverified", "host 'gitlab.com' is not github.com"],
  ["git@gitlab.com:CorvidLabs/x.git", NONE, "unverified", "not github.com"],
  ["ssh://git@example.com/CorvidLabs/x.git", NONE, "unverified", "not github.com"],
  ["file:///tmp/CorvidLabs/x", NONE, "unverified", "file:// URLs"],
  ["git@github.com.evil.com:CorvidLabs/x.git", NONE, "unverified", "not github.com"],
  ["https://github.com.evil.com/CorvidLabs/x", NONE, "unverified", "not github.com"],
  // local paths
  ["./my-plugin", NONE, "local", "local path"],
  ["../my-plugin", NONE, "local", "local path"],
  [".", NONE, "local", "local path"],
  ["..", NONE, "local", "local path"],
  ["/opt/plugins/x", NONE, "local", "local path"],
  ["~/plugins/x", NONE, "local", "local path"],
  ["local:CorvidLabs/x", NONE, "local", "local path"],
  ["C:\\plugins\\x", NONE, "local", "local path"],
  ["./a/../b", NONE, "local", "local path"],
];

describe("classify", () => {
  test.each(CASES)("%p %j -> %p", (input, config, tier, phrase) => {
    const result = classify(parseSource(input), config);
    expect(result.tier).toBe(tier);
    expect(result.reasons.length).toBeGreaterThan(0);
    expect(result.reasons.join(" | ")).toContain(phrase);
  });

  test("config can never grant official, whatever it lists", () => {
    const everything: TrustConfig = { orgs: ["CorvidLabs", "corvidlabs", "CORVIDLABS", "evil"], users: ["CorvidLabs"] };
    for (const input of ["CORVIDLABS/x", "evil/x", "CorvidLabs/../evil/x"]) {
      expect(classify(parseSource(input), everything).tier).not.toBe("official");
    }
  });

  test("reasons are short single-line sentences", () => {
    for (const [input, config] of CASES) {
      for (const reason of classify(parseSource(input), config).reasons) {
        expect(reason).not.toContain("\n");
        expect(reason.length).toBeLessThan(240);
      }
    }
  });
});

describe("classifyOwner (search results)", () => {
  const owners: Array<[string, TrustTier]> = [
    ["CorvidLabs", "official"],
    ["CORVIDLABS", "unverified"],
    ["0xleif", "team"],
    ["acme", "team"],
    ["stranger", "unverified"],
    ["../x", "unverified"],
  ];
  test.each(owners)("%p -> %p", (owner, tier) => {
    expect(classifyOwner(owner, ACME).tier).toBe(tier);
  });
});
