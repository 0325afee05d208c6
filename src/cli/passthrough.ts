/**
 * Passthrough commands (`fledge wasm run <module> ...`, `fledge plugins run <command> ...`):
 * everything after their first positional is a guest's argument list, verbatim. The rule
 * lives here, in one place: `resolve` cuts argv at that positional, citty and fledge's own
 * flag checks (including the global `--json`) see only the head, and the tail reaches the
 * command as `ctx.data` (read it with `passthroughTail`). A `--` right before the
 * positional is fledge's separator; one right after it is too only where the command
 * says so (`wasm run app.wasm -- --help`, as with wasmtime); any other token is the guest's.
 *
 * The cut lives apart from the framework (and citty) so that the fast start of
 * `fledge wasm run` (./wasm-run.ts) cuts by the very same rule without loading them.
 */
export interface PassthroughOptions {
  /** Drop one `--` directly after the positional (default false: it is the guest's). */
  separatorAfter?: boolean;
}
/**
 * Cut a passthrough leaf's arguments: the head ends with the first positional (the
 * module or plugin command; after a `--` that token is taken as the positional even if
 * it starts with a dash), the tail is everything after it (less one leading `--` with
 * `separatorAfter`). Flags in the head that take a value consume it, so
 * `--dir x m.wasm` cuts after `m.wasm`.
 */
export function splitPassthrough(
  rest: readonly string[],
  takesValue: ReadonlySet<string>,
  opts: PassthroughOptions = {},
): { head: string[]; tail: string[] } {
  for (let j = 0; j < rest.length; j++) {
    const tok = rest[j]!;
    let end: number | undefined;
    if (tok === "--") end = j + 2;
    else if (!tok.startsWith("-") || tok === "-") end = j + 1;
    else if (takesValue.has(tok)) j++;
    if (end === undefined) continue;
    const tail = rest.slice(end);
    return { head: rest.slice(0, end), tail: opts.separatorAfter && tail[0] === "--" ? tail.slice(1) : tail };
  }
  return { head: [...rest], tail: [] };
}
