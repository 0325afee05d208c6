import { defineCommand } from "citty";
import { renderTable, runNativeCanary, runSandboxedCanary, summaryLine, type CanaryReport } from "../canary/index.ts";
import { runZeroCapabilitySandbox } from "../canary/sandbox.ts";
import { runConfinedNativeCanary } from "../canary/native-confined.ts";
import { confinementState, describeConfinement } from "../confine/index.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "canary",
    description: "Prove the sandbox: run a built-in canary that tries to read secrets, escape, write and connect from inside it. Example: fledge canary",
  },
  args: {
    native: { type: "boolean", description: "run the same probes as a confined native plugin and show what is BLOCKED (never prints what it reads)" },
    unconfined: { type: "boolean", description: "with --native: run the probes as an ordinary unconfined process, to show today's threat" },
    json: { type: "boolean", description: "print one JSON object" },
  },
  async run({ args }) {
    let report: CanaryReport;
    if (args.native && !args.unconfined) {
      const confined = await runConfinedNativeCanary();
      if (!confined) process.stderr.write(`native plugins run ${describeConfinement(confinementState(false))} here: showing the unconfined threat\n`);
      report = confined ?? (await runNativeCanary());
    } else report = args.native ? await runNativeCanary() : await runSandboxedCanary(runZeroCapabilitySandbox);
    if (args.json) {
      printJson({ mode: report.mode, tests: report.results.length, blocked: report.blocked, leaked: report.leaked, absent: report.absent, results: report.results });
    } else {
      printResult(renderTable(report));
    }
    if (report.mode === "native-confined") {
      if (!args.json) process.stderr.write(`confined native run (${describeConfinement(confinementState(false))}): ${report.blocked} of ${report.results.length} attacks blocked; what is left is what every plugin may see (the system, non-secret home files, PATH and HOME)\n`);
      return 0;
    }
    if (report.mode === "native") {
      // The native run is a demonstration; its "leaks" are the expected outcome.
      if (!args.json) process.stderr.write(`native run: ${report.leaked} of ${report.results.length} attacks would work for an unsandboxed plugin\n`);
      return 0;
    }
    if (report.leaked > 0) process.stderr.write(`sandbox check FAILED: ${summaryLine(report)}\n`);
    return report.leaked === 0 && report.missing.length === 0 ? 0 : 1;
  },
});
