/**
 * THE yes/no question fledge asks before it grants anything (install, update, and the
 * native-risk question). It fails closed: only a typed `y` or `yes` followed by Enter
 * is a yes. Enter alone, `n`, Esc, Ctrl+D, the end of input, a closed terminal or any
 * error is a no; Ctrl+C is a no that also stops fledge (exit 130). The question is
 * drawn on stderr, so stdout stays the command's result (`--json` output is JSON only).
 *
 * The earlier confirm (consola's) drew on stdout, defaulted to yes at install and
 * mapped Ctrl+C and Esc to that default: cancelling installed the plugin.
 *
 * Keys typed before the question is drawn are discarded, not read (typeahead.ts): a
 * `y<Enter>` typed (or queued by a script) while fledge was downloading is not consent.
 *
 * The terminal handling (raw mode, typeahead, fail-closed ending) is shared with the
 * numbered pick (./choose.ts) in ./raw-question.ts.
 *
 * Callers check canPrompt() first and, without a terminal, refuse with the flag that
 * grants consent instead of asking (see install/consent.ts).
 */
import { FledgeError } from "../core/errors.ts";
import { askRaw, feedLine, type ConfirmIO } from "./raw-question.ts";
import { wrapText } from "./table.ts";

export type { ConfirmIO } from "./raw-question.ts";

/** How the question was answered. Only "yes" grants anything. */
export type ConfirmOutcome = "yes" | "no" | "interrupted";

/** Ctrl+C at a consent question: nothing is installed, fledge exits 130 (like SIGINT). */
export function interruptedError(what: string): FledgeError {
  return new FledgeError(`${what}: interrupted (Ctrl+C), nothing was changed`, { code: "interrupted", exitCode: 130 });
}

export interface KeyState {
  line: string;
}

/** An answer is a word; ignore a pasted essay. */
const acceptAnswerKey = (_ch: string, line: string): boolean => line.length < 16;

/**
 * Feed one chunk of raw terminal input. Returns the outcome once there is one, else
 * undefined (keep reading). Pure, so every key is tested without a terminal.
 * `echo` receives what to draw for the typed characters.
 */
export function feedKeys(state: KeyState, chunk: string, echo: (text: string) => void = () => {}): ConfirmOutcome | undefined {
  const keys = feedLine(state, chunk, acceptAnswerKey, echo);
  if (keys === undefined || keys === "interrupted") return keys;
  if (keys === "cancelled") return "no";
  return /^\s*(y|yes)\s*$/i.test(keys.submitted) ? "yes" : "no";
}

/**
 * Ask `question` on the terminal. Resolves "yes", "no" or "interrupted"; never throws
 * and never resolves "yes" on anything but a typed yes.
 */
export function confirmOutcome(question: string, io: ConfirmIO = { input: process.stdin, output: process.stderr }): Promise<ConfirmOutcome> {
  const state: KeyState = { line: "" };
  const { output } = io;
  return askRaw<ConfirmOutcome>(io, {
    // Wrapped by us at word boundaries, so the terminal never breaks a word and the
    // answer is echoed on the question's last line, right after "[y/N] ".
    text: () => {
      const cols = output.isTTY && typeof output.columns === "number" && output.columns > 0 ? output.columns : 80;
      return `${wrapText(`${question} [y/N]`, cols - 4).join("\n")} `;
    },
    feed: (chunk, echo) => feedKeys(state, chunk, echo),
    refused: "no",
    closing: (outcome) => (outcome === "yes" ? "\n" : outcome === "interrupted" ? " ^C\n" : " (no)\n"),
  });
}

/** Yes or no; Ctrl+C throws {@link interruptedError} (exit 130) so the caller stops at once. */
export async function confirm(question: string, what: string, io?: ConfirmIO): Promise<boolean> {
  const outcome = await confirmOutcome(question, io);
  if (outcome === "interrupted") throw interruptedError(what);
  return outcome === "yes";
}
