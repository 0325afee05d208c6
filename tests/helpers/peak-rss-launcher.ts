/**
 * Runs one command and writes its peak RSS (bytes) to the file named first:
 * `bun peak-rss-launcher.ts <out-file> <command...>`, with stdio passed through and
 * the command's exit code (128 + signal for a signal death) as its own. See
 * ./peak-rss.ts for why the measuring happens in this small process.
 */
import { writeFileSync } from "node:fs";

const [out, ...cmd] = process.argv.slice(2);
if (!out || cmd.length === 0) throw new Error("usage: peak-rss-launcher.ts <out-file> <command...>");
const p = Bun.spawnSync(cmd, { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
writeFileSync(out, String(p.resourceUsage.maxRSS));
const sig = p.signalCode ? (require("node:os").constants.signals[p.signalCode] as number | undefined) : undefined;
process.exit(p.exitCode ?? (sig !== undefined ? 128 + sig : 1));
