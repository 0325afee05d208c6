/**
 * The output boundary's backstop: even a message whose call site forgot renderUntrusted
 * cannot send a raw escape through printResult, the logger or a JSON envelope.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/cli.ts";

test("printResult, log.* and printJson escape what a caller forgot; JSON stays valid", () => {
  const script = `
    import { printResult, printJson, log } from ${JSON.stringify(join(ROOT, "src/ui/index.ts"))};
    printResult("result\\u001b]0;PWNED\\u0007 \\r\\u202e\\nsecond line\\tTab");
    log.error("error \\u001b[2J\\u009b6n");
    log.warn(new Error("err obj \\u001b]52;c;eA==\\u0007"));
    printJson({ s: "json \\u001b[6n \\u009b6n \\u202e \\u200b \\u2028" });
  `;
  const p = Bun.spawnSync([process.execPath, "-e", script], { env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString();
  const err = p.stderr.toString();
  expect(p.exitCode).toBe(0);
  expect(out).toContain("result\\x1b]0;PWNED\\x07 \\r\\u202e\nsecond line\tTab\n");
  expect(err).toContain("error \\x1b[2J\\x9b6n");
  expect(err).toContain("err obj \\x1b]52;c;eA==\\x07");
  const json = JSON.parse(out.slice(out.indexOf("{")));
  expect(json.s).toBe("json \u001b[6n \u009b6n \u202e \u200b \u2028");
  for (const text of [out, err]) expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b\u2028]/);
});
