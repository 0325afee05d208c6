import { defineCommand } from "citty";
import { findProjectRoot } from "../host/project.ts";
import { gitHookPath, planGitHook, removeGitHook, writeGitHook } from "../install/githook.ts";
import { HOOK_WHEN, LIFECYCLE_EVENTS, lifecycleHooks, parseEvent, runLifecycle } from "../install/lifecycle.ts";
import { EXIT, FledgeError, canPrompt, confirm, printJson, printResult } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

const run = defineCommand({
  meta: {
    name: "run",
    description:
      "Run the installed plugins' approved lifecycle hooks for one event (pre-push, pre-init or post-work-start), in install order, with FLEDGE_REPO_ROOT set to the git repository you are in. The first failing hook stops the run and fledge exits 1 (so a git pre-push hook that calls this stops the push). Example: fledge hooks run pre-push",
  },
  args: {
    event: { type: "positional", required: true, description: "pre-push, pre-init or post-work-start" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"hooks_run\", event, repo_root, ran: [{plugin, command, status}]}" },
  },
  async run({ args }) {
    const event = parseEvent(String(args.event));
    const repoRoot = findProjectRoot(process.cwd());
    const ran = await runLifecycle(event, { env: process.env, repoRoot });
    if (args.json) printJson({ action: "hooks_run", event, repo_root: repoRoot, ran });
    else if (ran.length === 0) process.stderr.write(`no installed plugin has a ${event} hook\n`);
    return EXIT.ok;
  },
});

const list = defineCommand({
  meta: { name: "list", description: "Show the installed plugins' approved lifecycle hooks and when each runs." },
  args: { json: { type: "boolean", description: "print one JSON object: {schema_version, hooks: [{plugin, event, command, when}]}" } },
  run({ args }) {
    const hooks = lifecycleHooks(process.env).map((h) => ({ ...h, when: HOOK_WHEN[h.event] }));
    if (args.json) {
      printJson({ hooks });
      return EXIT.ok;
    }
    if (hooks.length === 0) {
      printResult("No installed plugin has a lifecycle hook (pre_init, post_work_start, pre_push).");
      return EXIT.ok;
    }
    const lines: string[] = [];
    for (const event of LIFECYCLE_EVENTS) {
      const mine = hooks.filter((h) => h.event === event);
      if (mine.length === 0) continue;
      lines.push(`${event}: ${HOOK_WHEN[event]}`);
      for (const h of mine) lines.push(`  ${renderUntrusted(h.plugin)}: ${renderUntrusted(h.command)}`);
    }
    printResult(lines.join("\n"));
    return EXIT.ok;
  },
});

const install = defineCommand({
  meta: {
    name: "install",
    description:
      "Write a git pre-push hook into the repository you are in that runs 'fledge hooks run pre-push' (so plugins' pre_push hooks run on every git push, and a failing one stops it). Asks first (--yes without a terminal). Never overwrites a pre-push hook fledge did not write.",
  },
  args: {
    yes: { type: "boolean", alias: "y", description: "write the hook without asking" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"hooks_install\", path, replaced}" },
  },
  async run({ args }) {
    const { file } = gitHookPath(process.cwd());
    const plan = planGitHook(file);
    if (!args.yes) {
      if (!canPrompt()) throw new FledgeError(`writing the git pre-push hook ${file} needs your confirmation, and fledge cannot ask without a terminal`, { code: "consent_required", hint: "rerun with --yes to write it" });
      if (!(await confirm(`Write a git pre-push hook to ${renderUntrusted(file)} that runs 'fledge hooks run pre-push'?`, "hooks install"))) {
        throw new FledgeError("hooks install cancelled: nothing was written", { code: "consent_declined" });
      }
    }
    writeGitHook(file);
    if (args.json) printJson({ action: "hooks_install", path: file, replaced: plan === "replace" });
    else printResult(`${plan === "replace" ? "Updated" : "Wrote"} ${file}: every git push now runs 'fledge hooks run pre-push'.`);
    return EXIT.ok;
  },
});

const uninstall = defineCommand({
  meta: { name: "uninstall", description: "Remove the git pre-push hook 'fledge hooks install' wrote (never one fledge did not write)." },
  args: { json: { type: "boolean", description: "print one JSON object: {schema_version, action: \"hooks_uninstall\", path, removed}" } },
  run({ args }) {
    const { file } = gitHookPath(process.cwd());
    const removed = removeGitHook(file);
    if (args.json) printJson({ action: "hooks_uninstall", path: file, removed });
    else printResult(removed ? `Removed ${file}.` : `No pre-push hook at ${file}.`);
    return EXIT.ok;
  },
});

export default defineCommand({
  meta: { name: "hooks", description: "Run plugins' lifecycle hooks (pre-push, pre-init, post-work-start) and install the git pre-push hook that runs them" },
  subCommands: { run, list, install, uninstall },
});
