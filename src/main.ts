import { main } from "./cli/index.ts";
import { abandonedLoadWork, enableHardLoadWatchdog } from "./wasm/index.ts";

// Loading a module (instrumenting is synchronous) is bounded by the run's deadline.
enableHardLoadWatchdog();

// A closed stdout (`fledge plugins list | head -1`) must not kill fledge with an exception.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
});

const code = await main(process.argv.slice(2));
// A compile abandoned at the run's deadline would hold the process until it finished.
if (abandonedLoadWork()) process.exit(code);
process.exitCode = code;
