/**
 * Interactive requests from plugins: `prompt`, `confirm`, `select`, `multi_select`.
 *
 * On a TTY (`canPrompt()`) the user answers; otherwise the request's default is used
 * or the run fails with a message naming the prompt. The non-interactive policy:
 * - prompt: its default (which must pass its validator), else fail;
 * - confirm: its default, else `false` (the conservative answer, as the original);
 * - select: `options[default]`, else fail: there is no safe guess among choices
 *   (the original silently took the first option);
 * - multi_select: the in-range defaults, else `[]` (selecting nothing is safe).
 *
 * On a TTY both runners use the same line prompts on stderr (one flow, two drivers):
 * the native runner reads with readline (abortable: the run can be interrupted while
 * a question is open), the wasm imports read the TTY synchronously because the guest
 * is blocked inside a host call. consola's prompts were tried first, but they draw
 * on stdout (which belongs to results and may be a pipe), and under Bun their text
 * input did not capture typed characters (checked under `script`).
 */
import { existsSync, readSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { FledgeError } from "../core/index.ts";
import { canPrompt } from "../ui/index.ts";
import type { MessageOf } from "./messages.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export type InteractiveMessage = MessageOf<"prompt"> | MessageOf<"confirm"> | MessageOf<"select"> | MessageOf<"multi_select">;

/** Validate a typed answer. Returns the problem, or undefined. Unknown kinds accept anything. */
export function validateAnswer(kind: string | undefined, value: string, cwd: string = process.cwd()): string | undefined {
  switch (kind) {
    case "non_empty":
      return value.trim() === "" ? "Input cannot be empty" : undefined;
    case "integer":
      return /^[+-]?\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value.trim())) ? undefined : "Must be an integer";
    case "path_exists":
      return value !== "" && existsSync(resolve(cwd, value)) ? undefined : "Path does not exist";
    case "url": {
      try {
        const u = new URL(value.trim());
        return u.protocol === "http:" || u.protocol === "https:" ? undefined : "Must be a valid URL (http:// or https://)";
      } catch {
        return "Must be a valid URL (http:// or https://)";
      }
    }
    default:
      return undefined;
  }
}

/** Prompt text from a plugin is shown to the user: rendered as untrusted text (escapes visible). */
function clean(text: string): string {
  return renderUntrusted(text);
}

function noTty(kind: string, message: string, why: string): FledgeError {
  return new FledgeError(`Plugin requested ${kind} '${clean(message)}' but stdin is not a TTY and ${why}.`, {
    code: "prompt_unavailable",
    hint: "Run the command in a terminal, or use the plugin's non-interactive options.",
  });
}

export class PromptCancelled extends FledgeError {
  constructor() {
    super("Prompt cancelled.", { code: "prompt_cancelled", exitCode: 130 });
  }
}

function inRange(options: readonly string[], i: number | undefined): i is number {
  return i !== undefined && Number.isInteger(i) && i >= 0 && i < options.length;
}

/** THE no-TTY policy (see the module comment). Throws when the request cannot be answered. */
export function nonInteractiveAnswer(m: InteractiveMessage, cwd: string = process.cwd()): unknown {
  switch (m.type) {
    case "prompt": {
      if (m.default === undefined) throw noTty("input", m.message, "no default was provided");
      const problem = validateAnswer(m.validate, m.default, cwd);
      if (problem) throw noTty("input", m.message, `its default is invalid (${problem})`);
      return m.default;
    }
    case "confirm":
      return m.default ?? false;
    case "select":
      if (!inRange(m.options, m.default)) throw noTty("selection", m.message, "no valid default was provided");
      return m.options[m.default];
    case "multi_select":
      return (m.defaults ?? []).filter((i) => inRange(m.options, i)).map((i) => m.options[i]);
  }
}

function checkOptions(m: InteractiveMessage): void {
  if ((m.type === "select" || m.type === "multi_select") && m.options.length === 0) {
    throw new FledgeError(`Plugin requested selection '${clean(m.message)}' with no options.`, { code: "prompt_invalid" });
  }
}

/**
 * THE interactive flow, written once as a generator: it yields each question and
 * receives the typed line back. The async driver (native runner) and the sync driver
 * (wasm imports) only differ in how they read a line, so both behave identically.
 * Notes (option lists, validation errors) go straight to `note` (stderr).
 */
function* interactiveFlow(m: InteractiveMessage, cwd: string, note: (text: string) => void): Generator<string, unknown, string> {
  const message = clean(m.message);
  switch (m.type) {
    case "prompt":
      for (;;) {
        const line = yield `? ${message}${m.default !== undefined ? ` (${clean(m.default)})` : ""}: `;
        const value = line === "" ? (m.default ?? "") : line;
        const problem = validateAnswer(m.validate, value, cwd);
        if (!problem) return value;
        note(`  ${problem}\n`);
      }
    case "confirm":
      for (;;) {
        const line = (yield `? ${message} ${m.default === true ? "[Y/n]" : "[y/N]"}: `).trim().toLowerCase();
        if (line === "") return m.default ?? false;
        if (line === "y" || line === "yes") return true;
        if (line === "n" || line === "no") return false;
        note("  Please answer y or n\n");
      }
    case "select":
    case "multi_select": {
      note(`? ${message}\n${m.options.map((o, i) => `  ${i + 1}) ${clean(o)}\n`).join("")}`);
      for (;;) {
        if (m.type === "select") {
          const def = inRange(m.options, m.default) ? m.default : undefined;
          const line = (yield `  Choose 1-${m.options.length}${def !== undefined ? ` (${def + 1})` : ""}: `).trim();
          if (line === "" && def !== undefined) return m.options[def];
          const i = Number(line) - 1;
          if (inRange(m.options, i)) return m.options[i];
        } else {
          const defs = (m.defaults ?? []).filter((i) => inRange(m.options, i));
          const line = (yield `  Choose numbers separated by spaces${defs.length ? ` (${defs.map((i) => i + 1).join(" ")})` : ", or Enter for none"}: `).trim();
          const picked = line === "" ? defs : line.split(/[\s,]+/).map((x) => Number(x) - 1);
          if (picked.every((i) => inRange(m.options, i))) return [...new Set(picked)].map((i) => m.options[i]);
        }
        note(`  Please choose from 1-${m.options.length}\n`);
      }
    }
  }
}

const writeStderr = (text: string): void => {
  try {
    process.stderr.write(text);
  } catch {
    // stderr gone: nothing to tell
  }
};

/**
 * Answer on the TTY (a line prompt on stderr, read with readline: abortable, and Ctrl+C
 * cancels), or by the no-TTY policy. Used by the native runner.
 */
export async function answerInteractive(m: InteractiveMessage, cwd: string = process.cwd(), signal?: AbortSignal): Promise<unknown> {
  checkOptions(m);
  if (!canPrompt()) return nonInteractiveAnswer(m, cwd);
  if (signal?.aborted) throw new PromptCancelled(); // the run is being cancelled: ask nothing more
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const cancelled = new AbortController();
  rl.on("SIGINT", () => cancelled.abort());
  rl.on("close", () => cancelled.abort()); // stdin ended (terminal gone): no answer will come
  const onAbort = (): void => cancelled.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const flow = interactiveFlow(m, cwd, writeStderr);
    let step = flow.next();
    while (!step.done) {
      let line: string;
      try {
        line = await rl.question(step.value, { signal: cancelled.signal });
      } catch {
        writeStderr("\n");
        throw new PromptCancelled();
      }
      step = flow.next(line);
    }
    return step.value;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    rl.close();
  }
}

// ------------------------------------------------------------------ synchronous

/** Read one line from fd 0 synchronously (cooked TTY). undefined on EOF. */
function readLineSync(waitReadable?: (fd: number) => void): string | undefined {
  const buf = Buffer.alloc(1);
  const bytes: number[] = [];
  for (;;) {
    let n: number;
    waitReadable?.(0);
    try {
      n = readSync(0, buf, 0, 1, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
        Bun.sleepSync(10);
        continue;
      }
      throw e;
    }
    if (n === 0) return bytes.length ? Buffer.from(bytes).toString("utf8") : undefined;
    if (buf[0] === 0x0a) return Buffer.from(bytes).toString("utf8").replace(/\r$/, "");
    bytes.push(buf[0] as number);
  }
}

/**
 * Synchronous twin of {@link answerInteractive} for the wasm imports: the guest is
 * blocked inside a host call, so there is no event loop; read the TTY directly.
 */
export function answerInteractiveSync(m: InteractiveMessage, cwd: string = process.cwd(), waitReadable?: (fd: number) => void): unknown {
  checkOptions(m);
  if (!canPrompt()) return nonInteractiveAnswer(m, cwd);
  const flow = interactiveFlow(m, cwd, writeStderr);
  let step = flow.next();
  while (!step.done) {
    writeStderr(step.value);
    const line = readLineSync(waitReadable);
    if (line === undefined) throw new PromptCancelled();
    step = flow.next(line);
  }
  return step.value;
}
