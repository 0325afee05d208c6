import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir, writeFledgeShim } from "../helpers/cli.ts";

/**
 * The shell examples in the docs are tests: every ```sh block whose first line is
 * `# test: exits N[, prints "..."]` is run by bash, in document order, in one shared
 * directory (so an install in one example is seen by the next), with `fledge` on PATH
 * as a wrapper around `bun src/main.ts`. A doc example that stops working fails here.
 */

// The draft is meant to be merged into the README: once the README holds examples, test
// those (running both copies would install the same plugin twice in the shared directory).
const SOURCE = ["README.md"].find((f) => existsSync(join(ROOT, f)) && extractExamples(readFileSync(join(ROOT, f), "utf8"), f).length > 0);

interface Example {
  file: string;
  line: number;
  code: string;
  exit: number;
  stdout?: string;
}

function extractExamples(markdown: string, file: string): Example[] {
  const out: Example[] = [];
  const fence = /^```sh\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    const body = m[1]!;
    const first = body.split("\n", 1)[0]!;
    if (!first.startsWith("# test")) continue;
    const spec = /^# test: exits (\d+)(?:, prints ("(?:[^"\\]|\\.)*"))?\s*$/.exec(first);
    const line = markdown.slice(0, m.index).split("\n").length + 1;
    if (!spec) throw new Error(`${file}:${line}: malformed test marker '${first}' (want: # test: exits N[, prints "..."])`);
    out.push({ file, line, code: body.slice(first.length + 1), exit: Number(spec[1]), stdout: spec[2] === undefined ? undefined : (JSON.parse(spec[2]) as string) });
  }
  return out;
}

const examples = SOURCE ? extractExamples(readFileSync(join(ROOT, SOURCE), "utf8"), SOURCE) : [];
const hasJq = Bun.which("jq") !== null;
const work = tempDir("fledge-shell-examples-");
const binDir = join(work.path, "bin");
const cwd = join(work.path, "work");

beforeAll(() => {
  writeFledgeShim(binDir);
  mkdirSync(cwd);
  for (const p of ["hello-wasm", "hello-native"]) cpSync(join(ROOT, "tests", "fixtures", "plugins", p), join(cwd, p), { recursive: true });
});

afterAll(() => work.cleanup());

describe("shell examples in the docs", () => {
  test("there are examples to run", () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  for (const ex of examples) {
    // jq is a test dependency (scripts/setup.sh installs it); without it, say so rather than fail obscurely.
    const needsJq = /\bjq\b/.test(ex.code);
    test.skipIf(needsJq && !hasJq)(`${ex.file}:${ex.line}: ${ex.code.split("\n").find((l) => l.trim() !== "")}`, () => {
      const p = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", ex.code], {
        cwd,
        env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: work.path, NO_COLOR: "1", FLEDGE_CONFIG_DIR: join(work.path, "config") },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        timeout: 60_000,
      });
      const detail = `stdout: ${p.stdout.toString()}\nstderr: ${p.stderr.toString()}`;
      expect({ exit: p.exitCode, detail }).toMatchObject({ exit: ex.exit });
      if (ex.stdout !== undefined) expect(p.stdout.toString()).toBe(`${ex.stdout}\n`);
    });
  }
});
