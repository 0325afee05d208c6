import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "trust", description: "Classify a plugin source into a trust tier. Example: fledge trust CorvidLabs/fledge-plugin-hello" },
  args: {
    source: { type: "positional", required: true, description: "owner/repo[@ref], a git URL, or a local path" },
    json: { type: "boolean", description: "print one JSON object" },
  },
  run() {
    return 0;
  },
});
