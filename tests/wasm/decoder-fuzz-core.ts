/**
 * Differential fuzz of the strict decoder against an oracle that is not our own
 * code: binaryen. For every module fledge accepts (the strict decoder passes and the
 * engine validates), the functions, loops and calls fledge found in each function
 * must equal what binaryen finds (`wasm-opt --func-metrics`). Modules come from
 * `wasm-opt -ttf` (random bytes, several feature sets) and from byte-level mutations
 * of them. Shared by tests/wasm/decoder-diff.test.ts and scripts/fuzz-decoder.ts.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { skipInstr } from "../../src/wasm/code.ts";
import { decodeModule } from "../../src/wasm/decoder.ts";
import { instrument } from "../../src/wasm/instrument.ts";
import { readU32 } from "../../src/wasm/leb128.ts";
import { FEATURES } from "../../src/wasm/opcodes.ts";

const ALL = [
  "--enable-sign-ext",
  "--enable-threads",
  "--enable-mutable-globals",
  "--enable-nontrapping-float-to-int",
  "--enable-simd",
  "--enable-bulk-memory",
  "--enable-exception-handling",
  "--enable-tail-call",
  "--enable-reference-types",
  "--enable-multivalue",
  "--enable-gc",
  "--enable-memory64",
  "--enable-typed-function-references",
  "--enable-gc-nn-locals",
  "--enable-relaxed-simd",
  "--enable-extended-const",
];

/** Feature sets to generate with: everything on, what fledge runs, and narrower subsets. */
export const FEATURE_SETS: readonly (readonly string[])[] = [
  ALL,
  ["--enable-sign-ext", "--enable-mutable-globals", "--enable-nontrapping-float-to-int", "--enable-simd", "--enable-bulk-memory", "--enable-tail-call", "--enable-reference-types", "--enable-multivalue", "--enable-extended-const"],
  ["--enable-exception-handling", "--enable-reference-types", "--enable-multivalue", "--enable-bulk-memory", "--enable-tail-call"],
  ["--enable-simd", "--enable-relaxed-simd", "--enable-sign-ext"],
  ["--enable-reference-types", "--enable-typed-function-references", "--enable-gc", "--enable-simd"],
  ["--enable-threads", "--enable-bulk-memory", "--enable-memory64"],
  [],
];

import { prng } from "../helpers/prng.ts";
export { prng };

export interface Counts {
  funcs: number;
  /** Per defined function: [loops, calls]. */
  perFunc: Array<[number, number]>;
}

/**
 * Loops and calls in the code binaryen keeps. binaryen's reader drops code it proves
 * dead (after `unreachable`, `br`, `return`, ... up to the end of the enclosing
 * block, and after a none-typed block, loop, if/else or try whose body ends that way
 * and that no branch targets), so counts from fledge's decode are filtered by the
 * same rule before the comparison. Instruction boundaries still come from fledge's
 * decoder (skipInstr): a misread immediate shows up as a divergence.
 */
export function binaryenLiveCounts(code: Uint8Array, trace?: (line: string) => void): [number, number] {
  interface Frame {
    op: number;
    none: boolean;
    targeted: boolean;
    /** Each arm (if/else, try/catches) ended unreachable so far. */
    allArmsDead: boolean;
    armDead: boolean;
    arms: number;
    /** A block opened as the first instruction of a block: binaryen reads these without its dead-code check. */
    first: boolean;
  }
  const stack: Frame[] = [{ op: -1, none: false, targeted: true, allArmsDead: true, armDead: false, arms: 1, first: false }];
  let prevOp = -1;
  let loops = 0;
  let calls = 0;
  let dead = false; // skipping to the end of the current frame's arm
  let skipDepth = 0; // nested blocks opened while skipping
  let p = 0;
  const target = (label: number): void => {
    const f = stack[stack.length - 1 - label];
    if (f) f.targeted = true;
  };
  while (p < code.length) {
    const op = code[p]!;
    const next = skipInstr(code, p);
    trace?.(`${p.toString(16)} op ${op.toString(16)} depth ${stack.length - 1} ${dead ? `dead(${skipDepth})` : ""}`);
    if (dead) {
      // binaryen still reads dead code, and a branch there still marks its target as
      // branched to (which keeps that block reachable after its end).
      if (op === 0x0c || op === 0x0d) {
        const l = readU32(code, p + 1);
        if (l >= skipDepth) target(l - skipDepth);
      } else if (op === 0x0e) {
        let q = p + 1;
        const k = readU32(code, q);
        while (code[q]! & 0x80) q++;
        q++;
        for (let i = 0; i <= k; i++) {
          const l = readU32(code, q);
          if (l >= skipDepth) target(l - skipDepth);
          while (code[q]! & 0x80) q++;
          q++;
        }
      }
      if (op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06 || op === 0x1f) skipDepth++;
      else if (skipDepth > 0 && (op === 0x0b || op === 0x18)) skipDepth--;
      else if (skipDepth === 0 && (op === 0x0b || op === 0x05 || op === 0x07 || op === 0x19 || op === 0x18)) dead = false;
      if (dead) {
        p = next;
        continue;
      }
    }
    switch (op) {
      case 0x02:
      case 0x03:
      case 0x04:
      case 0x06:
        if (op === 0x03) loops++;
        stack.push({ op, none: code[p + 1] === 0x40, targeted: false, allArmsDead: true, armDead: false, arms: 0, first: op === 0x02 && prevOp === 0x02 });
        break;
      case 0x05:
      case 0x07:
      case 0x19: {
        const f = stack[stack.length - 1]!;
        f.allArmsDead &&= f.armDead;
        f.armDead = false;
        f.arms++;
        break;
      }
      case 0x0b:
      case 0x18: {
        const f = stack.pop()!;
        if (stack.length === 0) break;
        f.allArmsDead &&= f.armDead;
        f.arms++;
        let unreachable = false;
        if (f.none) {
          if (f.op === 0x03) unreachable = f.armDead;
          else if (f.op === 0x02) unreachable = f.allArmsDead && !f.targeted;
          else if (f.op === 0x04) unreachable = f.arms === 2 && f.allArmsDead && !f.targeted;
          else if (f.op === 0x06) unreachable = f.allArmsDead && !f.targeted && op !== 0x18;
        }
        if (op === 0x18) target(readU32(code, p + 1));
        if (unreachable) {
          stack[stack.length - 1]!.armDead = true;
          if (!f.first) {
            dead = true;
            skipDepth = 0;
          }
        }
        break;
      }
      case 0x0c:
      case 0x0d:
        target(readU32(code, p + 1));
        break;
      case 0x0e: {
        let q = p + 1;
        const k = readU32(code, q);
        while (code[q]! & 0x80) q++;
        q++;
        for (let i = 0; i <= k; i++) {
          target(readU32(code, q));
          while (code[q]! & 0x80) q++;
          q++;
        }
        break;
      }
      case 0x10:
      case 0x11:
      case 0x12:
      case 0x13:
        calls++;
        break;
    }
    if (op === 0x00 || op === 0x0c || op === 0x0e || op === 0x0f || op === 0x12 || op === 0x13 || op === 0x08 || op === 0x09 || op === 0x0a) {
      stack[stack.length - 1]!.armDead = true;
      dead = true;
      skipDepth = 0;
    }
    prevOp = op;
    p = next;
  }
  return [loops, calls];
}

export interface DiffOutcome {
  seed: number;
  variant: string;
  /** fledge accepted (decoder and engine); only these are compared. */
  accepted: boolean;
  /** Why fledge refused (first line), when it did. */
  refusal?: string;
  /** fledge refused a module the engine validates (a proposal fledge does not run, or over-strictness). */
  engineValid?: boolean;
  /** binaryen could not read a module fledge accepted (counted, not a divergence). */
  oracleFailed?: boolean;
  divergence?: string;
  /** binaryen kept or dropped dead code other than binaryenLiveCounts models (never more than fledge decoded). */
  modelGap?: string;
}

/** Generates a module with wasm-opt -ttf; null when binaryen fails for this seed. */
export function generate(dir: string, seed: number): { bytes: Uint8Array; features: string } | null {
  const rand = prng(seed);
  const set = FEATURE_SETS[seed % FEATURE_SETS.length]!;
  const size = 256 + Math.floor(rand() * 8192);
  const input = new Uint8Array(size);
  for (let i = 0; i < size; i++) input[i] = Math.floor(rand() * 256);
  const inPath = join(dir, `dec-${seed}.bin`);
  const outPath = join(dir, `dec-${seed}.wasm`);
  writeFileSync(inPath, input);
  try {
    const r = Bun.spawnSync(["wasm-opt", inPath, "-ttf", ...set, "-o", outPath], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode !== 0) return null;
    return { bytes: new Uint8Array(readFileSync(outPath)), features: set === ALL ? "all" : set.length ? set.join(" ") : "mvp" };
  } finally {
    rmSync(inPath, { force: true });
    rmSync(outPath, { force: true });
  }
}

/** Bytes that hit the decoder's edges: prefixes, ref-type forms, block types, LEB continuation, end/else. */
const INTERESTING = [0x63, 0x64, 0x69, 0x6e, 0x70, 0x6f, 0x40, 0x7b, 0xfb, 0xfc, 0xfd, 0xfe, 0x80, 0xff, 0x0b, 0x05, 0x02, 0x03, 0x1c, 0x1f, 0x06, 0x00, 0x7f];

/** [start, end) of the code section's payload, or the whole module after the header. */
function codeRange(bytes: Uint8Array): [number, number] {
  let p = 8;
  while (p < bytes.length) {
    const id = bytes[p]!;
    let size = 0;
    let shift = 1;
    let q = p + 1;
    while (q < bytes.length) {
      const x = bytes[q++]!;
      size += (x & 0x7f) * shift;
      shift *= 128;
      if (!(x & 0x80)) break;
    }
    if (id === 10) return [q, Math.min(bytes.length, q + size)];
    p = q + size;
  }
  return [8, bytes.length];
}

/**
 * 1-4 byte-level mutations (flip, set to an interesting byte, insert, delete,
 * duplicate a run), three times in four inside the code section. Section and body
 * sizes are left as they were, so length-changing mutations mostly make the module
 * malformed; in-place ones keep it decodable and reach the instruction decoder.
 */
export function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  let b = Array.from(bytes);
  const k = 1 + Math.floor(rand() * 4);
  const [cs, ce] = codeRange(bytes);
  for (let i = 0; i < k; i++) {
    const inCode = rand() < 0.75 && ce > cs;
    const at = inCode ? cs + Math.floor(rand() * (ce - cs)) : 8 + Math.floor(rand() * Math.max(1, b.length - 8));
    // In-place changes twice as often: they keep sizes consistent.
    const kind = [0, 0, 1, 1, 2, 3, 4][Math.floor(rand() * 7)]!;
    if (kind === 0) b[at] = (b[at]! ^ (1 << Math.floor(rand() * 8))) & 0xff;
    else if (kind === 1) b[at] = INTERESTING[Math.floor(rand() * INTERESTING.length)]!;
    else if (kind === 2) b.splice(at, 0, INTERESTING[Math.floor(rand() * INTERESTING.length)]!);
    else if (kind === 3) b.splice(at, 1);
    else {
      const len = 1 + Math.floor(rand() * 8);
      b = [...b.slice(0, at), ...b.slice(at, at + len), ...b.slice(at)];
    }
  }
  return new Uint8Array(b);
}

/** fledge's view: null when refused (with the reason). The decoder runs with exception handling decodable. */
export function fledgeCounts(bytes: Uint8Array): { counts: Counts | null; live?: Counts; refusal?: string } {
  const saved = FEATURES.exceptions;
  FEATURES.exceptions = true;
  try {
    const { module, counts } = decodeModule(bytes);
    if (!WebAssembly.validate(bytes)) return { counts: null, refusal: "engine: does not validate" };
    return {
      counts: { funcs: module.codes.length, perFunc: counts.map((c) => [c.loops, c.calls]) },
      live: { funcs: module.codes.length, perFunc: module.codes.map((c) => binaryenLiveCounts(c.code)) },
    };
  } catch (e) {
    return { counts: null, refusal: e instanceof Error ? e.message.split("\n")[0]! : String(e) };
  } finally {
    FEATURES.exceptions = saved;
  }
}

/** binaryen's view, from `wasm-opt --func-metrics`; null when binaryen cannot read the module. */
export function binaryenCounts(path: string): Counts | null {
  const r = Bun.spawnSync(["wasm-opt", path, "--all-features", "--func-metrics"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return null;
  const text = r.stdout.toString();
  const perFunc: Array<[number, number]> = [];
  let funcs = 0;
  let cur: [number, number] | null = null;
  for (const line of text.split("\n")) {
    const f = /^ \[funcs\]\s*:\s*(\d+)/.exec(line);
    if (f) funcs = Number(f[1]);
    if (/^func: /.test(line)) {
      cur = [0, 0];
      perFunc.push(cur);
      continue;
    }
    if (!cur) continue;
    const m = /^ (Loop|Call|CallIndirect)\s*:\s*(\d+)/.exec(line);
    if (m) {
      if (m[1] === "Loop") cur[0] += Number(m[2]);
      else cur[1] += Number(m[2]);
    }
  }
  return { funcs, perFunc };
}

/** wabt's view (`wasm-objdump -d`, a faithful disassembly including dead code); null when unavailable. */
export function wabtCounts(path: string): Counts | null {
  if (!Bun.which("wasm-objdump")) return null;
  const r = Bun.spawnSync(["wasm-objdump", "-d", path], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return null;
  const perFunc: Array<[number, number]> = [];
  let cur: [number, number] | null = null;
  for (const line of r.stdout.toString().split("\n")) {
    if (/^[0-9a-f]+ func\[\d+\]/.test(line)) {
      cur = [0, 0];
      perFunc.push(cur);
      continue;
    }
    if (!cur) continue;
    const m = /\|\s*(loop|call|call_indirect|return_call|return_call_indirect)\b/.exec(line);
    if (m) {
      if (m[1] === "loop") cur[0]++;
      else cur[1]++;
    }
  }
  return { funcs: perFunc.length, perFunc };
}

function compare(a: Counts, b: Counts): string | undefined {
  if (a.funcs !== b.funcs) return `functions: fledge ${a.funcs}, binaryen ${b.funcs}`;
  if (a.perFunc.length !== b.perFunc.length) return `function bodies: fledge ${a.perFunc.length}, binaryen ${b.perFunc.length}`;
  for (let i = 0; i < a.perFunc.length; i++) {
    const [l1, c1] = a.perFunc[i]!;
    const [l2, c2] = b.perFunc[i]!;
    if (l1 !== l2 || c1 !== c2) return `function ${i}: fledge ${l1} loops ${c1} calls, binaryen ${l2} loops ${c2} calls`;
  }
  return undefined;
}

/**
 * The verdict. A divergence is: a different function count; any per-function
 * difference from wabt's faithful disassembly; or binaryen finding a loop or call
 * that fledge did not decode (more than fledge's count, which includes dead code).
 * binaryen dropping dead code that the model above does not predict is reported
 * separately: it cannot hide code from fledge.
 */
export function oracleDiff(full: Counts, live: Counts, bin: Counts, wabt: Counts | null): { divergence?: string; modelGap?: string } {
  if (full.funcs !== bin.funcs) return { divergence: `functions: fledge ${full.funcs}, binaryen ${bin.funcs}` };
  if (wabt) {
    const d = compare(full, wabt);
    if (d) return { divergence: `wabt: ${d}` };
  }
  for (let i = 0; i < full.perFunc.length; i++) {
    const [l1, c1] = full.perFunc[i]!;
    const [l2, c2] = bin.perFunc[i] ?? [0, 0];
    if (l2 > l1 || c2 > c1) return { divergence: `binaryen: function ${i}: fledge decoded ${l1} loops ${c1} calls, binaryen found ${l2} loops ${c2} calls` };
  }
  const d = compare(live, bin);
  return d ? { modelGap: d } : {};
}

/**
 * The rewriter (blocks.ts walks bodies on its own) must find the loops the decoder
 * found, and its output must validate. Modules the rewriter refuses (exception
 * handling while that feature is off) are skipped.
 */
export function rewriterCheck(bytes: Uint8Array, counts: Counts): string | undefined {
  let r: ReturnType<typeof instrument>;
  try {
    r = instrument(bytes, { fuel: true, maxMemoryBytes: null, validate: false });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/exception-handling proposal/.test(msg)) return undefined;
    return `rewriter refused a module the decoder accepted: ${msg}`;
  }
  const loops = counts.perFunc.reduce((a, [l]) => a + l, 0);
  if (r.stats.loops !== loops) return `rewriter: ${r.stats.loops} loops metered, decoder found ${loops}`;
  if (!WebAssembly.validate(r.bytes)) return "rewriter: the metered module does not validate";
  return undefined;
}

/** Checks one module; writes it to `dir` only when binaryen must read it. */
export function checkOne(dir: string, seed: number, variant: string, bytes: Uint8Array, keep = false): DiffOutcome {
  const mine = fledgeCounts(bytes);
  if (!mine.counts) return { seed, variant, accepted: false, refusal: mine.refusal ?? "refused", engineValid: WebAssembly.validate(bytes) };
  const path = join(dir, `dec-${seed}-${variant}.wasm`);
  writeFileSync(path, bytes);
  try {
    const theirs = binaryenCounts(path);
    if (!theirs) return { seed, variant, accepted: true, oracleFailed: true };
    const out: DiffOutcome = { seed, variant, accepted: true };
    const d = oracleDiff(mine.counts, mine.live!, theirs, wabtCounts(path));
    if (d.divergence) out.divergence = d.divergence;
    else {
      const r = rewriterCheck(bytes, mine.counts);
      if (r) out.divergence = r;
    }
    if (d.modelGap) out.modelGap = d.modelGap;
    return out;
  } finally {
    if (!keep) rmSync(path, { force: true });
  }
}

/** One seed: the generated module and `mutants` mutations of it (twice as many when fledge accepts it). */
export function fuzzSeed(dir: string, seed: number, mutants: number): DiffOutcome[] {
  const g = generate(dir, seed);
  if (!g) return [];
  const out = [checkOne(dir, seed, "ttf", g.bytes)];
  const rand = prng(seed ^ 0x5eed);
  // Mutants of a module fledge accepts reach the instruction decoder far more often.
  const k = out[0]!.accepted ? 2 * mutants : mutants;
  for (let i = 0; i < k; i++) out.push(checkOne(dir, seed, `m${i}`, mutate(g.bytes, rand)));
  return out;
}
