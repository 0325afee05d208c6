/**
 * PluginConsole processes guest text in slices (TEXT_SLICE characters), writing and
 * charging each before the next, so a 16 MiB message cannot be expanded whole in
 * memory. Slicing must not change what is shown: a sequence, a surrogate pair or a
 * line split by a slice boundary renders as if it were whole.
 */
import { describe, expect, test } from "bun:test";
import { TEXT_SLICE } from "../../src/host/console.ts";
import { sanitizeOutput } from "../../src/ui/sanitize.ts";
import { captureConsole } from "./capture.ts";

/** What log() showed before slicing existed: the whole message sanitized, then split. */
function wholeLog(name: string, message: string): string {
  const body = sanitizeOutput(message, "line").replace(/\n+$/, "");
  return body
    .split("\n")
    .map((l) => `  INFO [${name}] ${l}${l.includes("\u001b[") ? "\u001b[0m" : ""}\n`)
    .join("");
}

describe("log in slices", () => {
  const pad = (n: number): string => "a".repeat(n);
  const cases: Record<string, string> = {
    "empty message": "",
    "newlines only": "\n\n\n",
    "an SGR split by the slice boundary": `${pad(TEXT_SLICE - 2)}\u001b[31mred\nnext`,
    "a forbidden CSI split by the boundary": `${pad(TEXT_SLICE - 1)}\u001b[2Jx`,
    "a surrogate pair on the boundary": `${pad(TEXT_SLICE - 1)}😀\nb`,
    "a line break on the boundary": `${pad(TEXT_SLICE - 1)}\n${pad(10)}\n\n`,
    "many slices of control bytes": "\u0001".repeat(3 * TEXT_SLICE + 5),
  };
  for (const [what, message] of Object.entries(cases)) {
    test(`${what}: same text as rendering the message whole`, () => {
      const { io, con } = captureConsole("p");
      con.log("info", message);
      expect(io.err.join("")).toBe(wholeLog("p", message));
    });
  }

  test("each slice is written and charged before the next is built", () => {
    const { io, con } = captureConsole("p");
    const charged: number[] = [];
    con.meter = (n) => {
      charged.push(n);
      // The meter runs after that slice's text was written.
      expect(io.err.join("").length).toBeLessThanOrEqual(charged.reduce((a, b) => a + b, 0));
    };
    con.log("info", "\n".repeat(4 * TEXT_SLICE) + "x");
    expect(charged.length).toBeGreaterThan(4);
    expect(Math.max(...io.err.map((t) => t.length))).toBeLessThan(TEXT_SLICE * 20);
  });

  test("a meter that stops the run ends the log at once", () => {
    const { io, con } = captureConsole("p");
    con.meter = () => {
      throw new Error("stop");
    };
    expect(() => con.log("info", "\u0001".repeat(10 * TEXT_SLICE))).toThrow("stop");
    expect(io.err.length).toBe(1);
  });
});

describe("output in slices", () => {
  test("an ESC split by the slice boundary is still judged whole, and each slice is charged", () => {
    const { io, con } = captureConsole("p");
    const charged: number[] = [];
    con.meter = (n) => void charged.push(n);
    const text = `${"a".repeat(TEXT_SLICE - 1)}\u001b]0;T\u0007\u001b[1mb`;
    con.output(text);
    con.finish();
    expect(io.out.join("")).toBe(sanitizeOutput(text, "stream") + "\u001b[0m");
    expect(charged.length).toBe(2);
  });
});
