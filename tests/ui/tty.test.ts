/**
 * isTerminal (src/core/tty.ts) answers what node:tty's isatty answers, for a pipe, a
 * file, /dev/null (a character device that is not a terminal) and a real terminal.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { isatty } from "node:tty";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isTerminal } from "../../src/core/tty.ts";
import { SCRIPT } from "../helpers/pty.ts";

const PROBE = `import { isTerminal } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "core", "tty.ts"))};
import { isatty } from "node:tty";
console.log(JSON.stringify([0, 1, 2].map((fd) => [isTerminal(fd), isatty(fd)])));`;

describe("isTerminal", () => {
  test("a file, /dev/null and a closed descriptor are not terminals, as isatty says", () => {
    const dir = mkdtempSync(join(tmpdir(), "fledge-tty-"));
    try {
      for (const path of [join(dir, "f"), "/dev/null"]) {
        const fd = openSync(path, "w");
        try {
          expect(isTerminal(fd)).toBe(false);
          expect(isTerminal(fd)).toBe(isatty(fd));
        } finally {
          closeSync(fd);
        }
      }
      expect(isTerminal(987)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a pipe is not a terminal; a pseudo-terminal is", () => {
    const dir = mkdtempSync(join(tmpdir(), "fledge-tty-"));
    try {
      const probe = join(dir, "probe.ts");
      writeFileSync(probe, PROBE);
      const piped = Bun.spawnSync([process.execPath, probe], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      expect(JSON.parse(piped.stdout.toString())).toEqual([[false, false], [false, false], [false, false]]);
      if (!SCRIPT) return; // no util-linux script: the pipe case above still ran
      const onPty = Bun.spawnSync([SCRIPT, "-qefc", `${process.execPath} ${probe}`, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const line = onPty.stdout.toString().split(/\r?\n/).find((l) => l.startsWith("[["));
      expect(JSON.parse(line!)).toEqual([[true, true], [true, true], [true, true]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
