import { defineCommand } from "citty";
import { renderTable, runNativeCanary, runSandboxedCanary, summaryLine, type CanaryReport } from "../canary/index.ts";
import { runZeroCapabilitySandbox } from "../canary/sandbox.ts";
import { printJson, printResult } from "../ui/index.ts";

export default defineCommand({
  meta: {
    name: "canary",
    description: "Prove the sandbox: run a built-in canary that tries to read secrets, escape, write and connect from inside it. Example: fledge canary",
  },
  args: {
    native: { type: "boolean", description: "run the same probes as an ordinary unsandboxed process, to show the threat is real (never prints what it reads)" },
    json: { type: "boolean", description: "print one JSON object" },
  },
  async run({ args }) {
    const report: CanaryReport = args.native ? await runNativeCanary() : await runSandboxedCanary(runZeroCapabilitySandbox);
    if (args.json) {
      printJson({ mode: report.mode, tests: report.results.length, blocked: report.blocked, leaked: report.leaked, absent: report.absent, results: report.results });
    } else {
      printResult(renderTable(report));
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
