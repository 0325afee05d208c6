/**
 * The one core behind every question fledge asks on the terminal (the yes/no consent
 * question in ./prompt.ts, the numbered pick in ./choose.ts). Both must behave the same
 * where it matters for consent:
 *  - fail closed: the end of input, a closed terminal, an error while reading or
 *    drawing, Esc, Ctrl+D and Ctrl+Z all give the question's refusal outcome;
 *  - Ctrl+C is "interrupted", read as a key (raw mode), never left to signal handling;
 *  - keys typed before the question is drawn are discarded (typeahead.ts), so a
 *    queued `y<Enter>` is not an answer;
 *  - the terminal mode is restored however the question ends, fledge exiting included.
 * The question is drawn on the output given (stderr by default), so stdout stays the
 * command's result.
 */
import { discardTypeahead } from "./typeahead.ts";

export interface ConfirmIO {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/** What one chunk of keys amounts to: a submitted line, a refusal, Ctrl+C, or nothing yet. */
export type LineKeys = { submitted: string } | "cancelled" | "interrupted" | undefined;

/**
 * Feed one chunk of raw terminal input into a one-line answer. `accept` says whether a
 * printable key may be added to `state.line` (what the answer may contain, and how
 * long it may get); other keys are ignored and never echoed. `echo` receives what to
 * draw. Pure, so every key is tested without a terminal.
 */
export function feedLine(state: { line: string }, chunk: string, accept: (ch: string, line: string) => boolean, echo: (text: string) => void): LineKeys {
  // Arrow and function keys arrive as one escape sequence: ignore them. A lone Esc refuses.
  if (chunk.length > 1 && /^\u001b[[O]/.test(chunk)) return undefined;
  for (const ch of chunk) {
    const code = ch.codePointAt(0)!;
    if (code === 0x03) return "interrupted"; // Ctrl+C
    if (code === 0x1b || code === 0x04 || code === 0x1a) return "cancelled"; // Esc, Ctrl+D, Ctrl+Z
    if (ch === "\r" || ch === "\n") return { submitted: state.line };
    if (code === 0x7f || code === 0x08) {
      if (state.line.length > 0) {
        state.line = [...state.line].slice(0, -1).join("");
        echo("\b \b");
      }
      continue;
    }
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) continue; // other controls: ignored, never echoed
    if (!accept(ch, state.line)) continue;
    state.line += ch;
    echo(ch);
  }
  return undefined;
}

export interface RawQuestion<T> {
  /** The question as drawn (called after raw mode is on and typeahead is gone). */
  text: () => string;
  /** Feed raw keys; returns the outcome once there is one. */
  feed: (chunk: string, echo: (text: string) => void) => T | undefined;
  /** The fail-closed outcome: end of input, closed terminal, any error. */
  refused: T;
  /** What to draw after the answer (ends the question's line). */
  closing: (outcome: T) => string;
}

/** Ask on the terminal in raw mode. Never throws; anything unexpected resolves `refused`. */
export function askRaw<T>(io: ConfirmIO, q: RawQuestion<T>): Promise<T> {
  const { input, output } = io;
  const write = (text: string): void => {
    try {
      output.write(text);
    } catch {
      // the terminal is gone: the input side ends the question (refused)
    }
  };
  return new Promise<T>((resolve) => {
    let wasRaw = false;
    let settled = false;
    // If fledge exits while the question is open (SIGTERM, a signal handler), the
    // terminal must not be left in raw mode.
    const restoreMode = (): void => {
      try {
        if (input.isTTY) input.setRawMode(wasRaw);
      } catch {
        // nothing more to do on the way out
      }
    };
    const finish = (outcome: T): void => {
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
      write(q.closing(outcome));
      resolve(outcome);
    };
    const onData = (data: Buffer | string): void => {
      try {
        const out = q.feed(typeof data === "string" ? data : data.toString("utf8"), write);
        if (out !== undefined) finish(out);
      } catch {
        finish(q.refused);
      }
    };
    const onEnd = (): void => finish(q.refused);
    try {
      // Raw mode first, then the question: a key typed as soon as it shows (Ctrl+C
      // included) must reach this reader, not the terminal's signal handling.
      if (input.isTTY) {
        wasRaw = input.isRaw;
        process.once("exit", restoreMode);
        input.setRawMode(true);
        // Typeahead is not an answer: drop what was typed before the question shows,
        // in the terminal (tcflush) and in the stream's own buffer.
        const fd = (input as { fd?: unknown }).fd;
        if (typeof fd === "number") discardTypeahead(fd);
        while (input.readableLength > 0 && input.read() !== null) {
          // discarded
        }
      }
      write(q.text());
      input.on("data", onData);
      input.once("end", onEnd);
      input.once("close", onEnd);
      input.once("error", onEnd);
      input.resume();
    } catch {
      finish(q.refused);
    }
  });
}
