/**
 * Hand-written WAT shapes for the metering experiments (run.ts): the bench's byte-copy
 * loop and a loop of small calls, each as fledge emits it and with one piece changed,
 * so a difference in speed can be pinned on that piece. Every module exports `run`.
 */

/** The slow path every metered module shares: store, ask the meter, trap on a stop. */
const HEAD = `(module
  (type $rf (func (param i64) (result i64)))
  (import "fledge:meter" "refuel" (func $imp (type $rf)))
  (memory 4 65536)
  (global $g (mut i64) (i64.const 0))
  (func $refuel (param i64) (result i64)
    local.get 0 global.set $g local.get 0 call $imp local.tee 0 global.set $g
    local.get 0 i64.const 0 i64.lt_s if unreachable end local.get 0)
`;

/** The byte copy of tests/fixtures/wat/fuel/tight.wat as emitted, with the inner loop's header and exit charge replaceable. */
function meteredCopy(inner: string, innerExit = "local.get 3 i64.const 5 i64.sub local.set 3"): string {
  return `(func (export "run") (param i32) (result i32) (local i32 i32 i64)
    global.get $g local.set 3
    block block loop block loop
      local.get 3 i64.const 4 i64.sub local.tee 3 i64.const 0 i64.lt_s br_if 1
      local.get 2 local.get 0 i32.ge_u br_if 4
      local.get 3 i64.const 2 i64.sub local.set 3
      i32.const 0 local.set 1
      block loop block loop
        ${inner}
        local.get 1 local.get 1 i32.load8_u i32.store8 offset=131072
        local.get 1 i32.const 1 i32.add local.set 1
        local.get 1 i32.const 65536 i32.lt_u br_if 0
        ${innerExit}
      end br 2 end
      local.get 3 call $refuel local.set 3 br 0
      end end
      local.get 2 i32.const 1 i32.add local.set 2 br 0
    end br 2 end
    local.get 3 call $refuel local.set 3 br 0
    end end end
    i32.const 100 i32.load8_u offset=131072 local.get 3 global.set $g)`;
}

const CHECK = "local.get 3 i64.const 12 i64.sub local.tee 3 i64.const 0 i64.lt_s br_if 1";

/** Byte copy, `run(reps)` copies 64 KiB `reps` times. The first is the baseline. */
export const COPY: Record<string, string> = {
  raw: `(func (export "run") (param $reps i32) (result i32) (local $i i32) (local $r i32)
    (block $done (loop $rep
      (br_if $done (i32.ge_u (local.get $r) (local.get $reps)))
      (local.set $i (i32.const 0))
      (loop $byte
        (i32.store8 offset=131072 (local.get $i) (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $byte (i32.lt_u (local.get $i) (i32.const 65536))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rep)))
    (i32.load8_u offset=131072 (i32.const 100)))`,
  // As fledge emits it.
  emitted: meteredCopy(CHECK),
  // The same nesting of blocks and loops, no charge and no check: the engine erases it.
  "no charge, no check": meteredCopy("", ""),
  // The charge without its check.
  "charge only": meteredCopy("local.get 3 i64.const 12 i64.sub local.set 3"),
  // Without the charge of the block after the loop (NOT sound: shows what folding it costs).
  "no exit charge": meteredCopy(CHECK, ""),
  // The check's branch marked unlikely (the branch-hinting proposal's custom section).
  "check hinted unlikely": meteredCopy(CHECK.replace("br_if 1", '(@metadata.code.branch_hint "\\00") br_if 1')),
  // The check as if/call inside the loop instead of br_if out of it.
  "if + call check": meteredCopy("local.get 3 i64.const 12 i64.sub local.tee 3 i64.const 0 i64.lt_s if local.get 3 call $refuel local.set 3 end"),
};

/** A loop of `n` calls of a small leaf, `run(n)`. The first is the baseline. */
const callLoop = (call: string): string => `(func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32) (local $f i64)
    global.get $g local.set $f
    (loop $top
      ${call} local.get $acc i32.add local.set $acc
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $top (i32.lt_u (local.get $i) (local.get $n))))
    local.get $f global.set $g
    (local.get $acc))`;
const BODY = "(i32.add (i32.mul (local.get $x) (i32.const 7)) (i32.const 3))";

export const CALLS: Record<string, string> = {
  "one result": `(func $leaf (param $x i32) (result i32) ${BODY})` + callLoop("(call $leaf (local.get $i))"),
  // Counter passing: the counter in as a parameter and back as a second result.
  "counter in, two results": `(func $leaf (param $x i32) (param $f i64) (result i32 i64) ${BODY} (i64.sub (local.get $f) (i64.const 5)))` +
    callLoop("(call $leaf (local.get $i) (local.get $f)) local.set $f"),
  // The callee charges the global instead.
  "charges the global": `(func $leaf (param $x i32) (result i32) (global.set $g (i64.sub (global.get $g) (i64.const 5))) ${BODY})` +
    callLoop("(call $leaf (local.get $i))"),
  // Counter passing with the callee's entry check (its cold call to the slow path).
  "entry check in the callee": `(func $leaf (param $x i32) (param $f i64) (result i32 i64)
      local.get $f i64.const 5 i64.sub local.tee $f i64.const 0 i64.lt_s if local.get $f call $refuel local.set $f end
      ${BODY} local.get $f)` + callLoop("(call $leaf (local.get $i) (local.get $f)) local.set $f"),
  // The same, the check's branch marked unlikely (the branch-hinting proposal's custom section).
  "entry check, hinted unlikely": `(func $leaf (param $x i32) (param $f i64) (result i32 i64)
      local.get $f i64.const 5 i64.sub local.tee $f i64.const 0 i64.lt_s (@metadata.code.branch_hint "\\00") if local.get $f call $refuel local.set $f end
      ${BODY} local.get $f)` + callLoop("(call $leaf (local.get $i) (local.get $f)) local.set $f"),
};

export function wat(fn: string): string {
  return `${HEAD}${fn})`;
}

/** `f = slow(f)` when the counter went negative, inline: what an entry or after-call check emits. */
const IF_CHECK = (f: string): string => `local.tee ${f} i64.const 0 i64.lt_s if local.get ${f} call $refuel local.set ${f} end`;

/**
 * A loop calling a small function that has a loop of its own (two passes), so the
 * callee keeps its entry check and the caller its after-call check, both `if` + call
 * of the slow path inside the caller's loop once the engine inlines the callee. As
 * emitted (counter passing, version 12), then with those calls moved out of the loop.
 */
const loopCall = (entry: string, after: string, exit: string): string => `(func $inner (param $x i32) (param $f i64) (result i32 i64) (local $k i32)
    block (result i32)
      local.get $f i64.const 0 i64.sub ${entry}
      block loop block loop
        local.get $f i64.const 14 i64.sub local.tee $f i64.const 0 i64.lt_s br_if 1
        local.get $x i32.const 7 i32.mul i32.const 3 i32.add local.set $x
        local.get $k i32.const 1 i32.add local.set $k
        local.get $k i32.const 2 i32.lt_u br_if 0
        local.get $f i64.const 1 i64.sub local.set $f
      end br 2 end
      local.get $f call $refuel i64.const 14 i64.add local.set $f br 0
      end end
      local.get $x
    end local.get $f)
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32) (local $d f64) (local $f i64)
    global.get $g local.set $f
    block loop block loop
      local.get $f i64.const 3 i64.sub local.tee $f i64.const 0 i64.lt_s br_if 1
      local.get $acc local.get $i local.get $f call $inner
      i64.const 15 i64.sub ${after}
      i32.add local.set $acc
      local.get $d local.get $acc f64.convert_i32_u f64.add local.set $d
      local.get $i i32.const 1 i32.add local.set $i
      local.get $i local.get $n i32.lt_u br_if 0
      local.get $f i64.const 6 i64.sub local.set $f
    end br 2 end
    local.get $f call $refuel i64.const 3 i64.add local.set $f br 0
    end end
    ${exit}
    local.get $f global.set $g
    local.get $acc local.get $d f64.const 1e12 f64.div i32.trunc_f64_u i32.add)`;

/** The loop-call shapes, `run(n)`. The first is the baseline (not instrumented). */
export const LOOPCALL: Record<string, string> = {
  raw: `(func $inner (param $x i32) (result i32) (local $k i32)
      (loop $l
        (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 7)) (i32.const 3)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $k) (i32.const 2))))
      (local.get $x))
    (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32) (local $d f64)
      (loop $top
        (local.set $acc (i32.add (local.get $acc) (call $inner (local.get $i))))
        (local.set $d (f64.add (local.get $d) (f64.convert_i32_u (local.get $acc))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $top (i32.lt_u (local.get $i) (local.get $n))))
      (i32.add (local.get $acc) (i32.trunc_f64_u (f64.div (local.get $d) (f64.const 1e12)))))`,
  emitted: loopCall(IF_CHECK("$f"), IF_CHECK("$f"), ""),
  // The callee's entry check goes (its loop header checks before any other work).
  "no entry check": loopCall("local.set $f", IF_CHECK("$f"), ""),
  // The after-call check moves to the loop's exit (the header's check covers the back edge).
  "after-call check after the loop": loopCall(IF_CHECK("$f"), "local.set $f", `local.get $f i64.const 0 i64.lt_s if local.get $f call $refuel local.set $f end`),
  // Neither: no call of the slow path inside the caller's loop at all.
  "no slow-path call in the loop": loopCall("local.set $f", "local.set $f", `local.get $f i64.const 0 i64.lt_s if local.get $f call $refuel local.set $f end`),
};
