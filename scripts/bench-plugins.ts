/**
 * Installed plugins for the list benchmarks (bench-speed.ts, bench-install.ts), written
 * directly: the registry file and one folder per plugin, no install run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serializeRegistry, type RegistryEntry } from "../src/registry/index.ts";

/** Write `n` installed plugins under `config`, named plugin-000… (as many digits as `n` has). */
export function fakePlugins(config: string, n: number): void {
  const entries: RegistryEntry[] = [];
  const width = String(n).length;
  for (let i = 0; i < n; i++) {
    const name = `plugin-${String(i).padStart(width, "0")}`;
    mkdirSync(join(config, "plugins", name), { recursive: true });
    entries.push({
      name,
      source: `bench/${name}`,
      version: "1.0.0",
      installed: "2026-01-01",
      commands: [name],
      runtime: i % 4 === 0 ? "native" : "wasm",
      capabilities: { exec: false, store: i % 2 === 0, metadata: false, filesystem: "none", network: false },
      commit: "0".repeat(40),
      trust_tier: "unverified",
      integrity: { [`${name}.wasm`]: "0".repeat(64) },
    });
  }
  writeFileSync(join(config, "plugins.toml"), serializeRegistry({ plugins: entries }));
}
