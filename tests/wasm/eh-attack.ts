/**
 * The strongest exception-hoarding guest fledge's exception rules still accept (see
 * checkExceptionRules in src/wasm/caps.ts): tags carry the largest allowed payload
 * (four v128, 64 bytes), exnref lives only in locals, and a recursive function fills
 * `locals` exnref locals with fresh exceptions in every frame, recursing `depth` times
 * (a huge depth ends in a stack overflow: peak memory is when the stack is full).
 * At the bottom it writes "held\n" to stdout.
 * Run as a script to write the module: bun tests/wasm/eh-attack.ts LOCALS DEPTH OUT.wasm
 */
import { section, uleb, vec } from "./build-bytes.ts";

const V128_CONST = (k: number): number[] => [0xfd, 0x0c, ...Array.from({ length: 16 }, (_, i) => (k + i) & 0xff)];
const str = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];

export function hoardModule(locals: number, depth: number): Uint8Array {
  const fill: number[] = [];
  for (let i = 0; i < locals; i++) {
    fill.push(0x02, 0x69, 0x1f, 0x40, 0x01, 0x03, 0x00); // block (result exnref) try_table (catch_all_ref 0)
    for (let k = 0; k < 4; k++) fill.push(...V128_CONST(i + k));
    fill.push(0x08, 0x00, 0x0b, 0x00, 0x0b, 0x21, ...uleb(1 + i)); // throw 0 end unreachable end local.set
  }
  return recursiveModule(locals, fill, [], depth);
}

/**
 * The legacy-encoding variant: `nest` nested `try ... catch` levels per frame, each
 * catch body opening the next level, so every level's caught exception stays alive
 * (it can still be rethrown) while the innermost one recurses `depth` times.
 * (Bun 1.4.5 aborts on the stack overflow inside the catch bodies, a crash rather
 * than a trap; peak memory before it is what this guest shows.)
 */
export function legacyHoardModule(nest: number, depth: number): Uint8Array {
  const open: number[] = [];
  for (let i = 0; i < nest; i++) {
    open.push(0x06, 0x40); // try
    for (let k = 0; k < 4; k++) open.push(...V128_CONST(i + k));
    open.push(0x08, 0x00, 0x07, 0x00, 0x1a, 0x1a, 0x1a, 0x1a); // throw 0 catch 0 drop x4
  }
  return recursiveModule(0, open, new Array<number>(nest).fill(0x0b), depth);
}

/** $f (param depth) with `locals` exnref locals: `before`, recurse or write "held\n", `after`. */
function recursiveModule(locals: number, before: number[], after: number[], depth: number): Uint8Array {
  const types = [
    [0x60, 4, 0x7b, 0x7b, 0x7b, 0x7b, 0], // 0: tag payload, 64 bytes
    [0x60, 1, 0x7f, 0], // 1: $f (depth)
    [0x60, 0, 0], // 2: _start
    [0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f], // 3: fd_write
  ];
  const write = [
    0x41, 0, 0x41, 8, 0x36, 2, 0, 0x41, 4, 0x41, 5, 0x36, 2, 0,
    0x41, 8, 0x42, ...sleb(0x0a646c6568), 0x37, 3, 0,
    0x41, 1, 0x41, 0, 0x41, 1, 0x41, 16, 0x10, 0, 0x1a,
  ];
  const decl = locals > 0 ? vec([[...uleb(locals), 0x69]]) : vec([]);
  const f = [...decl, ...before, 0x20, 0, 0x04, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x10, 1, 0x05, ...write, 0x0b, ...after, 0x0b];
  const start = [0, 0x41, ...sleb(depth), 0x10, 1, 0x0b];
  const body = (b: number[]): number[] => [...uleb(b.length), ...b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    ...section(2, vec([[...str("wasi_snapshot_preview1"), ...str("fd_write"), 0, 3]])),
    ...section(3, vec([[1], [2]])),
    ...section(5, vec([[0, 1]])),
    ...section(13, vec([[0, 0]])),
    ...section(7, vec([[...str("_start"), 0, 2], [...str("memory"), 2, 0]])),
    ...section(10, vec([body(f), body(start)])),
  ]);
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n = Math.floor(n / 128);
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

if (import.meta.main) {
  const [l, d, out, kind] = process.argv.slice(2);
  await Bun.write(out!, kind === "legacy" ? legacyHoardModule(Number(l), Number(d)) : hoardModule(Number(l), Number(d)));
}
