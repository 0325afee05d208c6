import { defineCommand } from "citty";
import { publishPlugin } from "../install/publish.ts";
import { EXIT, FledgeError, canPrompt, confirm, printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export default defineCommand({
  meta: {
    name: "publish",
    description:
      "Publish a plugin folder to GitHub: validate it, create the repository <you or --org>/<plugin name> if needed, add the fledge-plugin topic (so 'fledge plugins search' finds it) and push the current commit (a first commit is made if the folder has none). Asks first; -y without a terminal. Uses your GitHub token or 'gh auth token'. Example: fledge plugins publish ./hello --yes",
  },
  args: {
    path: { type: "positional", required: false, description: "the plugin folder (default: .)" },
    org: { type: "string", description: "publish under this organization instead of your account" },
    private: { type: "boolean", description: "create the repository private" },
    description: { type: "string", description: "repository description (default: the plugin's description)" },
    yes: { type: "boolean", alias: "y", description: "create and push without asking" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"publish\", cancelled, repo, plugin, topic, install_hint}" },
  },
  async run({ args }) {
    const path = typeof args.path === "string" && args.path !== "" ? args.path : ".";
    const r = await publishPlugin({
      path,
      ...(typeof args.org === "string" && args.org !== "" ? { org: args.org } : {}),
      private: Boolean(args.private),
      ...(typeof args.description === "string" ? { description: args.description } : {}),
      env: process.env,
      confirm: async (plan) => {
        const what = `${plan.exists ? "push to the existing" : `create the ${plan.private ? "private" : "public"}`} GitHub repository ${plan.owner}/${renderUntrusted(plan.name)} and push ${renderUntrusted(plan.dir)} to ${renderUntrusted(plan.remote)}`;
        if (args.yes) return true;
        if (!canPrompt()) throw new FledgeError(`publishing would ${what}, and fledge cannot ask without a terminal`, { code: "consent_required", hint: "rerun with --yes to publish" });
        return confirm(`Publish: ${what}?`, "publish");
      },
    });
    if (args.json) {
      printJson({ action: "publish", ...r });
    } else if (r.cancelled) {
      printResult("Publish cancelled: nothing was created or pushed.");
    } else {
      printResult([`Published ${r.plugin.name} ${r.plugin.version} to ${r.repo.url}${r.repo.created ? " (new repository)" : ""} with the ${r.topic} topic`, `Others install it with: ${r.install_hint}`].join("\n"));
    }
    return EXIT.ok;
  },
});
