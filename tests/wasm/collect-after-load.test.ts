/**
 * Loading a large module leaves garbage (the source, the prepared bytes, the
 * instrumenter's objects) that the runtime would otherwise keep resident into the run,
 * where the memory guard charges it to the guest: yosys's first, uncached synthesis
 * run under the default limit was stopped "while running". The loader that every
 * runner goes through (loadPreparedModule) collects once before the guest starts, so a
 * further full collection right after loading finds next to nothing to give back.
 * Each case is a child process (its resident set is its own).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COLLECT_AFTER_LOAD_BYTES } from "../../src/wasm/prepared.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { loopsModule } from "../helpers/loop-modules.ts";

const dir = tempDir("fledge-collect-after-load-");
afterAll(() => dir.cleanup());
const MiB = 2 ** 20;

/** Loads `module` as the runners do (uncached), then prints how much RSS one more full collection frees. */
function leftAfterLoad(module: Uint8Array, name: string): { freed: number; sourceBytes: number } {
  const wasm = join(dir.path, `${name}.wasm`);
  writeFileSync(wasm, module);
  const script = join(dir.path, `${name}.ts`);
  writeFileSync(
    script,
    `import { loadPreparedModule } from ${JSON.stringify(join(ROOT, "src/wasm/prepared.ts"))};
const f = ${JSON.stringify(wasm)};
await loadPreparedModule(f, { path: f }, { maxMemoryBytes: ${MiB}, noCache: true, configDir: ${JSON.stringify(join(dir.path, "cfg"))} });
const before = process.memoryUsage.rss();
Bun.gc(true);
console.log(before - process.memoryUsage.rss());
`,
  );
  const p = Bun.spawnSync([process.execPath, script], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 120_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir.path, NO_COLOR: "1" } });
  expect(p.stderr.toString()).toBe("");
  expect(p.exitCode).toBe(0);
  return { freed: Number(p.stdout.toString().trim()), sourceBytes: module.length };
}

describe("the loader collects after loading a large module", () => {
  test("a 6.8 MB module: what is left to collect when the guest would start is small", () => {
    // 20 functions of 20,000 tiny loops: instrumenting it makes ~200 MiB of garbage.
    const r = leftAfterLoad(loopsModule(20, 20_000, 2), "large");
    expect(r.sourceBytes).toBeGreaterThanOrEqual(COLLECT_AFTER_LOAD_BYTES);
    expect(r.freed).toBeLessThan(32 * MiB);
  }, 120_000);
});
