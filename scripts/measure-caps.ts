/**
 * Peak RSS of a fledge process that prepares (caps, strict decode, meter rewrite),
 * compiles and instantiates a module at each module cap, and for modules just over
 * a cap (refused before any expensive work). Each case runs in its own child process.
 *   bun scripts/measure-caps.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODULE_CAPS } from "../src/wasm/caps.ts";
import { prepareModule } from "../src/wasm/prepare.ts";
import { buildModule, section, uleb } from "../tests/wasm/build-bytes.ts";

if (process.argv[2] === "--child") {
  const bytes = new Uint8Array(readFileSync(process.argv[3]!));
  const t0 = performance.now();
  let outcome = "ran";
  try {
    const r = prepareModule(bytes, { maxMemoryBytes: 64 * 1024 });
    const mod = new WebAssembly.Module(r.bytes);
    new WebAssembly.Instance(mod, { "fledge:meter": { refuel: () => 1_000_000n } });
  } catch (e) {
    outcome = `refused: ${(e as Error).message.slice(0, 90)}`;
  }
  const ms = performance.now() - t0;
  // VmHWM (peak resident set of this address space): getrusage's maxrss can carry the
  // parent's size across spawn on Linux.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  console.log(JSON.stringify({ outcome, maxRssMiB: hwm ? Number(hwm[1]) / 1024 : NaN, ms }));
  process.exit(0);
}

const HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];

function nest(d: number): number[] {
  const b: number[] = [];
  for (let i = 0; i < d; i++) b.push(0x02, 0x40);
  for (let i = 0; i < d; i++) b.push(0x0b);
  return b;
}

function manyFunctions(n: number): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([...HEADER, ...section(1, [1, 0x60, 0, 0])])];
  parts.push(new Uint8Array([3, ...uleb(uleb(n).length + n), ...uleb(n)]), new Uint8Array(n));
  const code = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) code.set([2, 0, 0x0b], 3 * i);
  const head = uleb(n);
  parts.push(new Uint8Array([10, ...uleb(head.length + code.length), ...head]), code);
  return new Uint8Array(Buffer.concat(parts));
}

const table = (min: number): number[] => [0x70, 0x00, ...uleb(min)];
const cases: Array<[string, () => Uint8Array]> = [
  ["baseline: one empty function", () => buildModule({ bodies: [[]] })],
  ["nesting at the cap: 10,000 nested blocks", () => buildModule({ bodies: [nest(MODULE_CAPS.nestingDepth)] })],
  ["nesting at the cap in 100 functions (3.9 MB)", () => buildModule({ bodies: new Array(100).fill(nest(MODULE_CAPS.nestingDepth)) })],
  ["nesting over the cap: 4.5 MB of nested blocks in 5 functions", () => buildModule({ bodies: new Array(5).fill(nest(225_000)) })],
  ["functions at the cap: 200,000 empty functions", () => manyFunctions(MODULE_CAPS.functions)],
  ["functions over the cap: 999,999 empty functions", () => manyFunctions(999_999)],
  ["body at the cap: one 1 MiB function of nops", () => buildModule({ bodies: [new Array(MODULE_CAPS.bodyBytes - 16).fill(0x01)] })],
  ["bodies: 60 functions of 1 MiB (60 MiB module)", () => buildModule({ bodies: new Array(60).fill(new Array(MODULE_CAPS.bodyBytes - 16).fill(0x01)) })],
  ["locals at the cap: 50,000 locals in each of 100 functions", () => buildModule({ bodies: new Array(100).fill([]), locals: new Array(100).fill([[MODULE_CAPS.locals, 0x7e]]) })],
  ["br_table at the cap: 100,000 targets", () => buildModule({ bodies: [[0x02, 0x40, 0x41, 0x00, 0x0e, ...uleb(MODULE_CAPS.brTableTargets), ...new Array(MODULE_CAPS.brTableTargets + 1).fill(0), 0x0b]] })],
  ["tables at the limit: one table of 1M elements", () => buildModule({ bodies: [[]], before: [[4, [1, ...table(1 << 20)]]] })],
  ["tables over the limit: 64 tables of 1M elements", () => buildModule({ bodies: [[]], before: [[4, [...uleb(64), ...new Array(64).fill(table(1 << 20)).flat()]]] })],
  ["tables: 100 growable tables (growth shared within 1M)", () => buildModule({ bodies: [[]], before: [[4, [...uleb(100), ...new Array(100).fill(table(0)).flat()]]] })],
];

const dir = mkdtempSync(join(tmpdir(), "fledge-caps-"));
console.log("| case | module | outcome | peak RSS | time |");
console.log("|---|---|---|---|---|");
for (const [name, build] of cases) {
  const bytes = build();
  const path = join(dir, "m.wasm");
  writeFileSync(path, bytes);
  const r = Bun.spawnSync([process.execPath, import.meta.path, "--child", path], { stdout: "pipe", stderr: "pipe" });
  let row: { outcome: string; maxRssMiB: number; ms: number };
  try {
    row = JSON.parse(r.stdout.toString());
  } catch {
    row = { outcome: `child failed (exit ${r.exitCode}): ${r.stderr.toString().slice(0, 80)}`, maxRssMiB: NaN, ms: NaN };
  }
  console.log(`| ${name} | ${(bytes.length / 2 ** 20).toFixed(2)} MiB | ${row.outcome} | ${row.maxRssMiB.toFixed(0)} MiB | ${(row.ms / 1000).toFixed(2)} s |`);
}
rmSync(dir, { recursive: true, force: true });
