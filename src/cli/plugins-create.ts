import { defineCommand } from "citty";
import { createPlugin, SCAFFOLD_LANGS, type ScaffoldLang } from "../install/index.ts";
import { EXIT, usageError } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "create",
    description:
      "Scaffold a new plugin: a native shell script, or with --wasm a sandboxed Rust plugin on the fledge-plugin-sdk crate (vendored, builds offline), or with --lang c a sandboxed C plugin on fledge.h. Each reads its arguments. Example: fledge plugins create hello --wasm -o ~/src",
  },
  args: {
    name: { type: "positional", required: true, description: "plugin and command name" },
    wasm: { type: "boolean", description: "a wasm (sandboxed) plugin instead of a native script; Rust unless --lang says otherwise" },
    lang: { type: "string", description: "language of the wasm plugin: rust (default) or c; implies --wasm" },
    output: { type: "string", alias: "o", description: "parent directory (default: .)" },
    description: { type: "string", alias: "d", description: "one-line description" },
    yes: { type: "boolean", alias: "y", description: "accept the defaults without asking (create never asks: accepted so scripts written for the original run unchanged)" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"create\", path, name, language, files_created, ...}" },
  },
  run({ args }) {
    let lang: ScaffoldLang | undefined;
    if (typeof args.lang === "string" && args.lang !== "") {
      const l = args.lang.toLowerCase();
      if (!(SCAFFOLD_LANGS as readonly string[]).includes(l)) throw usageError(`--lang '${args.lang}' is not a scaffold language`, `use one of: ${SCAFFOLD_LANGS.join(", ")}`);
      lang = l as ScaffoldLang;
    }
    const r = createPlugin({
      name: String(args.name),
      wasm: Boolean(args.wasm),
      ...(lang ? { lang } : {}),
      output: typeof args.output === "string" && args.output !== "" ? args.output : ".",
      ...(typeof args.description === "string" ? { description: args.description } : {}),
    });
    if (args.json) {
      printJson({ action: "create", path: r.path, name: r.name, description: r.description, runtime: r.runtime, language: r.language, files_created: r.files_created });
    } else {
      const build = r.language === "rust" ? [`  (cd ${r.path} && sh build.sh)`] : [];
      printResult(
        [
          `Created ${r.runtime} plugin ${r.name} (${r.language === "sh" ? "shell script" : r.language === "c" ? "C" : "Rust"}) in ${r.path}`,
          ...r.files_created.filter((f) => !f.startsWith("fledge-plugin-sdk/")).map((f) => `  ${f}`),
          ...(r.language === "rust" ? ["  fledge-plugin-sdk/ (the SDK, vendored)"] : []),
          "Next:",
          ...build,
          `  fledge plugins validate ${r.path}`,
          `  fledge plugins install ${r.path}${r.runtime === "native" ? " --trust-native" : " --yes"}`,
        ].join("\n"),
      );
    }
    return EXIT.ok;
  },
});
