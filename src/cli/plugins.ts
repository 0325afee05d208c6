import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "plugins", alias: "plugin", description: "Install, inspect and validate plugins (alias: plugin)" },
  subCommands: {
    validate: () => import("./plugins-validate.ts").then((m) => m.default),
  },
});
