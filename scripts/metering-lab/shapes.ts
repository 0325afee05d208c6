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
