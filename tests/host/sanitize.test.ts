import { describe, expect, test } from "bun:test";
import { createSanitizer, sanitizeOutput, stripAnsi } from "../../src/ui/sanitize.ts";

const ESC = "\u001b";
const BEL = "\u0007";
const ST = `${ESC}\\`;

describe("sanitizeOutput (security matrix G.4)", () => {
  test("SGR colours and cursor movement pass untouched", () => {
    const text = `${ESC}[1;31mred${ESC}[0m ${ESC}[2K${ESC}[10;5H${ESC}[3A${ESC}[38;5;208mx${ESC}[?25l`;
    expect(sanitizeOutput(text)).toBe(text);
  });

  test("plain text, newlines, tabs, CR and backspace pass", () => {
    const text = "héllo\tworld\r\nline 2\bX ✓ 🐦\n";
    expect(sanitizeOutput(text)).toBe(text);
  });

  test("OSC 52 clipboard write is stripped (BEL and ST terminated)", () => {
    expect(sanitizeOutput(`a${ESC}]52;c;ZWNobyBwd25lZA==${BEL}b`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}]52;c;ZWNobyBwd25lZA==${ST}b`)).toBe("ab");
  });

  test("OSC 0 / OSC 2 title changes are stripped", () => {
    expect(sanitizeOutput(`x${ESC}]0;pwned title${BEL}y`)).toBe("xy");
    expect(sanitizeOutput(`x${ESC}]2;pwned${ST}y`)).toBe("xy");
  });

  test("OSC 8 hyperlinks are stripped but their visible text stays", () => {
    expect(sanitizeOutput(`${ESC}]8;;https://evil.example${ST}click${ESC}]8;;${ST}`)).toBe("click");
  });

  test("DCS, APC, PM and SOS strings are stripped", () => {
    expect(sanitizeOutput(`a${ESC}P$q"p${ST}b`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}_Gf=100;AAAA${ST}b`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}^private${ST}b`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}Xstring${ST}b`)).toBe("ab");
  });

  test("unterminated OSC swallows the rest of the stream", () => {
    expect(sanitizeOutput(`safe${ESC}]52;c;bm90IGVuZGVk and more text\n`)).toBe("safe");
  });

  test("8-bit C1 forms: OSC/DCS/APC stripped, CSI normalised to 7-bit", () => {
    expect(sanitizeOutput("a\u009d52;c;AAAA\u009cb")).toBe("ab");
    expect(sanitizeOutput("a\u009d0;title\u0007b")).toBe("ab");
    expect(sanitizeOutput("a\u0090qpayload\u009cb")).toBe("ab");
    expect(sanitizeOutput("a\u009fapc\u009cb")).toBe("ab");
    expect(sanitizeOutput("\u009b31mred")).toBe(`${ESC}[31mred`);
    expect(sanitizeOutput("a\u0085b\u0084c")).toBe("abc");
  });

  test("other control characters are dropped", () => {
    expect(sanitizeOutput(`a${BEL}b\u0000c\u007fd\u000ee\u000cf`)).toBe("abcdef");
  });

  test("CSI that makes the terminal reply or act on its window is dropped", () => {
    expect(sanitizeOutput(`a${ESC}[6nb`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}[cb`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}[21tb`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}[?2026$pb`)).toBe("ab");
  });

  test("full reset and charset designation are dropped; ESC 7/8 pass", () => {
    expect(sanitizeOutput(`a${ESC}cb`)).toBe("ab");
    expect(sanitizeOutput(`a${ESC}(0b`)).toBe("ab");
    expect(sanitizeOutput(`${ESC}7x${ESC}8`)).toBe(`${ESC}7x${ESC}8`);
  });

  test("an ESC inside a string ends it and starts a new sequence", () => {
    expect(sanitizeOutput(`${ESC}]0;title${ESC}[31mred`)).toBe(`${ESC}[31mred`);
  });

  test("a stray ESC before a newline does not eat the newline", () => {
    expect(sanitizeOutput(`a${ESC}\nb${ESC}(\nc`)).toBe("a\nb\nc");
  });

  test("an over-long CSI is dropped whole", () => {
    expect(sanitizeOutput(`a${ESC}[${"1;".repeat(100)}mb`)).toBe("ab");
  });
});

describe("createSanitizer is streaming-safe", () => {
  test("an OSC 52 split across writes is still stripped", () => {
    const s = createSanitizer();
    const out = [s.write(`one${ESC}`), s.write("]52;c;"), s.write("AAAA"), s.write(`${ESC}`), s.write("\\two"), s.end()].join("");
    expect(out).toBe("onetwo");
  });

  test("a CSI split across writes still passes once complete", () => {
    const s = createSanitizer();
    expect(s.write(`${ESC}[3`)).toBe("");
    expect(s.write("1mred")).toBe(`${ESC}[31mred`);
  });

  test("every split point of a mixed sequence gives the same result", () => {
    const text = `A${ESC}[32mB${ESC}]52;c;QQ==${BEL}C${ESC}P1$r${ST}D\u009d0;t\u009cE${ESC}[0m`;
    const whole = sanitizeOutput(text);
    expect(whole).toBe(`A${ESC}[32mBCDE${ESC}[0m`);
    for (let i = 0; i <= text.length; i++) {
      const s = createSanitizer();
      expect(s.write(text.slice(0, i)) + s.write(text.slice(i)) + s.end()).toBe(whole);
    }
  });
});

test("stripAnsi still removes fledge's own colours", () => {
  expect(stripAnsi(`${ESC}[1mbold${ESC}[0m`)).toBe("bold");
});
