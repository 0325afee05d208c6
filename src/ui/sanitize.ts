/**
 * THE authority for text fledge did not write: nothing untrusted reaches a terminal
 * except through this module.
 *
 * Untrusted text is anything a plugin author, an archive, a server or a running guest
 * chose: manifest fields, hook commands, binary names, archive entry names and symlink
 * targets, repository names and descriptions, server error bodies, a module's import
 * names, guest stdout/stderr and log messages. Such text may paint characters on the
 * user's terminal and nothing more. An attacker would otherwise:
 * - hide part of a hook command (`\r`, erase-line, bidi reordering, zero-width text)
 *   so the consent prompt shows a harmless command while a different one runs;
 * - forge a line that looks like fledge's own (`\r` + erase over the `[plugin]` prefix);
 * - make the terminal act: title (OSC 0/2), clipboard (OSC 52), hyperlinks (OSC 8),
 *   DCS/APC/PM/SOS channels, screen clear, alternate screen, mouse/focus reporting;
 * - make the terminal type a reply into fledge's stdin (DSR, DA, XTVERSION, DECRQM,
 *   DECRQPSR, kitty keyboard query), or stall it (a repeat count of 10^9).
 *
 * The rule: every dangerous character is shown as a visible escape (`\x1b`, `\r`,
 * `\u202e`), never emitted. Three entry points, one character table ({@link isDangerous}):
 * - {@link renderUntrusted}: a value shown inside fledge's own message (names, hook
 *   commands, paths, server text). Everything dangerous is escaped, newlines and tabs too,
 *   so the value stays on its line and shows exactly what it contains.
 * - {@link createSanitizer}: guest output streams. CSI is an ALLOWLIST:
 *   - both profiles: SGR (`CSI … m`) with at most {@link MAX_SGR_PARAMS} parameters, each
 *     at most 255 (colours, bold, underline …);
 *   - "stream" (a plugin's stdout, no prefix) also keeps `\r`, `\b` and same-line moves:
 *     CUF/CUB/CHA (`CSI n C|D|G`, n ≤ 999) and erase-in-line (`CSI 0|1|2 K`), which is what
 *     progress bars and spinners need. No cursor-up/down, no absolute position, no screen
 *     erase: a plugin cannot reach a line above its own (fledge's warnings stay put);
 *   - "line" (prefixed lines on stderr: `  INFO [plugin] …`): SGR only; `\r` and `\b` are
 *     escaped, so a line cannot rewrite its own prefix.
 *   Everything else (other CSI, OSC/DCS/APC/PM/SOS, other ESC sequences, C0/C1 controls,
 *   DEL, bidi controls, invisible format characters) is shown escaped. The introducer of a
 *   string sequence is escaped, so its payload is plain, visible text.
 * - {@link terminalText}: the backstop at the output boundary (printResult, the logger,
 *   prompts): fledge's composed messages keep their newlines and tabs, every other
 *   dangerous character is escaped, even one a call site forgot to wrap.
 * JSON output ({@link jsonText}) stays valid JSON with the same value: JSON.stringify
 * escapes C0; DEL, C1, bidi and invisible characters are escaped as `\uXXXX` too, since a
 * terminal may act on a raw UTF-8 C1 byte.
 */

/** Longest CSI (introducer included) considered at all; longer ones are shown escaped. */
export const MAX_CSI = 64;
/** Most SGR parameters one sequence may carry (`38;2;r;g;b` needs 5). */
export const MAX_SGR_PARAMS = 16;
/** Largest SGR parameter value (colour components and indices are ≤ 255). */
const MAX_SGR_VALUE = 255;
/** Largest count of a same-line cursor move in the "stream" profile. */
const MAX_MOVE = 999;

const ESC = 0x1b;
const C1_CSI = 0x9b;

/** Invisible letters that render as blank space (Hangul fillers, combining grapheme joiner). */
const INVISIBLE_LETTERS = new Set([0x034f, 0x115f, 0x1160, 0x3164, 0xffa0]);
/** Controls, format characters (bidi overrides/isolates, zero-width, BOM, tags), separators, lone surrogates. */
const DANGEROUS_CLASS = /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]$/u;
/** Every dangerous character, for bulk scans (same set as {@link isDangerous}). */
const DANGEROUS_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u3164\uffa0]/gu;
/** Zero-width (non-)joiner: kept in guest output (emoji sequences, Persian text), escaped in names. */
const JOINERS = new Set([0x200c, 0x200d]);

/** Is this character never emitted raw (before any profile's exceptions)? */
export function isDangerous(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  return DANGEROUS_CLASS.test(ch) || INVISIBLE_LETTERS.has(cp);
}

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b" };

/** The escapes of U+0000–U+00FF, made once (a flood of control bytes builds no new strings). */
const LATIN1_ESCAPES: readonly string[] = Array.from({ length: 256 }, (_, cp) => NAMED[String.fromCharCode(cp)] ?? `\\x${cp.toString(16).padStart(2, "0")}`);

/** The visible form of one dangerous character. */
export function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp <= 0xff) return LATIN1_ESCAPES[cp] ?? "";
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\u{${cp.toString(16)}}`;
}

/**
 * THE function for an untrusted value shown inside fledge's own text. Every control
 * character (newline and tab included), DEL, C1, bidi control, zero-width or other
 * invisible character is shown as an escape. `maxLength` cuts long values (with `…`).
 */
export function renderUntrusted(value: string, maxLength?: number): string {
  let s = String(value);
  if (maxLength !== undefined && s.length > maxLength) s = `${s.slice(0, maxLength)}…`;
  return PRINTABLE_ASCII.test(s) ? s : s.replace(DANGEROUS_ALL, escapeChar);
}

/**
 * Printable ASCII (space to `~`) holds no dangerous character: such text (most names,
 * versions, sources, table cells) needs no scan with the Unicode classes, which costs
 * microseconds a call, milliseconds over a thousand-row table.
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Backstop for text fledge composed (it may embed untrusted values): keeps `\n` and `\t` only. */
export function terminalText(text: string): string {
  if (PRINTABLE_ASCII.test(text)) return text;
  return text.replace(DANGEROUS_ALL, (ch) => (ch === "\n" || ch === "\t" ? ch : escapeChar(ch)));
}

/** JSON for stdout: valid JSON, same value, no raw control/bidi/invisible character. */
export function jsonText(value: unknown, indent: number = 2): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u3164\uffa0]/gu, (c) =>
    // Astral format characters (tags) become a surrogate pair of \u escapes.
    [...c].length === 1 && c.length === 2 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}\\u${c.charCodeAt(1).toString(16).padStart(4, "0")}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Remove every ANSI escape sequence (for text fledge itself coloured, e.g. citty's help). */
export function stripAnsi(text: string): string {
  // CSI, OSC (BEL or ST terminated), and two-byte ESC sequences.
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, "");
}

/** The SGR reset: turns every colour and attribute off. */
export const SGR_RESET = "\u001b[0m";

/**
 * Whether a colour is still on after writing sanitized `text`: its last SGR decides
 * (a reset turns it off); `wasOn` when it has none. So fledge can turn the colour off
 * before its own next output (a prefix, the prompt) instead of inheriting black on black.
 */
export function colourLeftOn(text: string, wasOn: boolean): boolean {
  const sgrs = text.match(/\u001b\[[0-9;:]*m/g);
  return sgrs ? !/^\u001b\[0*m$/.test(sgrs[sgrs.length - 1] ?? "") : wasOn;
}

/** One line of sanitized text with any colour it may have set turned off before the newline. */
export function closedLine(text: string): string {
  return `${text}${text.includes("\u001b[") ? SGR_RESET : ""}\n`;
}

/** Which guest output a sanitizer serves (see the module comment). */
export type GuestProfile = "stream" | "line";

/** Is this complete CSI (normalised to start with ESC [) allowed through in this profile? */
export function isAllowedCsi(seq: string, profile: GuestProfile = "stream"): boolean {
  if (seq.length > MAX_CSI || !seq.startsWith("\u001b[")) return false;
  const body = seq.slice(2, -1);
  const final = seq[seq.length - 1];
  if (final === "m") {
    if (!/^[0-9;:]*$/.test(body)) return false; // no private markers (`CSI > 4;2 m` sets key modes)
    const params = body.split(/[;:]/);
    return params.length <= MAX_SGR_PARAMS && params.every((p) => p === "" || Number(p) <= MAX_SGR_VALUE);
  }
  if (profile !== "stream") return false;
  if (final === "C" || final === "D" || final === "G") return /^\d{0,3}$/.test(body) && (body === "" || Number(body) <= MAX_MOVE);
  if (final === "K") return /^[012]?$/.test(body);
  return false;
}

/** A streaming guest-output sanitizer: state survives between writes, so split sequences are still caught. */
export interface Sanitizer {
  /** Sanitize the next chunk; may hold back an incomplete CSI until the next write. */
  write(chunk: string): string;
  /** End of stream: anything held back is shown escaped. */
  end(): string;
}

/** Characters a guest profile keeps raw although {@link isDangerous} flags them. */
function keptRaw(cp: number, profile: GuestProfile): boolean {
  if (cp === 0x0a || cp === 0x09 || JOINERS.has(cp)) return true;
  return profile === "stream" && (cp === 0x0d || cp === 0x08);
}

export function createSanitizer(profile: GuestProfile = "stream"): Sanitizer {
  let state: "ground" | "esc" | "csi" = "ground";
  /** The CSI collected so far, in 7-bit form, and as the guest wrote it (for the escaped form). */
  let csi = "";
  let raw = "";
  /** A high surrogate that ended the last write, waiting for its pair. */
  let high = "";

  function text(ch: string): string {
    const cp = ch.codePointAt(0) ?? 0;
    return isDangerous(ch) && !keptRaw(cp, profile) ? escapeChar(ch) : ch;
  }

  function write(input: string): string {
    // A surrogate pair split across two writes is joined before it is judged.
    let chunk = high + input;
    high = "";
    const last = chunk.charCodeAt(chunk.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      high = chunk.slice(-1);
      chunk = chunk.slice(0, -1);
    }
    // Pieces joined once at the end: a flood of escapes is not built by per-character concatenation.
    const out: string[] = [];
    let i = 0;
    while (i < chunk.length) {
      const c0 = chunk.charCodeAt(i);
      // A C0/C1 control or DEL is dangerous without asking the regex (a flood of them
      // then allocates no match objects); anything else starts a run the regex measures.
      if (state === "ground" && !(c0 < 0x20 || (c0 >= 0x7f && c0 <= 0x9f))) {
        // Fast path: copy the run of harmless text up to the next dangerous character in bulk.
        DANGEROUS_ALL.lastIndex = i;
        const m = DANGEROUS_ALL.exec(chunk);
        const end = m ? m.index : chunk.length;
        if (end > i) out.push(chunk.slice(i, end));
        if (!m) break;
        i = end;
      }
      const cp = chunk.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      i += ch.length;
      if (state === "esc") {
        if (ch === "[") {
          state = "csi";
          csi = "\u001b[";
          raw = "\u001b[";
          continue;
        }
        // Any other ESC sequence (OSC, DCS, ESC c, ESC 7 …) is shown: its introducer escaped,
        // the rest handled as ordinary text (so a string payload is visible, its BEL escaped).
        out.push("\\x1b");
        state = "ground";
      } else if (state === "csi") {
        if (cp >= 0x20 && cp <= 0x3f && csi.length < MAX_CSI) {
          csi += ch;
          raw += ch;
          continue;
        }
        state = "ground";
        if (cp >= 0x40 && cp <= 0x7e) {
          out.push(isAllowedCsi(csi + ch, profile) ? csi + ch : renderUntrusted(raw + ch));
          continue;
        }
        // Malformed or over-long: show what was collected; this character is handled afresh.
        out.push(renderUntrusted(raw));
      }
      if (cp === ESC) state = "esc";
      else if (cp === C1_CSI) {
        state = "csi";
        csi = "\u001b[";
        raw = ch;
      } else out.push(text(ch));
    }
    return out.join("");
  }

  function end(): string {
    const rest = (state === "esc" ? "\\x1b" : state === "csi" ? renderUntrusted(raw) : "") + renderUntrusted(high);
    high = "";
    state = "ground";
    csi = "";
    raw = "";
    return rest;
  }

  return { write, end };
}

/** One-shot form of {@link createSanitizer} for a complete piece of guest text. */
export function sanitizeOutput(text: string, profile: GuestProfile = "stream"): string {
  const s = createSanitizer(profile);
  return s.write(text) + s.end();
}
