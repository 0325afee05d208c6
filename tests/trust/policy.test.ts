import { describe, expect, test } from "bun:test";
import { NO_CAPABILITIES, type Capabilities, type Runtime } from "../../src/manifest/types.ts";
import {
  describeCapabilities,
  describeRuntime,
  mayGrant,
  nativeConsentGiven,
  riskOf,
  type DangerousCapability,
  type TrustTier,
} from "../../src/trust/index.ts";

function caps(over: Partial<Capabilities> = {}): Capabilities {
  return { ...NO_CAPABILITIES, ...over };
}

const ALL: Capabilities = { exec: true, store: true, metadata: true, filesystem: "plugin", network: true };

/** [tier, runtime, requested, allowed, denied, needsNativeConsent, risk]. */
const CASES: Array<[TrustTier, Runtime, Capabilities, boolean, DangerousCapability[], boolean, "sandboxed" | "elevated"]> = [
  ["unverified", "wasm", caps({ exec: true }), false, ["exec"], false, "elevated"],
  ["unverified", "wasm", caps({ network: true }), false, ["network"], false, "sandboxed"],
  ["unverified", "wasm", caps({ exec: true, network: true }), false, ["exec", "network"], false, "elevated"],
  ["unverified", "wasm", ALL, false, ["exec", "network"], false, "elevated"],
  ["unverified", "native", caps({ exec: true }), false, ["exec"], true, "elevated"],
  ["unverified", "wasm", caps({ store: true, metadata: true, filesystem: "project" }), true, [], false, "sandboxed"],
  ["unverified", "wasm", caps({ filesystem: "plugin" }), true, [], false, "sandboxed"],
  ["unverified", "wasm", caps(), true, [], false, "sandboxed"],
  ["unverified", "native", caps(), true, [], true, "elevated"],
  ["team", "wasm", ALL, true, [], false, "elevated"],
  ["team", "wasm", caps({ network: true }), true, [], false, "sandboxed"],
  ["team", "native", caps(), true, [], true, "elevated"],
  ["official", "wasm", ALL, true, [], false, "elevated"],
  ["official", "native", ALL, true, [], true, "elevated"],
  ["official", "wasm", caps({ store: true }), true, [], false, "sandboxed"],
  ["local", "wasm", ALL, true, [], false, "elevated"],
  ["local", "native", caps(), true, [], true, "elevated"],
];

describe("mayGrant", () => {
  test.each(CASES)("%p %p %j", (tier, runtime, requested, allowed, denied, needsNativeConsent, risk) => {
    const d = mayGrant({ tier, runtime, requested });
    expect(d.allowed).toBe(allowed);
    expect(d.denied).toEqual(denied);
    expect(d.needsNativeConsent).toBe(needsNativeConsent);
    expect(d.risk).toBe(risk);
    expect(d.sandboxed).toBe(runtime === "wasm");
    expect(d.hint === null).toBe(allowed);
  });

  test("a denial names the capabilities and how to trust the source", () => {
    const d = mayGrant({ tier: "unverified", runtime: "wasm", requested: caps({ exec: true, network: true }), owner: "acme" });
    expect(d.messages[0]).toContain("exec and network");
    expect(d.messages[0]).toContain("unverified");
    expect(d.hint).toContain('[trust] orgs = ["acme"]');
    expect(d.hint).toContain("users");
    expect(d.hint).toContain("config.toml");
  });

  test("without an owner the hint still says where to add one", () => {
    const d = mayGrant({ tier: "unverified", runtime: "wasm", requested: caps({ network: true }) });
    expect(d.messages[0]).toContain("network");
    expect(d.messages[0]).not.toContain("exec");
    expect(d.hint).toContain("[trust] orgs");
  });

  test("native always carries the unsandboxed warning and the consent rule", () => {
    for (const tier of ["local", "official", "team", "unverified"] as const) {
      const d = mayGrant({ tier, runtime: "native", requested: caps() });
      expect(d.needsNativeConsent).toBe(true);
      expect(d.messages.join(" ")).toContain("unsandboxed");
      expect(d.messages.join(" ")).toContain("--trust-native");
    }
  });

  test("exec with network on a trusted source is allowed with an exfiltration warning", () => {
    const d = mayGrant({ tier: "team", runtime: "wasm", requested: caps({ exec: true, network: true }) });
    expect(d.allowed).toBe(true);
    expect(d.messages.join(" ")).toContain("send it elsewhere");
  });

  test("update: only capabilities being added are gated", () => {
    const granted = caps({ exec: true });
    const same = mayGrant({ tier: "unverified", runtime: "wasm", requested: caps({ exec: true }), alreadyGranted: granted });
    expect(same.allowed).toBe(true);
    expect(same.denied).toEqual([]);
    const more = mayGrant({ tier: "unverified", runtime: "wasm", requested: caps({ exec: true, network: true }), alreadyGranted: granted });
    expect(more.allowed).toBe(false);
    expect(more.denied).toEqual(["network"]);
  });
});

describe("nativeConsentGiven", () => {
  const cases: Array<[boolean, boolean, boolean, boolean]> = [
    [false, false, true, false], // --yes alone never grants native
    [false, false, false, false],
    [true, false, false, true],
    [true, false, true, true],
    [false, true, false, true],
    [false, true, true, true],
  ];
  test.each(cases)("trustNative=%p confirmed=%p yes=%p -> %p", (trustNative, confirmedInteractively, yes, expected) => {
    expect(nativeConsentGiven({ trustNative, confirmedInteractively, yes })).toBe(expected);
  });
});

describe("riskOf", () => {
  test("native or exec is elevated; everything else in wasm is sandboxed", () => {
    expect(riskOf("native", caps())).toBe("elevated");
    expect(riskOf("wasm", caps({ exec: true }))).toBe("elevated");
    expect(riskOf("wasm", caps({ network: true, store: true, filesystem: "plugin" }))).toBe("sandboxed");
  });
});

describe("describeCapabilities", () => {
  test("nothing requested: no lines", () => {
    expect(describeCapabilities(caps())).toEqual([]);
  });
  test("one plain-language line per capability, in a fixed order", () => {
    const lines = describeCapabilities(ALL);
    expect(lines.map((l) => l.split(":")[0])).toEqual(["exec", "store", "metadata", "filesystem (plugin)", "network"]);
    expect(lines[0]).toContain("run shell commands on your machine");
  });
  test("filesystem modes are told apart", () => {
    expect(describeCapabilities(caps({ filesystem: "project" }))[0]).toContain("read-only");
    expect(describeCapabilities(caps({ filesystem: "plugin" }))[0]).toContain("read and write its own data");
  });
  test("runtimes", () => {
    expect(describeRuntime("native")).toContain("unsandboxed");
    expect(describeRuntime("wasm")).toContain("sandbox");
  });
});
