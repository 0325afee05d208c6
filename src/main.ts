import { CANARY_PROBES_FLAG, LAUNCHER_FLAG } from "./confine/flag.ts";
import { abandonedLoadWork, enableHardLoadWatchdog } from "./wasm/load-watchdog.ts";

// The compiled binary re-executes itself as the confinement launcher for native
// plugins (src/confine): that mode loads nothing else and never returns.
if (process.argv[2] === LAUNCHER_FLAG) {
  const { runLauncher } = await import("./confine/launcher.ts");
  runLauncher();
}
// The probe child of `fledge canary --native` (compiled binary; from source it is its own file).
if (process.argv[2] === CANARY_PROBES_FLAG) {
  const { runProbeChild } = await import("./cli/canary-probes.ts");
  await runProbeChild();
}

// Loading a module (instrumenting is synchronous) is bounded by the run's deadline.
enableHardLoadWatchdog();

// A closed stdout (`fledge plugins list | head -1`) ends fledge with exit 0: see
// stdoutStream in src/ui/output.ts (attached when output first needs the stream).

// The CLI is imported, not bundled into this module's start: `fledge --version`
// answers before any of it loads (the same line cli/index.ts prints).
const argv = process.argv.slice(2);
let code: number;
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "-V")) {
  const { printVersion } = await import("./cli/version.ts");
  code = printVersion();
} else {
  // `wasm run` starts without the command framework when its command line is plain
  // (src/cli/wasm-run.ts); anything else it hands back.
  const fast = argv[0] === "wasm" && argv[1] === "run" ? await (await import("./cli/wasm-run.ts")).runWasmFast(argv.slice(2)) : undefined;
  if (fast !== undefined) code = fast;
  else {
    const { main } = await import("./cli/index.ts");
    code = await main(argv);
  }
}
// A compile abandoned at the run's deadline would hold the process until it finished.
if (abandonedLoadWork()) process.exit(code);
process.exitCode = code;
