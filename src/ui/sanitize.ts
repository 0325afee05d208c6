/** Remove every ANSI escape sequence (for text fledge itself coloured). */
export function stripAnsi(text: string): string {
  // CSI, OSC (BEL or ST terminated), and two-byte ESC sequences.
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, "");
}

/**
 * Plugin output sanitizer (security matrix G.4).
 *
 * A plugin must not be able to act on the user's terminal beyond painting text: no
 * clipboard writes (OSC 52), no title changes (OSC 0/2), no hyperlinks that disguise
 * their target (OSC 8), no DCS/APC/PM/SOS payloads (terminal-specific command
 * channels), and nothing that makes the terminal type a reply into fledge's stdin.
 *
 * Policy:
 * - CSI sequences (SGR colours, cursor movement, erase) pass, EXCEPT those whose
 *   final byte asks the terminal to report or to act on its window
 *   (`c` device attributes, `n` status reports, `t` window ops, `x` parameter
 *   reports, `$p` mode reports). A CSI longer than {@link MAX_CSI} is dropped.
 * - OSC, DCS, APC, PM and SOS strings are swallowed up to and including their
 *   terminator (ST = ESC \ or 0x9C; BEL also ends them). CAN/SUB abort them; an ESC
 *   that is not ST ends the string and starts a new sequence (ECMA-48). An
 *   unterminated string swallows everything to the end of the stream.
 * - 8-bit C1 introducers (U+009B CSI, U+009D OSC, U+0090 DCS, U+009F APC, U+009E PM,
 *   U+0098 SOS) are treated like their 7-bit forms; CSI is re-emitted in 7-bit form.
 * - A few harmless two-character ESC sequences pass (ESC 7/8 save/restore cursor,
 *   ESC D/E/M line movement); every other ESC sequence (e.g. ESC c full reset,
 *   charset designations) is dropped.
 * - Other C0/C1 control characters and DEL are dropped, except \n \r \t \b.
 *
 * The state machine is streaming-safe: a sequence split across two writes is still
 * recognised because the state survives between `write` calls.
 */
export interface Sanitizer {
  /** Sanitize the next chunk; may hold back an incomplete CSI until the next write. */
  write(chunk: string): string;
  /** End of stream: an incomplete CSI or string sequence is discarded. */
  end(): string;
}

/** Longest CSI (introducer included) we are willing to buffer and pass. */
export const MAX_CSI = 64;

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const C1_ST = 0x9c;
const C1_CSI = 0x9b;
const C1_STRING_INTRODUCERS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]); // DCS SOS OSC PM APC
const ESC_STRING_INTRODUCERS = new Set(["P", "X", "]", "^", "_"]); // DCS SOS OSC PM APC
const ESC_PASS = new Set(["7", "8", "D", "E", "M"]);
const ALLOWED_C0 = new Set([0x0a, 0x0d, 0x09, 0x08]);
/** CSI final bytes that make the terminal answer on stdin or act on its window. */
const CSI_DENIED_FINALS = new Set(["c", "n", "t", "x"]);

type State =
  | "ground"
  | "esc" // saw ESC
  | "esc-intermediate" // ESC followed by 0x20-0x2F: swallow up to the final byte
  | "csi" // collecting a CSI into `csi`
  | "csi-drop" // an over-long CSI: swallow up to its final byte
  | "string" // inside OSC/DCS/APC/PM/SOS
  | "string-esc"; // saw ESC inside a string

/** Is this code point a control character we never forward? */
function isDroppedControl(cp: number): boolean {
  if (cp < 0x20) return !ALLOWED_C0.has(cp);
  return cp === 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/** Decide whether a complete CSI (starting with ESC [) may reach the terminal. */
export function isAllowedCsi(seq: string): boolean {
  const final = seq[seq.length - 1] ?? "";
  if (CSI_DENIED_FINALS.has(final)) return false;
  // DECRQM (`CSI ? Ps $ p`) asks the terminal for a reply.
  if (final === "p" && seq.includes("$")) return false;
  return true;
}

export function createSanitizer(): Sanitizer {
  let state: State = "ground";
  let csi = "";

  function write(chunk: string): string {
    let out = "";
    for (const ch of chunk) {
      const cp = ch.codePointAt(0) ?? 0;
      switch (state) {
        case "ground":
          if (cp === ESC) state = "esc";
          else if (cp === C1_CSI) {
            state = "csi";
            csi = "\u001b[";
          } else if (C1_STRING_INTRODUCERS.has(cp)) state = "string";
          else if (!isDroppedControl(cp)) out += ch;
          break;
        case "esc":
          if (ch === "[") {
            state = "csi";
            csi = "\u001b[";
          } else if (ESC_STRING_INTRODUCERS.has(ch)) state = "string";
          else if (cp >= 0x20 && cp <= 0x2f) state = "esc-intermediate";
          else if (cp === ESC) state = "esc";
          else if (cp < 0x20) {
            // A control character aborts the sequence and is handled on its own (a newline survives).
            state = "ground";
            out += write(ch);
          } else {
            if (ESC_PASS.has(ch)) out += `\u001b${ch}`;
            state = "ground";
          }
          break;
        case "esc-intermediate":
          // nF sequences (charset designation etc.): swallow until a final byte.
          if (cp >= 0x30 && cp <= 0x7e) state = "ground";
          else if (cp === ESC) state = "esc";
          else if (!(cp >= 0x20 && cp <= 0x2f)) {
            state = "ground";
            if (cp < 0x20) out += write(ch);
          }
          break;
        case "csi":
          if (cp >= 0x40 && cp <= 0x7e) {
            csi += ch;
            if (isAllowedCsi(csi)) out += csi;
            csi = "";
            state = "ground";
          } else if (cp >= 0x20 && cp <= 0x3f) {
            csi += ch;
            if (csi.length > MAX_CSI) {
              // Too long to be a colour or cursor move: drop it, and swallow the rest.
              csi = "";
              state = "csi-drop";
            }
          } else {
            // Malformed: abandon the sequence and treat this character afresh.
            csi = "";
            state = "ground";
            out += write(ch);
          }
          break;
        case "csi-drop":
          if (cp >= 0x40 && cp <= 0x7e) state = "ground";
          else if (!(cp >= 0x20 && cp <= 0x3f)) {
            state = "ground";
            out += write(ch);
          }
          break;
        case "string":
          if (cp === ESC) state = "string-esc";
          else if (cp === BEL || cp === C1_ST || cp === CAN || cp === SUB) state = "ground";
          break;
        case "string-esc":
          if (ch === "\\") state = "ground";
          else {
            // ESC not followed by '\' ends the string and begins a new sequence.
            state = "esc";
            out += write(ch);
          }
          break;
      }
    }
    return out;
  }

  function end(): string {
    state = "ground";
    csi = "";
    return "";
  }

  return { write, end };
}

/** One-shot form of {@link createSanitizer} for a complete piece of text. */
export function sanitizeOutput(text: string): string {
  const s = createSanitizer();
  return s.write(text) + s.end();
}
