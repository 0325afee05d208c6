import { defineCommand } from "citty";
import { installPlugin } from "../install/index.ts";
import { riskOf } from "../trust/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export default defineCommand({
  meta: {
    name: "install",
    description:
      "Install a plugin from GitHub (owner/repo[@ref]), a git URL, or a local path (live link; --copy for a snapshot). Shows capabilities and hooks and asks first; without a terminal pass --yes (and --trust-native for native plugins). Example: fledge plugins install CorvidLabs/fledge-plugin-github@v0.4.0",
  },
  args: {
    source: { type: "positional", required: true, description: "owner/repo[@ref], a git URL, or a local path" },
    copy: { type: "boolean", description: "copy a local plugin instead of linking to it" },
    force: { type: "boolean", description: "reinstall a plugin of the same name (never removes another plugin)" },
    yes: { type: "boolean", alias: "y", description: "grant the requested capabilities and approve the hooks without asking" },
    "trust-native": { type: "boolean", description: "allow a native (unsandboxed) plugin; --yes alone never does" },
    build: { type: "boolean", description: "build from source even when a prebuilt wasm release asset exists" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"install\", installed, ...}" },
  },
  async run({ args }) {
    const { entry, replaced, prebuilt } = await installPlugin(String(args.source), {
      copy: Boolean(args.copy),
      force: Boolean(args.force),
      yes: Boolean(args.yes),
      trustNative: Boolean(args["trust-native"]),
      build: Boolean(args.build),
      env: process.env,
      cwd: process.cwd(),
    });
    const risk = riskOf(entry.runtime, entry.capabilities);
    if (args.json) {
      printJson({
        action: "install",
        scope: "single",
        installed: [
          {
            name: entry.name,
            source: entry.source,
            version: entry.version,
            trust_tier: entry.trust_tier ?? null,
            commands: entry.commands,
            pinned_ref: entry.pinned_ref ?? null,
            commit: entry.commit ?? null,
            runtime: entry.runtime,
            sandboxed: entry.runtime === "wasm",
            risk,
            capabilities: entry.capabilities,
            integrity: entry.integrity ?? {},
            prebuilt,
          },
        ],
        replaced,
        failed: [],
        summary: { total: 1, installed: 1, failed: 0 },
      });
    } else {
      const pin = entry.pinned_ref ? ` (pinned to ${entry.pinned_ref})` : "";
      printResult(`Installed ${renderUntrusted(entry.name)} ${renderUntrusted(entry.version)}${pin} [${entry.trust_tier ?? "?"}, ${entry.runtime}, ${risk === "sandboxed" ? "sandboxed" : "elevated risk"}]\n  commands: ${entry.commands.map((c) => renderUntrusted(c)).join(", ") || "(none)"}`);
    }
    return EXIT.ok;
  },
});
