/**
 * Text that fits the terminal: visible width (wide characters count two columns,
 * combining marks and escape sequences none), word wrapping, aligned tables, colour.
 *
 * Widths are always measured on the text as it will be shown: cells pass the terminal
 * backstop ({@link terminalText}) first, so an escaped control character (`\x1b` shown
 * as four characters) is measured as the four columns it takes, and colour codes are
 * added only after padding, so they never count.
 */
import { terminalText } from "./sanitize.ts";
import { useColor } from "./env.ts";
import { isTerminal } from "../core/tty.ts";

/** Columns `text` takes on a terminal (ANSI sequences excluded; East Asian wide = 2). */
export function displayWidth(text: string): number {
  return PLAIN.test(text) ? text.length : Bun.stringWidth(text);
}

/**
 * The width to lay text out for: the terminal's columns, else $COLUMNS, else 80 (pipes,
 * files). Without a stream, stdout's; its stream is built only when it is a terminal
 * (only a terminal has columns to ask for, and building it costs start-up time).
 */
export function terminalColumns(stream?: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): number {
  const s = stream ?? (isTerminal(1) ? process.stdout : { isTTY: false });
  if (s.isTTY && typeof s.columns === "number" && s.columns > 0) return s.columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80;
}

/** Cut `word` into pieces of at most `width` columns (only for a word longer than a line). */
function splitWord(word: string, width: number): string[] {
  const out: string[] = [];
  let cur = "";
  for (const ch of word) {
    if (cur !== "" && displayWidth(cur + ch) > width) {
      out.push(cur);
      cur = "";
    }
    cur += ch;
  }
  if (cur !== "") out.push(cur);
  return out;
}

/**
 * Wrap `text` at spaces so no line is wider than `width` columns; lines after the first
 * start with `indent` (and the first with `firstIndent`, default the same). Existing
 * newlines are kept. A word wider than a line is the only thing ever cut.
 */
export function wrapText(text: string, width: number, indent = "", firstIndent = indent): string[] {
  const lines: string[] = [];
  for (const para of text.split("\n")) {
    let line = lines.length === 0 ? firstIndent : indent;
    // A line that fits as it is comes out as it is (the loop below would rebuild it word
    // by word, measuring each prefix): the common case, and a table's hundreds of rows.
    if (para !== "" && para[0] !== " " && !para.endsWith(" ") && displayWidth(line + para) <= width) {
      lines.push(line + para);
      continue;
    }
    let hasWord = false;
    // Runs of spaces between words are kept as they are (a hook command or a value is
    // shown exactly); only where a line breaks do the spaces go.
    for (const m of para.matchAll(/( *)([^ ]+)/g)) {
      const gap = m[1] || " ";
      const word = m[2]!;
      const candidate = hasWord ? `${line}${gap}${word}` : `${line}${word}`;
      if (displayWidth(candidate) <= width) {
        line = candidate;
        hasWord = true;
        continue;
      }
      // A word that fits no line at all is cut, starting right here; any other word
      // moves whole to the next line.
      const fitsNoLine = displayWidth(indent + word) > width;
      if (hasWord && (!fitsNoLine || width - displayWidth(line) - 1 < 8)) {
        lines.push(line);
        line = indent;
        hasWord = false;
      }
      if (hasWord) line += gap;
      const room = Math.max(1, width - displayWidth(line));
      const pieces = displayWidth(word) > room ? splitWord(word, room) : [word];
      for (const piece of pieces.slice(0, -1)) {
        lines.push(`${line}${piece}`);
        line = indent;
      }
      line = `${line}${pieces.at(-1)!}`;
      hasWord = true;
    }
    lines.push(hasWord ? line : "");
  }
  return lines;
}

/**
 * Wrap a block of lines of fledge's own layout ("  key: value", "    - item"): each line
 * at word boundaries, its continuation lines indented two more than the line itself.
 */
export function wrapBlock(text: string, width: number): string {
  return text
    .split("\n")
    .flatMap((line) => {
      const lead = /^ */.exec(line)![0];
      return wrapText(line.slice(lead.length), width, `${lead}  `, lead);
    })
    .join("\n");
}

export type Style = "bold" | "dim" | "red" | "yellow" | "green" | "cyan";
const SGR: Record<Style, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], yellow: [33, 39], green: [32, 39], cyan: [36, 39] };

/** `text` in `style` when `on`; plain otherwise. Apply only to text that was already made safe. */
export function paint(style: Style | undefined, text: string, on: boolean): string {
  if (!on || style === undefined || text === "") return text;
  const [open, close] = SGR[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

/** Whether results on stdout are coloured: a terminal and no NO_COLOR. */
export function colorStdout(): boolean {
  return useColor({ isTTY: isTerminal(1) });
}

export interface TableOptions {
  /** Style for a cell, by column index and its (safe) text. */
  style?: (col: number, text: string, row: number) => Style | undefined;
  /** Colour on (default: stdout is a terminal and NO_COLOR is unset). */
  color?: boolean;
  /** Indent of every line. */
  indent?: string;
  /** The terminal's width; when a row would be wider, the last column wraps or moves. */
  width?: number;
  /**
   * What the last column does when rows are too wide: "wrap" it inside its column at
   * spaces (descriptions), or put it "below" its row on a line of its own (paths, URLs).
   * Either way when the column would be narrower than 20, it goes below.
   */
  overflow?: "wrap" | "below";
}

/** A cell as shown: through the terminal backstop, on one line. */
function cellText(c: string): string {
  return PLAIN.test(c) ? c : terminalText(c).replace(/[\n\t]/g, " ");
}

/** Printable ASCII: shown as it is, one column a character. */
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * Aligned columns, two spaces apart, the last one unpadded. Every cell passes the
 * terminal backstop before it is measured; colour is added after padding, so widths
 * are those of the visible text.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const color = opts.color ?? colorStdout();
  const indent = opts.indent ?? "";
  const safe = rows.map((r) => r.map(cellText));
  // One pass over the cells (a table may have a thousand rows).
  const widths = headers.map((h) => displayWidth(h));
  for (const r of safe) {
    for (let i = 0; i < widths.length; i++) {
      const w = displayWidth(r[i] ?? "");
      if (w > widths[i]!) widths[i] = w;
    }
  }
  const last = headers.length - 1;
  const lastStart = displayWidth(indent) + widths.slice(0, last).reduce((n, w) => n + w + 2, 0);
  const tooWide = opts.width !== undefined && lastStart + widths[last]! > opts.width;
  const room = opts.width !== undefined ? opts.width - lastStart : Infinity;
  const mode = !tooWide ? "fit" : opts.overflow === "wrap" && room >= 20 ? "wrap" : "below";
  // "below": the trailing columns that do not fit beside the first ones go under each row.
  let keep = last;
  if (mode === "below") {
    const headWidth = (k: number): number => displayWidth(indent) + widths.slice(0, k).reduce((n, w) => n + w, 0) + 2 * (k - 1);
    while (keep > 1 && headWidth(keep) > opts.width!) keep--;
  }
  const labels = headers.map((h) => `${h.toLowerCase()}: `);
  const styled = (i: number, c: string, ri: number | undefined): string => (color ? paint(ri === undefined ? "bold" : opts.style?.(i, c, ri), c, color) : c);
  const line = (cells: readonly string[], ri: number | undefined): string[] => {
    const headCount = mode === "below" ? keep : cells.length - 1;
    let text = indent;
    for (let i = 0; i < headCount; i++) {
      const c = cells[i] ?? "";
      text += `${i > 0 ? "  " : ""}${styled(i, c, ri)}${" ".repeat(Math.max(0, widths[i]! - displayWidth(c)))}`;
    }
    const tail = cells[last] ?? "";
    if (mode === "below") {
      text = text.trimEnd();
      if (ri === undefined) return [text];
      const out = [text];
      for (let c = keep; c < cells.length; c++) {
        if ((cells[c] ?? "") === "") continue;
        const label = labels[c]!;
        const wrapped = wrapText(`${label}${styled(c, cells[c]!, ri)}`, opts.width!, `${indent}      `, `${indent}    `);
        // The label starts the first line only; dimmed when in colour.
        if (color) wrapped[0] = wrapped[0]!.replace(label, paint("dim", label, color));
        for (const l of wrapped) out.push(l);
      }
      return out;
    }
    if (mode === "wrap") {
      const pad = " ".repeat(lastStart);
      const pieces = wrapText(tail, opts.width!, pad);
      return [`${text}  ${styled(last, (pieces[0] ?? "").slice(pad.length), ri)}`.trimEnd(), ...pieces.slice(1)];
    }
    return [`${text}  ${styled(last, tail, ri)}`.trimEnd()];
  };
  const out = line(headers, undefined);
  for (let ri = 0; ri < safe.length; ri++) for (const l of line(safe[ri]!, ri)) out.push(l);
  return out.join("\n");
}

/** The colour of a trust tier: official green, team cyan, local plain, unverified yellow. */
export function tierStyle(tier: string): Style | undefined {
  return tier === "official" ? "green" : tier === "team" ? "cyan" : tier === "unverified" ? "yellow" : undefined;
}

/** The colour of a risk text: anything unsandboxed red, elevated yellow, sandboxed green. */
export function riskStyle(text: string): Style | undefined {
  return /unsandboxed|native/i.test(text) ? "red" : /elevated/i.test(text) ? "yellow" : /sandboxed/i.test(text) ? "green" : undefined;
}
