/**
 * What a trap means, in words a user can act on. The engine's own text (JavaScriptCore:
 * "Unreachable code should not be executed (evaluating 'h()')") names a JavaScript
 * frame that does not exist in the program and changes between engine versions, so it
 * never reaches a message: each known trap has fixed wording, and anything else is
 * reported as an unrecognised trap without the engine's text.
 */

export interface TrapDescription {
  /** e.g. "unreachable", "out-of-bounds memory access". */
  kind: string;
  /** What usually causes it, and what to do. */
  hint: string;
}

const KNOWN: readonly { test: RegExp; kind: string; hint: string }[] = [
  { test: /unreachable/i, kind: "unreachable", hint: "the program reached an 'unreachable' instruction: usually a panic, abort() or a failed assertion in the program itself" },
  { test: /out of bounds memory|memory access out of bounds/i, kind: "out-of-bounds memory access", hint: "the program read or wrote outside its linear memory (a bug in the program, such as a bad pointer)" },
  { test: /divide by zero|division by zero/i, kind: "integer divide by zero", hint: "the program divided an integer by zero" },
  { test: /integer overflow/i, kind: "integer overflow", hint: "an integer division or conversion overflowed" },
  { test: /(invalid|out of range).*(conversion|float)|float.*(unrepresentable|to int)|truncat/i, kind: "invalid conversion to integer", hint: "a float that is NaN or out of range was converted to an integer" },
  { test: /call_indirect.*(signature|type)|signature mismatch|indirect call.*(type|signature)/i, kind: "indirect call signature mismatch", hint: "a function pointer was called with the wrong type" },
  { test: /call_indirect|indirect call|null table|table (entry|index)|out of bounds table/i, kind: "indirect call to a missing function", hint: "a function pointer pointed at no function" },
  { test: /call stack|stack overflow|too much recursion/i, kind: "call stack exhausted", hint: "the program recursed too deeply" },
  { test: /null (reference|function|struct|array)|dereferencing a null/i, kind: "null reference", hint: "the program used a null reference" },
];

/** THE mapping from an engine trap to fledge's words (never the engine's text). */
export function describeTrap(engineMessage: string): TrapDescription {
  for (const k of KNOWN) if (k.test.test(engineMessage)) return { kind: k.kind, hint: k.hint };
  return { kind: "an unrecognised trap", hint: "the program stopped on a WebAssembly trap; run it with a debug build of the program to see where" };
}
