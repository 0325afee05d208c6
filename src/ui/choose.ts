/**
 * Pick one item from a numbered list on the terminal (`fledge plugins search -i`).
 * Same rules and the same terminal core as the yes/no question (./raw-question.ts):
 * drawn on stderr, typeahead is discarded, and only a typed number in range followed by Enter is a choice. Enter
 * alone, Esc, Ctrl+D, the end of input or anything else is "cancelled"; Ctrl+C is
 * "interrupted". Picking only selects: whatever happens next asks its own questions.
 */
import { askRaw, feedLine, type ConfirmIO } from "./raw-question.ts";

export type ChooseOutcome = { picked: number } | "cancelled" | "interrupted";

/** A choice is a short number: digits and spaces only. */
const acceptChoiceKey = (ch: string, line: string): boolean => /[0-9 ]/.test(ch) && line.length < 6;

/** Feed raw input; returns the outcome once there is one. Pure (tested without a terminal). */
export function feedChoice(state: { line: string }, chunk: string, count: number, echo: (text: string) => void = () => {}): ChooseOutcome | undefined {
  const keys = feedLine(state, chunk, acceptChoiceKey, echo);
  if (keys === undefined || keys === "interrupted" || keys === "cancelled") return keys;
  const n = /^\s*(\d{1,4})\s*$/.exec(keys.submitted);
  const i = n ? Number(n[1]) : 0;
  return i >= 1 && i <= count ? { picked: i - 1 } : "cancelled";
}

/** Ask for a number from 1 to `count`. Never throws. */
export function chooseOutcome(question: string, count: number, io: ConfirmIO = { input: process.stdin, output: process.stderr }): Promise<ChooseOutcome> {
  const state = { line: "" };
  return askRaw<ChooseOutcome>(io, {
    text: () => `${question} [1-${count}, Enter to cancel] `,
    feed: (chunk, echo) => feedChoice(state, chunk, count, echo),
    refused: "cancelled",
    closing: (outcome) => (outcome === "interrupted" ? " ^C\n" : outcome === "cancelled" ? " (cancelled)\n" : "\n"),
  });
}
