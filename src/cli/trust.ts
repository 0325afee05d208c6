import { defineCommand } from "citty";
import { loadConfig } from "../registry/index.ts";
import { checkSourceSafety, classify, parseSource } from "../trust/index.ts";
import { EXIT } from "../core/index.ts";
import { log, printJson, printTrusted, terminalText } from "../ui/index.ts";
import { colorStdout, paint, terminalColumns, tierStyle, wrapText } from "../ui/table.ts";

export default defineCommand({
  meta: {
    name: "trust",
    description:
      "Classify a plugin source into a trust tier (local, official, team, unverified) and say why. Example: fledge trust CorvidLabs/fledge-plugin-hello --json",
  },
  args: {
    source: { type: "positional", required: true, description: "owner/repo[@ref], a git URL, or a local path" },
    json: { type: "boolean", description: "print one JSON object: source, kind, base, ref, owner, repo, tier, reasons" },
  },
  run({ args }) {
    const source = parseSource(String(args.source));
    const config = loadConfig(process.env);
    const { tier, reasons } = classify(source, config.trust);
    // Not part of the answer, but worth knowing before trying to install it.
    const refusal = checkSourceSafety(source);
    if (refusal !== null) log.warn(`fledge plugins install would refuse this source: ${refusal}`);
    if (args.json) {
      printJson({
        source: source.input,
        kind: source.kind,
        base: source.base,
        ref: source.ref,
        owner: source.owner,
        repo: source.repo,
        tier,
        reasons,
      });
    } else {
      // The tier first (in colour on a terminal), then the reasons, wrapped to the terminal.
      const text = wrapText(`${tier}: ${terminalText(reasons.join("; "))}`, terminalColumns(), "  ", "");
      text[0] = text[0]!.replace(tier, paint(tierStyle(tier), tier, colorStdout()));
      printTrusted(text.join("\n"));
    }
    return EXIT.ok;
  },
});
