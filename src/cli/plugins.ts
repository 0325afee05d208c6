import { defineCommand } from "citty";
import { declareAliases } from "./framework.ts";

export default declareAliases(defineCommand({
  meta: { name: "plugins", alias: "plugin", description: "Install, inspect and validate plugins (alias: plugin)" },
  subCommands: {
    install: () => import("./plugins-install.ts").then((m) => m.default),
    remove: () => import("./plugins-remove.ts").then((m) => m.default),
    update: () => import("./plugins-update.ts").then((m) => m.default),
    list: () => import("./plugins-list.ts").then((m) => m.default),
    audit: () => import("./plugins-audit.ts").then((m) => m.default),
    verify: () => import("./plugins-verify.ts").then((m) => m.default),
    search: () => import("./plugins-search.ts").then((m) => m.default),
    recommend: () => import("./plugins-recommend.ts").then((m) => m.default),
    publish: () => import("./plugins-publish.ts").then((m) => m.default),
    create: () => import("./plugins-create.ts").then((m) => m.default),
    run: () => import("./plugins-run.ts").then((m) => m.default),
    validate: () => import("./plugins-validate.ts").then((m) => m.default),
  },
}), {});
