/**
 * Where a plugin's visible output goes. `output` text goes to stdout through the
 * streaming sanitizer (one per run, so an escape split across two messages is still
 * caught); logs, progress and host warnings go to stderr, prefixed with the plugin
 * name so the user always knows who is talking.
 */
import { closedLine, colourLeftOn, createSanitizer, renderUntrusted, SGR_RESET as RESET, type Sanitizer } from "../ui/sanitize.ts";
import { adoptStdoutStream, useColor } from "../ui/index.ts";

/** The two streams a plugin run writes to. Tests pass a capturing implementation. */
export interface HostIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Draw progress in place (a TTY) rather than as lines. */
  readonly interactive: boolean;
  readonly color: boolean;
}

function safeWrite(stream: NodeJS.WriteStream, text: string): void {
  try {
    stream.write(text);
  } catch {
    // EPIPE: the reader went away (e.g. `fledge x | head -1`); losing output is fine, dying is not.
  }
}

let streamGuardsInstalled = false;

/** The real process streams. An async EPIPE on them is swallowed rather than crashing fledge. */
export function processIO(): HostIO {
  if (!streamGuardsInstalled) {
    streamGuardsInstalled = true;
    adoptStdoutStream().on("error", () => {});
    process.stderr.on("error", () => {});
  }
  return {
    stdout: (text) => safeWrite(adoptStdoutStream(), text),
    stderr: (text) => safeWrite(process.stderr, text),
    interactive: Boolean(process.stderr.isTTY),
    color: useColor(process.stderr),
  };
}

const LEVEL_STYLE: Record<string, { label: string; color: string }> = {
  debug: { label: "DEBUG", color: "\u001b[2m" },
  info: { label: "INFO", color: "\u001b[36m" },
  warn: { label: "WARN", color: "\u001b[33m" },
  warning: { label: "WARN", color: "\u001b[33m" },
  error: { label: "ERROR", color: "\u001b[31m" },
};

/** Text fledge frames (names, levels, warnings, progress): every escape and control shown escaped. */
function plain(text: string): string {
  return renderUntrusted(text);
}

export interface ProgressUpdate {
  message?: string | undefined;
  current?: number | undefined;
  total?: number | undefined;
  done?: boolean | undefined;
}

/**
 * Guest text is processed (sanitized, escaped, prefixed) this many characters at a
 * time, each slice written out and charged before the next: a 16 MiB message of
 * control characters or newlines expands several times over, and must neither be
 * built whole in memory nor outlast the run's deadline.
 */
export const TEXT_SLICE = 64 * 1024;

/**
 * Host memory one output line costs beyond its characters (its string objects and
 * pieces), counted with the line's text when a slice is charged: a flood of short
 * lines churns far more than its text, and the gate collects by what is counted.
 */
export const LINE_OVERHEAD_BYTES = 128;

/** Longest progress message shown (a status line, not a channel for bulk text). */
const MAX_PROGRESS_MESSAGE = 1024;

/** The slices of `text`, never splitting a surrogate pair. */
function* slices(text: string): Generator<string> {
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + TEXT_SLICE);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    yield text.slice(i, end);
    i = end;
  }
}

/** The per-run console of one plugin. */
export class PluginConsole {
  private readonly sanitizer: Sanitizer = createSanitizer();
  private progressShown = false;
  private coloured = false;
  private lastProgressMessage: string | undefined;
  private readonly name: string;
  /**
   * Charges the output fledge made of guest text (set by the runner to the run's gate;
   * may end the run at the deadline or on fuel, by throwing its stop).
   */
  meter: ((bytes: number) => void) | undefined;

  constructor(
    pluginName: string,
    readonly io: HostIO,
  ) {
    this.name = plain(pluginName);
  }

  /** `output`: verbatim (no newline added) after sanitizing. */
  output(text: string): void {
    this.clearProgress();
    for (const piece of slices(text)) {
      const clean = this.sanitizer.write(piece);
      this.coloured = colourLeftOn(clean, this.coloured);
      if (clean !== "") this.io.stdout(clean);
      this.meter?.(clean.length);
    }
  }

  /** `log`: `  LEVEL [plugin] message` on stderr, one prefix per line. */
  log(level: string, message: string): void {
    this.clearProgress();
    const style = LEVEL_STYLE[level.toLowerCase()];
    const label = style ? style.label : plain(level);
    const head = style && this.io.color ? `${style.color}${label}${RESET}` : label;
    // A colour a line leaves on (black on black, conceal) must not reach the next prefix.
    const line = (s: string): string => `  ${head} [${this.name}] ${closedLine(s)}`;
    // Trailing newlines end the message, they are not empty lines (a loop, not a regex:
    // /\n+$/ is quadratic on a message of newlines followed by one other character).
    let end = message.length;
    while (end > 0 && message.charCodeAt(end - 1) === 0x0a) end--;
    // "line" profile: colours only; no \r, \b or cursor move, so a line cannot rewrite its prefix.
    const sanitizer = createSanitizer("line");
    let partial = "";
    const flush = (lines: string[]): void => {
      if (lines.length === 0) return;
      const text = lines.join("");
      this.io.stderr(text);
      this.meter?.(text.length + lines.length * LINE_OVERHEAD_BYTES);
    };
    for (const piece of slices(message.slice(0, end))) {
      partial += sanitizer.write(piece);
      const lines: string[] = [];
      let start = 0;
      for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n", start)) {
        lines.push(line(partial.slice(start, nl)));
        start = nl + 1;
      }
      partial = partial.slice(start);
      flush(lines);
    }
    flush([line(partial + sanitizer.end())]);
  }

  /** A host-side warning about the plugin (not-granted requests, malformed lines, limits). */
  warn(message: string): void {
    this.clearProgress();
    const head = this.io.color ? `\u001b[33m⚠${RESET}` : "⚠";
    this.io.stderr(`  ${head} [${this.name}] ${plain(message)}\n`);
  }

  /** `progress`: a bar when current/total are known, else a status line; `done` clears it. */
  progress(p: ProgressUpdate): void {
    if (p.done) {
      this.clearProgress();
      this.lastProgressMessage = undefined;
      return;
    }
    const message = p.message === undefined ? "Working" : renderUntrusted(p.message, MAX_PROGRESS_MESSAGE);
    let line = `  ▶ ${message} (${this.name})`;
    if (p.current !== undefined && p.total !== undefined && p.total > 0) {
      const ratio = Math.max(0, Math.min(1, p.current / p.total));
      const width = 20;
      const filled = Math.round(ratio * width);
      line += ` [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.current}/${p.total}`;
    }
    if (this.io.interactive) {
      this.io.stderr(`\r\u001b[2K${line}`);
      this.progressShown = true;
    } else if (message !== this.lastProgressMessage) {
      // Not a terminal: one line per new message (not per count), so CI logs stay short.
      this.io.stderr(`${line}\n`);
    }
    this.lastProgressMessage = message;
  }

  /** Remove an in-place progress line before anything else is printed. */
  clearProgress(): void {
    if (this.progressShown) {
      this.io.stderr("\r\u001b[2K");
      this.progressShown = false;
    }
  }

  /** End of run: drop any incomplete escape sequence and clear progress. */
  finish(): void {
    const rest = this.sanitizer.end();
    if (rest !== "") this.io.stdout(rest);
    // A colour the plugin left on ends with its run: fledge's next lines are never painted by it.
    if (this.coloured) this.io.stdout(RESET);
    this.clearProgress();
  }
}
