import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "validate", description: "Check a plugin.toml. Example: fledge plugins validate ./my-plugin --strict" },
  args: {
    path: { type: "positional", required: false, description: "plugin directory or plugin.toml (default: .)" },
    strict: { type: "boolean", description: "treat warnings (and unknown keys) as errors" },
    json: { type: "boolean", description: "print one JSON object" },
  },
  run() {
    return 0;
  },
});
