import { defineCommand } from "citty";
import { createPlugin } from "../install/index.ts";
import { EXIT } from "../core/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "create",
    description: "Scaffold a new plugin: a native shell script, or with --wasm a sandboxed C plugin for wasm32-wasi with a clang build hook. Example: fledge plugins create hello --wasm -o ~/src",
  },
  args: {
    name: { type: "positional", required: true, description: "plugin and command name" },
    wasm: { type: "boolean", description: "a wasm (sandboxed) plugin in C instead of a native script" },
    output: { type: "string", alias: "o", description: "parent directory (default: .)" },
    description: { type: "string", alias: "d", description: "one-line description" },
    yes: { type: "boolean", alias: "y", description: "accept the defaults without asking (create never asks: accepted so scripts written for the original run unchanged)" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"create\", path, name, files_created, ...}" },
  },
  run({ args }) {
    const r = createPlugin({
      name: String(args.name),
      wasm: Boolean(args.wasm),
      output: typeof args.output === "string" && args.output !== "" ? args.output : ".",
      ...(typeof args.description === "string" ? { description: args.description } : {}),
    });
    if (args.json) {
      printJson({ action: "create", path: r.path, name: r.name, description: r.description, runtime: r.runtime, files_created: r.files_created });
    } else {
      printResult(
        [
          `Created ${r.runtime} plugin ${r.name} in ${r.path}`,
          ...r.files_created.map((f) => `  ${f}`),
          "Next:",
          `  fledge plugins validate ${r.path}`,
          `  fledge plugins install ${r.path}${r.runtime === "native" ? " --trust-native" : " --yes"}`,
        ].join("\n"),
      );
    }
    return EXIT.ok;
  },
});
