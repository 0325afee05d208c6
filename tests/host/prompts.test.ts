import { describe, expect, test } from "bun:test";
import { nonInteractiveAnswer, validateAnswer } from "../../src/host/prompts.ts";

describe("validators", () => {
  test("non_empty, integer, path_exists, url", () => {
    expect(validateAnswer("non_empty", "  ")).toBe("Input cannot be empty");
    expect(validateAnswer("non_empty", "x")).toBeUndefined();
    expect(validateAnswer("integer", "-42")).toBeUndefined();
    expect(validateAnswer("integer", "4.2")).toBe("Must be an integer");
    expect(validateAnswer("integer", "99999999999999999999")).toBe("Must be an integer");
    expect(validateAnswer("path_exists", "/")).toBeUndefined();
    expect(validateAnswer("path_exists", "/definitely/not/here")).toBe("Path does not exist");
    expect(validateAnswer("url", "https://example.com/x")).toBeUndefined();
    expect(validateAnswer("url", "ftp://example.com")).toBe("Must be a valid URL (http:// or https://)");
    expect(validateAnswer("url", "nope")).toBe("Must be a valid URL (http:// or https://)");
    expect(validateAnswer("made_up", "")).toBeUndefined();
  });
});

describe("without a TTY", () => {
  const fails = (m: Parameters<typeof nonInteractiveAnswer>[0]) => {
    try {
      nonInteractiveAnswer(m);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("expected failure");
  };

  test("prompt uses its default, else fails naming the prompt", () => {
    expect(nonInteractiveAnswer({ type: "prompt", id: 1, message: "Name?", default: "bob" })).toBe("bob");
    expect(fails({ type: "prompt", id: 1, message: "Name?" })).toBe(
      "Plugin requested input 'Name?' but stdin is not a TTY and no default was provided.",
    );
    expect(fails({ type: "prompt", id: 1, message: "Port?", default: "x", validate: "integer" })).toContain("its default is invalid (Must be an integer)");
  });

  test("confirm defaults to its default, else false", () => {
    expect(nonInteractiveAnswer({ type: "confirm", id: 1, message: "ok?", default: true })).toBe(true);
    expect(nonInteractiveAnswer({ type: "confirm", id: 1, message: "ok?" })).toBe(false);
  });

  test("select needs a valid default", () => {
    expect(nonInteractiveAnswer({ type: "select", id: 1, message: "env?", options: ["dev", "prod"], default: 1 })).toBe("prod");
    expect(fails({ type: "select", id: 1, message: "env?", options: ["dev", "prod"] })).toBe(
      "Plugin requested selection 'env?' but stdin is not a TTY and no valid default was provided.",
    );
    expect(fails({ type: "select", id: 1, message: "env?", options: ["dev"], default: 3 })).toContain("no valid default");
  });

  test("multi_select keeps in-range defaults, else nothing", () => {
    expect(nonInteractiveAnswer({ type: "multi_select", id: 1, message: "m", options: ["a", "b", "c"], defaults: [2, 0, 7, -1] })).toEqual(["c", "a"]);
    expect(nonInteractiveAnswer({ type: "multi_select", id: 1, message: "m", options: ["a"] })).toEqual([]);
  });

  test("prompt text with escapes is shown escaped in the error", () => {
    expect(fails({ type: "prompt", id: 1, message: "\u001b]0;t\u0007Name\u001b[31m?" })).toContain("'\\x1b]0;t\\x07Name\\x1b[31m?'");
  });
});
