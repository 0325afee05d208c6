/**
 * The one authority for untrusted text (src/ui/sanitize.ts). How an attacker uses a
 * terminal string, and what each entry point must make of it:
 * - renderUntrusted: hide a hook command behind \r/erase/bidi, fake a fledge line with \n;
 * - createSanitizer: make the terminal answer on stdin (DSR, DA, XTVERSION, DECRQM,
 *   DECRQPSR, kitty keyboard query), switch modes (mouse, focus, alt screen), set the title
 *   or clipboard, clear the screen, stall it with a huge repeat count, rewrite a prefix;
 * - terminalText / jsonText: the backstop when a call site forgot, JSON still valid.
 */
import { describe, expect, test } from "bun:test";
import { createSanitizer, isAllowedCsi, jsonText, renderUntrusted, sanitizeOutput, stripAnsi, terminalText } from "../../src/ui/sanitize.ts";

const ESC = "\u001b";
const BEL = "\u0007";
const ST = `${ESC}\\`;

/** Every raw ESC/C1 in `text` must start an allowlisted SGR; returns the offenders. */
export function rawEscapes(text: string): string[] {
  const bad: string[] = [];
  const re = /[\u001b\u0080-\u009f]/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const sgr = /^\u001b\[[0-9;:]*m/.exec(text.slice(m.index));
    if (!sgr) bad.push(JSON.stringify(text.slice(m.index, m.index + 12)));
  }
  return bad;
}

/** Every attack sequence the guests and manifests in tests try. */
export const ATTACKS: Record<string, string> = {
  osc52: `${ESC}]52;c;cHduZWQ=${BEL}`,
  title: `${ESC}]0;pwned title${ST}`,
  hyperlink: `${ESC}]8;;https://evil.example${ST}click${ESC}]8;;${ST}`,
  dcs: `${ESC}P+q544e${ST}`,
  apc: `${ESC}_Gf=100;AAAA${ST}`,
  pm: `${ESC}^private${ST}`,
  sos: `${ESC}Xstring${ST}`,
  c1Osc: "\u009d0;title\u009c",
  c1Csi: "\u009b2J",
  dsr: `${ESC}[6n`,
  da: `${ESC}[c`,
  xtversion: `${ESC}[>0q`,
  kittyQuery: `${ESC}[?u`,
  decrqm: `${ESC}[?2026$p`,
  decrqpsr: `${ESC}[2$w`,
  mouse: `${ESC}[?1000h`,
  focus: `${ESC}[?1004h`,
  altScreen: `${ESC}[?1049h`,
  clear: `${ESC}[2J`,
  home: `${ESC}[H`,
  cursorUp: `${ESC}[3A`,
  repeat: `${ESC}[1000000000b`,
  hugeMove: `${ESC}[1000000000C`,
  windowOp: `${ESC}[21t`,
  reset: `${ESC}c`,
  saveCursor: `${ESC}7`,
  charset: `${ESC}(0`,
  modifyKeys: `${ESC}[>4;2m`,
  sgrOverflow: `${ESC}[${"1;".repeat(40)}m`,
  sgrBigValue: `${ESC}[38;5;99999m`,
  cr: "\r",
  backspace: "\b",
  bel: BEL,
  del: "\u007f",
  nel: "\u0085",
  rlo: "\u202e",
  lri: "\u2066",
  zwsp: "\u200b",
  bom: "\ufeff",
  tag: "\u{e0041}",
  lineSep: "\u2028",
};

describe("renderUntrusted: one value inside fledge's own text", () => {
  test("every attack is shown escaped, nothing raw", () => {
    for (const [name, attack] of Object.entries(ATTACKS)) {
      const out = renderUntrusted(`a${attack}b`);
      expect(rawEscapes(out), name).toEqual([]);
      expect(out, name).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]/u);
    }
  });

  test("the consent-prompt attack shows all of the command", () => {
    const hook = `sh -c "touch x" ${ESC}[2K\r    - post_install: cargo build --release`;
    expect(renderUntrusted(hook)).toBe('sh -c "touch x" \\x1b[2K\\r    - post_install: cargo build --release');
  });

  test("named and numbered escapes; newlines and tabs too; ordinary Unicode kept", () => {
    expect(renderUntrusted("a\nb\tc\bd\u0000")).toBe("a\\nb\\tc\\bd\\x00");
    expect(renderUntrusted("\u202egnp.exe")).toBe("\\u202egnp.exe");
    expect(renderUntrusted("x\u{e0041}")).toBe("x\\u{e0041}");
    expect(renderUntrusted("héllo ✓ 🐦 日本")).toBe("héllo ✓ 🐦 日本");
    expect(renderUntrusted("gi\u200dt")).toBe("gi\\u200dt");
    expect(renderUntrusted("\ud800x")).toBe("\\ud800x");
  });

  test("long values are cut", () => {
    expect(renderUntrusted("x".repeat(100), 10)).toBe(`${"x".repeat(10)}…`);
  });
});

describe("terminalText and jsonText: the backstop", () => {
  test("terminalText keeps newlines and tabs, escapes the rest", () => {
    expect(terminalText(`line 1\n\tline 2 ${ATTACKS.osc52}\r\u202e`)).toBe("line 1\n\tline 2 \\x1b]52;c;cHduZWQ=\\x07\\r\\u202e");
  });

  test("jsonText is valid JSON with the same value and no raw control, C1, bidi or invisible character", () => {
    const value = { s: Object.values(ATTACKS).join("|") };
    const text = jsonText(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]|\u{e0041}/u);
    expect(text).toContain("\\u202e");
  });
});

describe("createSanitizer: guest output, CSI allowlist", () => {
  test("SGR colours pass, within bounds", () => {
    const text = `${ESC}[1;31mred${ESC}[0m ${ESC}[38;5;208mx${ESC}[38;2;10;20;30my${ESC}[m${ESC}[4:3mz`;
    expect(sanitizeOutput(text)).toBe(text);
    expect(sanitizeOutput(text, "line")).toBe(text);
  });

  test("stream profile keeps \\r, \\b, tabs, newlines and same-line moves", () => {
    const text = `50%\r${ESC}[2K60%\b!\t${ESC}[5D${ESC}[3C${ESC}[1G${ESC}[K\n`;
    expect(sanitizeOutput(text)).toBe(text);
  });

  test("line profile: \\r, \\b and every cursor move are shown, so a prefix cannot be rewritten", () => {
    expect(sanitizeOutput(`x\r${ESC}[2K  INFO [fledge] ok`, "line")).toBe("x\\r\\x1b[2K  INFO [fledge] ok");
    expect(sanitizeOutput(`a\bb${ESC}[1Gc${ESC}[Ad`, "line")).toBe("a\\bb\\x1b[1Gc\\x1b[Ad");
  });

  test("every attack is shown escaped in both profiles", () => {
    for (const [name, attack] of Object.entries(ATTACKS)) {
      if (name === "cr" || name === "backspace") continue; // kept on a plugin's own stdout line
      for (const profile of ["stream", "line"] as const) {
        const out = sanitizeOutput(`a${attack}b`, profile);
        expect(rawEscapes(out), `${name} ${profile}`).toEqual([]);
        expect(out, `${name} ${profile}`).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b\ufeff\u2028]|\u{e0041}/u);
        expect(out.startsWith("a") && out.endsWith("b"), `${name} ${profile}`).toBe(true);
      }
    }
  });

  test("string payloads are visible text, their terminators escaped", () => {
    expect(sanitizeOutput(`a${ATTACKS.osc52}b`)).toBe("a\\x1b]52;c;cHduZWQ=\\x07b");
    expect(sanitizeOutput("a\u009d0;t\u009cb")).toBe("a\\x9d0;t\\x9cb");
  });

  test("8-bit CSI is normalised to 7-bit when allowed, shown escaped when not", () => {
    expect(sanitizeOutput("\u009b31mred")).toBe(`${ESC}[31mred`);
    expect(sanitizeOutput("\u009b6n")).toBe("\\x9b6n");
  });

  test("allowlist decisions", () => {
    expect(isAllowedCsi(`${ESC}[31m`)).toBe(true);
    expect(isAllowedCsi(`${ESC}[256m`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[${"0;".repeat(16)}0m`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[999C`)).toBe(true);
    expect(isAllowedCsi(`${ESC}[1000C`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[2K`)).toBe(true);
    expect(isAllowedCsi(`${ESC}[2K`, "line")).toBe(false);
    expect(isAllowedCsi(`${ESC}[3K`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[2J`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[A`)).toBe(false);
    expect(isAllowedCsi(`${ESC}[?25l`)).toBe(false);
  });

  test("an incomplete sequence at the end is shown, not swallowed", () => {
    expect(sanitizeOutput(`safe${ESC}[12`)).toBe("safe\\x1b[12");
    expect(sanitizeOutput(`safe${ESC}`)).toBe("safe\\x1b");
    expect(sanitizeOutput(`a${ESC}\nb`)).toBe("a\\x1b\nb");
  });

  test("an over-long CSI is shown escaped and the rest is text", () => {
    const out = sanitizeOutput(`a${ESC}[${"1;".repeat(100)}mb`);
    expect(rawEscapes(out)).toEqual([]);
    expect(out.endsWith("mb")).toBe(true);
  });
});

describe("createSanitizer is streaming-safe", () => {
  test("a CSI split across writes still passes once complete", () => {
    const s = createSanitizer();
    expect(s.write(`${ESC}[3`)).toBe("");
    expect(s.write("1mred")).toBe(`${ESC}[31mred`);
  });

  test("every split point of a mixed sequence gives the same result", () => {
    const text = `A${ESC}[32mB${ESC}]52;c;QQ==${BEL}C${ESC}P1$r${ST}D\u009d0;t\u009cE${ESC}[6n${ESC}[0m`;
    const whole = sanitizeOutput(text);
    expect(rawEscapes(whole)).toEqual([]);
    for (let i = 0; i <= text.length; i++) {
      const s = createSanitizer();
      expect(s.write(text.slice(0, i)) + s.write(text.slice(i)) + s.end()).toBe(whole);
    }
  });
});

test("stripAnsi still removes fledge's own colours", () => {
  expect(stripAnsi(`${ESC}[1mbold${ESC}[0m`)).toBe("bold");
});

describe("random input (seeded): the oracle holds for any mix of pieces and split points", () => {
  const PIECES = ["a", "Z", " ", "\n", "\t", "[", "]", ";", "0", "9", "m", "K", "\\", "P", "c", ESC, `${ESC}[`, BEL, "\r", "\b", "\u009b", "\u009d", "\u009c", "\u007f", "\u202e", "\u200b", "é", "🐦", "\ud800", ...Object.values(ATTACKS)];
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  test("2,000 random texts: nothing raw but allowlisted sequences; splitting never changes the result", () => {
    for (let k = 0; k < 2000; k++) {
      let text = "";
      const n = 1 + rand(30);
      for (let j = 0; j < n; j++) text += PIECES[rand(PIECES.length)];
      for (const profile of ["stream", "line"] as const) {
        const whole = sanitizeOutput(text, profile);
        const allowed = profile === "stream" ? /^\u001b\[(?:[0-9;:]*m|\d{0,3}[CDG]|[012]?K)/ : /^\u001b\[[0-9;:]*m/;
        for (let i = whole.indexOf(ESC); i >= 0; i = whole.indexOf(ESC, i + 1)) expect(allowed.test(whole.slice(i)), JSON.stringify(text)).toBe(true);
        const extra = profile === "stream" ? /[\u0000-\u0007\u000b-\u000c\u000e-\u001a\u001c-\u001f\u007f-\u009f\u202e\u200b]/ : /[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f\u202e\u200b]/;
        expect(extra.test(whole), JSON.stringify(text)).toBe(false);
        const cut = rand(text.length + 1);
        const s = createSanitizer(profile);
        expect(s.write(text.slice(0, cut)) + s.write(text.slice(cut)) + s.end(), JSON.stringify(text)).toBe(whole);
      }
      expect(rawEscapes(renderUntrusted(text))).toEqual([]);
    }
  });
});
