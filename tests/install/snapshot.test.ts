/**
 * One registry snapshot per command. The bug: `plugins audit` read plugins.toml twice
 * and paired rows by index, so during a concurrent remove one plugin showed another's
 * exec grant, or the command died with `internal error: undefined is not an object`.
 * Here a separate process removes and reinstalls plugins in a loop while list, audit
 * and verify run; every answer must be valid JSON whose rows match their own plugin.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { MAIN } from "../helpers/cli.ts";
import { baseEnv, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(120_000);

let sb: ReturnType<typeof sandbox>;
/** Each plugin has a grant of its own, so a row paired with the wrong entry shows. */
const PLUGINS: { name: string; caps: Partial<{ exec: boolean; store: boolean; metadata: boolean; network: boolean; filesystem: string }> }[] = [
  { name: "p-exec", caps: { exec: true } },
  { name: "p-store", caps: { store: true } },
  { name: "p-meta", caps: { metadata: true } },
  { name: "p-net", caps: { network: true } },
  { name: "p-fs", caps: { filesystem: "project" } },
  { name: "p-none", caps: {} },
];
const dirs: Record<string, string> = {};

beforeAll(async () => {
  sb = sandbox();
  for (const p of PLUGINS) {
    dirs[p.name] = wasmPlugin(join(sb.root, "src", p.name), { name: p.name, commands: [{ name: p.name, binary: "hello.wasm" }], caps: p.caps });
    const r = await runFledgeAsync(["plugins", "install", dirs[p.name]!, "--copy", "--yes"], { env: sb.env });
    expect(r.code).toBe(0);
  }
});
afterAll(() => sb.cleanup());

function expectedCaps(name: string): Record<string, unknown> {
  const p = PLUGINS.find((x) => x.name === name)!;
  return { exec: false, store: false, metadata: false, filesystem: "none", network: false, ...p.caps };
}

describe("list, audit and verify during a concurrent remove/reinstall", () => {
  test("every answer is one consistent snapshot", async () => {
    // The remover: removes and reinstalls the first plugins as fast as it can.
    const fledge = `${process.execPath} ${MAIN}`;
    const churn = PLUGINS.slice(0, 3)
      .map((p) => `${fledge} plugins remove ${p.name} >/dev/null 2>&1; ${fledge} plugins install '${dirs[p.name]}' --copy --yes >/dev/null 2>&1`)
      .join("; ");
    const remover = Bun.spawn(["sh", "-c", `while :; do ${churn}; done`], { env: baseEnv(sb.env), stdout: "ignore", stderr: "ignore" });
    try {
      let audits = 0;
      for (let i = 0; i < 12; i++) {
        for (const cmd of ["audit", "list", "verify"]) {
          const r = await runFledgeAsync(["plugins", cmd, "--json"], { env: sb.env });
          expect(r.stderr).not.toContain("internal error");
          const out = JSON.parse(r.stdout);
          if (cmd === "audit") {
            audits++;
            expect(r.code).toBe(0);
            for (const row of out.audit) {
              expect(row.capabilities).toEqual(expectedCaps(row.name));
              expect(row.warnings.includes("may run shell commands (exec)")).toBe(row.name === "p-exec");
            }
            expect(out.summary.total).toBe(out.audit.length);
          } else if (cmd === "list") {
            expect(r.code).toBe(0);
            for (const row of out.plugins) expect(row.commands).toEqual([row.name]);
          } else {
            // A plugin removed between the snapshot and the hash shows as missing, never as a crash.
            for (const row of out.results) expect(["ok", "failed"]).toContain(row.status);
          }
        }
      }
      expect(audits).toBe(12);
    } finally {
      remover.kill();
      await remover.exited;
    }
  });
});
