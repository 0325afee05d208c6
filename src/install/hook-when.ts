import type { HookName } from "../manifest/index.ts";

/** When each hook runs, in the words the consent prompt, `hooks list` and the README use. */
export const HOOK_WHEN: Record<HookName, string> = {
  build: "runs at install and update to build the plugin",
  post_install: "runs once at install, after the build",
  post_remove: "runs once at removal",
  pre_init: "runs only when you call 'fledge hooks run pre-init' (from your project setup scripts)",
  post_work_start: "runs only when you call 'fledge hooks run post-work-start' (e.g. after creating a work branch)",
  pre_push: "runs when you call 'fledge hooks run pre-push'; 'fledge hooks install' adds a git pre-push hook that does, and a failure stops the push",
};
