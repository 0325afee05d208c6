import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wasiClangTargetFlags } from "../../src/core/guest-toolchain.ts";
import { runModuleFile, prepareModule } from "../../src/wasm/index.ts";
import { runCommand } from "../../src/wasi/index.ts";
import { EXIT } from "../../src/ui/index.ts";
import { have } from "./helpers.ts";
import { expectFledgeRejection } from "../helpers/errors.ts";

const MiB = 1 << 20;
const programs: Record<string, string> = {
  hello: `#include <stdio.h>\nint main(int argc, char **argv) { printf("hello %s\\n", argc > 1 ? argv[1] : "?"); return 3; }`,
  spin: `volatile int x; int main(void) { for (;;) x++; }`,
  compute: `#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\nstatic int cmp(const void *a, const void *b) { return *(const unsigned *)a < *(const unsigned *)b ? -1 : *(const unsigned *)a > *(const unsigned *)b; }\nint main(void) { unsigned n = 20000, *v = malloc(n * 4), h = 2166136261u; for (unsigned i = 0; i < n; i++) v[i] = i * 2654435761u; qsort(v, n, 4, cmp); for (unsigned i = 0; i < n; i++) h = (h ^ v[i]) * 16777619u; double s = 0; for (int i = 1; i < 100000; i++) s += sin(i) / i; char buf[64]; memset(buf, 'x', 63); buf[63] = 0; printf("%u %.12f %zu\\n", h, s, strlen(buf)); return 0; }`,
  grow: `#include <stdlib.h>\n#include <stdio.h>\nvoid *volatile keep; int main(void) { int n = 0; for (;;) { char *p = malloc(1 << 20); if (!p) break; p[0] = 1; keep = p; n++; } printf("%d\\n", n); return 0; }`,
};

const dir = mkdtempSync(join(tmpdir(), "fledge-run-"));
const built: Record<string, string> = {};
if (have("clang")) {
  for (const [name, src] of Object.entries(programs)) {
    writeFileSync(join(dir, `${name}.c`), src);
    const out = join(dir, `${name}.wasm`);
    const r = Bun.spawnSync(["clang", ...wasiClangTargetFlags(), "-O1", "-o", out, join(dir, `${name}.c`), "-lm"], { stderr: "pipe" });
    if (r.exitCode === 0) built[name] = out;
  }
}

const base = { args: ["prog"], env: [] as [string, string][], preopens: [], fuel: 1_000_000_000n as bigint | null, timeoutMs: 10_000 as number | null, maxMemoryBytes: 64 * MiB as number | null };

const failure = expectFledgeRejection;

describe.skipIf(!have("clang"))("runModuleFile", () => {
  test("runs a WASI command under metering and returns its exit code", async () => {
    const chunks: Uint8Array[] = [];
    const r = await runModuleFile(built.hello!, { ...base, args: ["hello", "world"], stdout: (b) => chunks.push(b.slice()) });
    expect(r.exitCode).toBe(3);
    expect(Buffer.concat(chunks).toString()).toBe("hello world\n");
    expect(r.fuelUsed).toBeGreaterThan(0n);
  });

  test("an instrumented program prints exactly what the original prints", async () => {
    const raw: Uint8Array[] = [];
    const rawRun = await runCommand(new WebAssembly.Module(readFileSync(built.compute!)), { args: ["c"], env: [], preopens: [], stdout: (b) => raw.push(b.slice()) });
    const metered: Uint8Array[] = [];
    const r = await runModuleFile(built.compute!, { ...base, args: ["c"], stdout: (b) => metered.push(b.slice()) });
    expect(r.exitCode).toBe(rawRun.exitCode);
    expect(Buffer.concat(metered).toString()).toBe(Buffer.concat(raw).toString());
    expect(Buffer.concat(raw).toString()).toMatch(/^\d+ -?\d+\.\d{12} 63\n$/);
  });

  test("a spinning program ends with the fuel error and exit code", async () => {
    const e = await failure(runModuleFile(built.spin!, { ...base, fuel: 50_000_000n }));
    expect(e.exitCode).toBe(EXIT.fuelExhausted);
    expect(e.message).toContain("50,000,000 units");
  });

  test("with unlimited fuel it ends at the time limit", async () => {
    const t0 = performance.now();
    const e = await failure(runModuleFile(built.spin!, { ...base, fuel: null, timeoutMs: 200 }));
    expect(e.exitCode).toBe(EXIT.timeLimit);
    console.log(`  WASI spin: time limit reported ${(performance.now() - t0 - 200).toFixed(1)} ms after the 200 ms deadline`);
  });

  test("the memory cap makes malloc fail instead of growing past it", async () => {
    const chunks: Uint8Array[] = [];
    const r = await runModuleFile(built.grow!, { ...base, maxMemoryBytes: 16 * MiB, stdout: (b) => chunks.push(b.slice()) });
    expect(r.exitCode).toBe(0);
    const n = Number(Buffer.concat(chunks).toString());
    expect(n).toBeGreaterThan(5);
    expect(n).toBeLessThan(16);
  });

  test("a prepared module can be reused (the cacheable step)", async () => {
    const prepared = prepareModule(new Uint8Array(readFileSync(built.hello!)), { maxMemoryBytes: 64 * MiB });
    for (let i = 0; i < 2; i++) {
      const r = await runModuleFile("unused", { ...base, prepared, stdout: () => {} });
      expect(r.exitCode).toBe(3);
    }
  });
});
