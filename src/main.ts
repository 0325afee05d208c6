import { main } from "./cli/index.ts";

// A closed stdout (`fledge plugins list | head -1`) must not kill fledge with an exception.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
