/**
 * Generated modules for the memory guard's tests and measurements
 * (tests/wasm/memory-guard.test.ts, scripts/measure-memory-guard.ts): code made of
 * tiny loops, whose instrumenting and compiling take memory that grows with the
 * module, and a small guest that sleeps and exits with its own code.
 */

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * A WASI command of `funcs` functions () -> (), each `loops` loops whose body adds 1 to
 * local 0 `adds` times (`loop (local.set 0 (i32.add (local.get 0) (i32.const 1))) end`,
 * or empty loops for 0), exporting an empty `_start` and a memory. `opener` 0x02 makes
 * them blocks instead of loops.
 */
export function loopsModule(funcs: number, loops: number, adds: number, opener: 0x02 | 0x03 = 0x03): Uint8Array {
  const sec = (id: number, b: number[]) => [id, ...uleb(b.length), ...b];
  const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
  const head = [
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...sec(1, [1, 0x60, 0, 0]),
    ...sec(3, [...uleb(funcs + 1), ...new Array<number>(funcs + 1).fill(0)]),
    ...sec(5, [1, 0, 1]),
    ...sec(7, [2, ...name("_start"), 0, ...uleb(funcs), ...name("memory"), 2, 0]),
  ];
  const unit = [opener, 0x40, ...new Array<number[]>(adds).fill([0x20, 0, 0x41, 1, 0x6a, 0x21, 0]).flat(), 0x0b];
  const locals = adds ? [1, 1, 0x7f] : [0];
  const body = new Uint8Array(unit.length * loops);
  for (let i = 0; i < loops; i++) body.set(unit, i * unit.length);
  const fn = [...uleb(locals.length + body.length + 1), ...locals];
  const start = [2, 0, 0x0b];
  const codeLen = uleb(funcs + 1).length + funcs * (fn.length + body.length + 1) + start.length;
  const code = [10, ...uleb(codeLen), ...uleb(funcs + 1)];
  const out = new Uint8Array(head.length + code.length + codeLen - uleb(funcs + 1).length);
  let p = 0;
  const put = (b: ArrayLike<number>) => {
    out.set(b, p);
    p += b.length;
  };
  put(head);
  put(code);
  for (let f = 0; f < funcs; f++) {
    put(fn);
    put(body);
    put([0x0b]);
  }
  put(start);
  if (p !== out.length) throw new Error(`loopsModule: wrote ${p} of ${out.length} bytes`);
  return out;
}

/**
 * A guest that sleeps 300 ms (poll_oneoff on a clock: ~60 samples of the guard),
 * prints "slept" and exits 7. Built by wat2wasm from:
 *   (module
 *     (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
 *     (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
 *     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
 *     (memory (export "memory") 1)
 *     (data (i32.const 200) "\d0\00\00\00\06\00\00\00")
 *     (data (i32.const 208) "slept\n")
 *     (func (export "_start")
 *       (i64.store (i32.const 24) (i64.const 300000000))
 *       (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
 *       (drop (call $write (i32.const 1) (i32.const 200) (i32.const 1) (i32.const 216)))
 *       (call $exit (i32.const 7))))
 */
export const SLEEPER = Buffer.from(
  "0061736d0100000001100360047f7f7f7f017f60017f00600000026b0316776173695f736e617073686f745f70726576696577310b706f6c6c5f6f6e656f6666000016776173695f736e617073686f745f70726576696577310866645f7772697465000016776173695f736e617073686f745f70726576696577310970726f635f657869740001030201020503010001071302066d656d6f72790200065f737461727400030a2d012b0041184280c6868f01370300410041c000410141800110001a410141c801410141d80110011a410710020b0b1b020041c8010b08d0000000060000000041d0010b06736c6570740a",
  "hex",
);


/** 30 MB of loops of two adds, accepted and metered; its compile takes ~1 GB (954 MB measured with `--max-memory 1MiB`). */
export function addsModule(): Uint8Array {
  return loopsModule(100, 17647, 2);
}

/** 30 MB of empty loops: their loops alone pass the instrumented size cap, so it is refused right after decoding (it took ~1.1 GB before that check). */
export function emptyLoopsModule(): Uint8Array {
  return loopsModule(100, 100_000, 0);
}

/**
 * 59 MB of empty blocks (60 bodies of 330,000, each under the 1 MiB body cap):
 * metering adds nothing to them, but the engine's validation of it alone takes
 * ~880 MB, so preparing it passes `--max-memory 1MiB` plus the allowance.
 */
export function emptyBlocksModule(): Uint8Array {
  return loopsModule(60, 330_000, 0, 0x02);
}
