import { defineCommand } from "citty";
import { usageError } from "../core/index.ts";
import { markPassthrough, passthroughTail } from "./framework.ts";

/**
 * `fledge plugins run <command> [args...]`: the same as `fledge <command> [args...]`,
 * but only ever a plugin (a plugin command named like a built-in cannot be reached
 * through `fledge <command>`, since built-ins shadow plugins). Everything after the
 * command goes to the plugin verbatim, flags such as `--json` included.
 */
export default markPassthrough(
  defineCommand({
    meta: {
      name: "run",
      description: "Run an installed plugin command; arguments after it go to the plugin verbatim. Example: fledge plugins run hello --json",
    },
    args: {
      command: { type: "positional", required: false, description: "the plugin command; everything after it goes to the plugin" },
    },
    async run({ rawArgs, data }) {
      // rawArgs is the head the framework cut (the command, after an optional `--`).
      const command = rawArgs[0] === "--" ? rawArgs[1] : rawArgs[0];
      if (command === undefined || command === "") {
        throw usageError("missing the plugin command to run", "usage: fledge plugins run <command> [args...]; 'fledge plugins list' shows installed commands");
      }
      const { runPluginCommand } = await import("../host/dispatch.ts");
      return runPluginCommand(command, passthroughTail(data));
    },
  }),
);
