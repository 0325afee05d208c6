/** The granted network hosts survive the registry, and a hand-edited entry cannot widen them past the manifest syntax. */
import { describe, expect, test } from "bun:test";
import { addedCapabilities } from "../../src/install/update.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { parseRegistry, serializeRegistry } from "../../src/registry/registry.ts";

const entry = (hosts: string) => `[[plugins]]
name = "net"
source = "/tmp/net"
version = "1.0.0"
installed = "2026-01-01"
runtime = "wasm"
[plugins.capabilities]
network = true
hosts = ${hosts}
`;

describe("registry: capabilities.hosts", () => {
  test("round-trips canonical hosts", () => {
    const reg = parseRegistry(entry('["127.0.0.1:8080", "api.example.com"]'), "plugins.toml");
    expect(reg.plugins[0]!.capabilities.hosts).toEqual(["127.0.0.1:8080", "api.example.com"]);
    const again = parseRegistry(serializeRegistry(reg), "plugins.toml");
    expect(again.plugins[0]!.capabilities.hosts).toEqual(["127.0.0.1:8080", "api.example.com"]);
  });

  test("a non-canonical or wildcard host makes the registry corrupt (never silently widened)", () => {
    for (const bad of ['["*"]', '["0x7f.1"]', '["API.example.com"]', '["http://a.example"]', '[""]']) {
      expect(() => parseRegistry(entry(bad), "plugins.toml")).toThrow(/invalid/);
    }
  });

  test("an update that adds a host counts as an escalation", () => {
    const granted = { ...NO_CAPABILITIES, network: true, hosts: ["a.example"] };
    expect(addedCapabilities(granted, { ...granted, hosts: ["a.example", "b.example"] }).hosts).toEqual(["b.example"]);
    expect(addedCapabilities(granted, { ...granted }).hosts).toBeUndefined();
  });
});
