/**
 * Pick one item from a numbered list on the terminal (`fledge plugins search -i`).
 * Same rules as the yes/no question (./prompt.ts): drawn on stderr, typeahead is
 * discarded, and only a typed number in range followed by Enter is a choice. Enter
 * alone, Esc, Ctrl+D, the end of input or anything else is "cancelled"; Ctrl+C is
 * "interrupted". Picking only selects: whatever happens next asks its own questions.
 */
import { discardTypeahead } from "./typeahead.ts";
import type { ConfirmIO } from "./prompt.ts";

export type ChooseOutcome = { picked: number } | "cancelled" | "interrupted";

/** Feed raw input; returns the outcome once there is one. Pure (tested without a terminal). */
export function feedChoice(state: { line: string }, chunk: string, count: number, echo: (text: string) => void = () => {}): ChooseOutcome | undefined {
  if (chunk.length > 1 && /^\u001b[[O]/.test(chunk)) return undefined;
  for (const ch of chunk) {
    const code = ch.codePointAt(0)!;
    if (code === 0x03) return "interrupted";
    if (code === 0x1b || code === 0x04 || code === 0x1a) return "cancelled";
    if (ch === "\r" || ch === "\n") {
      const n = /^\s*(\d{1,4})\s*$/.exec(state.line);
      const i = n ? Number(n[1]) : 0;
      return i >= 1 && i <= count ? { picked: i - 1 } : "cancelled";
    }
    if (code === 0x7f || code === 0x08) {
      if (state.line.length > 0) {
        state.line = state.line.slice(0, -1);
        echo("\b \b");
      }
      continue;
    }
    if (!/[0-9 ]/.test(ch) || state.line.length >= 6) continue;
    state.line += ch;
    echo(ch);
  }
  return undefined;
}

/** Ask for a number from 1 to `count`. Never throws. */
export function chooseOutcome(question: string, count: number, io: ConfirmIO = { input: process.stdin, output: process.stderr }): Promise<ChooseOutcome> {
  const { input, output } = io;
  const write = (text: string): void => {
    try {
      output.write(text);
    } catch {
      // terminal gone: the input side ends the question
    }
  };
  return new Promise<ChooseOutcome>((resolve) => {
    const state = { line: "" };
    let wasRaw = false;
    let settled = false;
    const restoreMode = (): void => {
      try {
        if (input.isTTY) input.setRawMode(wasRaw);
      } catch {
        // nothing more to do on the way out
      }
    };
    const finish = (outcome: ChooseOutcome): void => {
      if (settled) return;
      settled = true;
      process.off("exit", restoreMode);
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("close", onEnd);
      input.off("error", onEnd);
      restoreMode();
      try {
        input.pause();
      } catch {
        // the answer stands
      }
      write(outcome === "interrupted" ? " ^C\n" : outcome === "cancelled" ? " (cancelled)\n" : "\n");
      resolve(outcome);
    };
    const onData = (data: Buffer | string): void => {
      const out = feedChoice(state, typeof data === "string" ? data : data.toString("utf8"), count, write);
      if (out !== undefined) finish(out);
    };
    const onEnd = (): void => finish("cancelled");
    try {
      if (input.isTTY) {
        wasRaw = input.isRaw;
        process.once("exit", restoreMode);
        input.setRawMode(true);
        const fd = (input as { fd?: unknown }).fd;
        if (typeof fd === "number") discardTypeahead(fd);
        while (input.readableLength > 0 && input.read() !== null) {
          // discarded
        }
      }
      write(`${question} [1-${count}, Enter to cancel] `);
      input.on("data", onData);
      input.once("end", onEnd);
      input.once("close", onEnd);
      input.once("error", onEnd);
      input.resume();
    } catch {
      finish("cancelled");
    }
  });
}
