/** Wrapping never changes what is shown inside a line: runs of spaces stay (a hook command is shown exactly). */
import { expect, test } from "bun:test";
import { wrapBlock, wrapText } from "../../src/ui/table.ts";

test("runs of spaces between words are kept; only at a break do they go", () => {
  expect(wrapText('sh -c "a    b"', 80)).toEqual(['sh -c "a    b"']);
  expect(wrapBlock('  - post_install: sh -c "touch    x"', 80)).toBe('  - post_install: sh -c "touch    x"');
  const lines = wrapText("aaaa    bbbb    cccc", 12);
  expect(lines).toEqual(["aaaa    bbbb", "cccc"]);
});
