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
 * Callers check canPrompt() first and, without a terminal, refuse with the flag that
 * grants consent instead of asking (see install/consent.ts).
 */
import { FledgeError } from "../core/errors.ts";
import { discardTypeahead } from "./typeahead.ts";
import { wrapText } from "./table.ts";

/** How the question was answered. Only "yes" grants anything. */
export type ConfirmOutcome = "yes" | "no" | "interrupted";

/** Ctrl+C at a consent question: nothing is installed, fledge exits 130 (like SIGINT). */
export function interruptedError(what: string): FledgeError {
  return new FledgeError(`${what}: interrupted (Ctrl+C), nothing was changed`, { code: "interrupted", exitCode: 130 });
}

export interface KeyState {
  line: string;
}

/**
 * Feed one chunk of raw terminal input. Returns the outcome once there is one, else
 * undefined (keep reading). Pure, so every key is tested without a terminal.
 * `echo` receives what to draw for the typed characters.
 */
export function feedKeys(state: KeyState, chunk: string, echo: (text: string) => void = () => {}): ConfirmOutcome | undefined {
  // Arrow and function keys arrive as one escape sequence: ignore them. A lone Esc is a no.
  if (chunk.length > 1 && /^\u001b[[O]/.test(chunk)) return undefined;
  for (const ch of chunk) {
    const code = ch.codePointAt(0)!;
    if (code === 0x03) return "interrupted"; // Ctrl+C
    if (code === 0x1b || code === 0x04 || code === 0x1a) return "no"; // Esc, Ctrl+D, Ctrl+Z
    if (ch === "\r" || ch === "\n") return /^\s*(y|yes)\s*$/i.test(state.line) ? "yes" : "no";
    if (code === 0x7f || code === 0x08) {
      if (state.line.length > 0) {
        state.line = [...state.line].slice(0, -1).join("");
        echo("\b \b");
      }
      continue;
    }
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) continue; // other controls: ignored, never echoed
    if (state.line.length >= 16) continue; // an answer is a word; ignore a pasted essay
    state.line += ch;
    echo(ch);
  }
  return undefined;
}

export interface ConfirmIO {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/**
 * Ask `question` on the terminal. Resolves "yes", "no" or "interrupted"; never throws
 * and never resolves "yes" on anything but a typed yes.
 */
export function confirmOutcome(question: string, io: ConfirmIO = { input: process.stdin, output: process.stderr }): Promise<ConfirmOutcome> {
  const { input, output } = io;
  const write = (text: string): void => {
    try {
      output.write(text);
    } catch {
      // the terminal is gone: the answer will be "no" from the input side
    }
  };
  return new Promise<ConfirmOutcome>((resolve) => {
    const state: KeyState = { line: "" };
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
    const finish = (outcome: ConfirmOutcome): void => {
      if (settled) return;
      settled = true;
      process.off("exit", restoreMode);
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("close", onEnd);
      input.off("error", onError);
      try {
        if (input.isTTY) input.setRawMode(wasRaw);
        input.pause();
      } catch {
        // restoring the mode failed: the answer stands
      }
      write(outcome === "yes" ? "\n" : outcome === "interrupted" ? " ^C\n" : " (no)\n");
      resolve(outcome);
    };
    const onData = (data: Buffer | string): void => {
      try {
        const out = feedKeys(state, typeof data === "string" ? data : data.toString("utf8"), write);
        if (out !== undefined) finish(out);
      } catch {
        finish("no");
      }
    };
    const onEnd = (): void => finish("no");
    const onError = (): void => finish("no");
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
      // Wrapped by us at word boundaries, so the terminal never breaks a word and the
      // answer is echoed on the question's last line, right after "[y/N] ".
      const cols = output.isTTY && typeof output.columns === "number" && output.columns > 0 ? output.columns : 80;
      write(`${wrapText(`${question} [y/N]`, cols - 4).join("\n")} `);
      input.on("data", onData);
      input.once("end", onEnd);
      input.once("close", onEnd);
      input.once("error", onError);
      input.resume();
    } catch {
      finish("no");
    }
  });
}

/** Yes or no; Ctrl+C throws {@link interruptedError} (exit 130) so the caller stops at once. */
export async function confirm(question: string, what: string, io?: ConfirmIO): Promise<boolean> {
  const outcome = await confirmOutcome(question, io);
  if (outcome === "interrupted") throw interruptedError(what);
  return outcome === "yes";
}
