import { defineCommand } from "citty";
import { findProjectRoot } from "../host/project.ts";
import { recommend } from "../install/index.ts";
import { readRegistry } from "../registry/index.ts";
import { EXIT, FledgeError, canPrompt, confirm, isFledgeError, log, printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { installedLine, installOne } from "./plugins-install.ts";

export default defineCommand({
  meta: {
    name: "recommend",
    description:
      "Suggest plugins for the project you are in, by its language (Cargo.toml, package.json, go.mod, ...) and files (Dockerfile, .github), leaving out installed ones. On a terminal it offers to install them all; each install asks for consent as usual. Example: fledge plugins recommend --json",
  },
  args: {
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"plugins_recommend\", language, installed_count, recommendations: [{repo, reason}]}" },
  },
  async run({ args }) {
    const root = findProjectRoot(process.cwd());
    const installed = readRegistry(process.env).plugins;
    const { language, recommendations } = recommend(root, installed);
    if (args.json) {
      printJson({ action: "plugins_recommend", language, installed_count: installed.length, recommendations });
      return EXIT.ok;
    }
    if (recommendations.length === 0) {
      printResult(`Project language: ${language}. Every recommended plugin is already installed.`);
      return EXIT.ok;
    }
    printResult([`Project language: ${language}`, "Recommended plugins:", ...recommendations.map((r) => `  ${r.repo}  ${r.reason}`)].join("\n"));
    if (!canPrompt()) {
      printResult(`Install one with: fledge plugins install ${recommendations[0]!.repo}`);
      return EXIT.ok;
    }
    if (!(await confirm(`Install all ${recommendations.length} recommended plugins?`, "recommend"))) {
      printResult("Nothing installed.");
      return EXIT.ok;
    }
    let failed = 0;
    for (const r of recommendations) {
      log.info(`installing ${r.repo}`);
      try {
        printResult(installedLine((await installOne(r.repo, { copy: false, force: false, yes: false, trustNative: false, build: false })).entry));
      } catch (e) {
        if (isFledgeError(e) && e.code === "interrupted") throw e;
        failed++;
        log.error(`${r.repo}: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`);
      }
    }
    if (failed > 0) throw new FledgeError(`${failed} of ${recommendations.length} recommended plugin(s) failed to install`, { code: "recommend_failed", hint: "see the errors above" });
    return EXIT.ok;
  },
});
