import { describe, expect, test } from "bun:test";
import { displayWidth, formatTable, wrapBlock, wrapText } from "../../src/ui/table.ts";
import { prng } from "../helpers/prng.ts";

describe("wrapText", () => {
  test("never cuts a word that fits on a line, never exceeds the width", () => {
    const rand = prng(16);
    const words = ["a", "sandbox", "capabilities", "日本語", "--trust-native", "x".repeat(12), "é", "🦀"];
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => words[Math.floor(rand() * words.length)]).join(" ");
      const width = 20 + Math.floor(rand() * 64); // the longest word fits a line with its indent
      const lines = wrapText(text, width, "    ", "  ");
      for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(width);
      expect(lines.join(" ").split(/\s+/).filter((w) => w)).toEqual(text.split(" "));
    }
  });

  test("a word longer than a line is the only thing cut", () => {
    expect(wrapText(`ab ${"x".repeat(25)}`, 10)).toEqual(["ab", "x".repeat(10), "x".repeat(10), "x".repeat(5)]);
  });

  test("wrapBlock keeps each line's indent and hangs its continuation two deeper", () => {
    expect(wrapBlock("  ! one two three four five", 14)).toBe("  ! one two\n    three four\n    five");
  });
});

describe("formatTable", () => {
  test("columns line up by visible width: wide characters count two, escaped controls as shown", () => {
    const out = formatTable(["NAME", "TIER", "NOTE"], [["日本語", "local", "x"], ["a\u001b[31mb", "official", "y"], ["plain", "team", "z"]], { color: false });
    const rows = out.split("\n");
    // The escape is shown as text (\x1b), never sent raw.
    expect(out).not.toContain("\u001b");
    const col = (r: string, word: string) => displayWidth(r.slice(0, r.indexOf(word)));
    expect(new Set([col(rows[0]!, "TIER"), col(rows[1]!, "local"), col(rows[2]!, "official"), col(rows[3]!, "team")]).size).toBe(1);
  });

  test("colour goes around padded cells and does not shift columns", () => {
    const plain = formatTable(["A", "B"], [["x", "yy"]], { color: false });
    const colored = formatTable(["A", "B"], [["x", "yy"]], { color: true, style: () => "red" });
    expect(Bun.stripANSI(colored)).toBe(plain);
  });

  test("too wide: the last column wraps in place, or moves below its row", () => {
    const rows = [["CorvidLabs/fledge-plugin-github", "official", "Interact with GitHub issues, pull requests and releases from the command line"]];
    const wrapped = formatTable(["REPO", "TIER", "DESCRIPTION"], rows, { color: false, width: 80, overflow: "wrap" }).split("\n");
    for (const l of wrapped) expect(displayWidth(l)).toBeLessThanOrEqual(80);
    const start = wrapped[1]!.indexOf("Interact");
    expect(wrapped.slice(2).every((l) => l.slice(0, start).trim() === "")).toBe(true);
    const below = formatTable(["NAME", "SOURCE"], [["hello", "/a/very/long/path/".repeat(6)]], { color: false, width: 40, overflow: "below" }).split("\n");
    expect(below[1]).toBe("hello");
    expect(below[2]).toStartWith("    source: /a/very");
  });
});
