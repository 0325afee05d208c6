/**
 * docs/authoring.md's examples are tests:
 *   - every ```sh block whose first line is `# test: exits N[, prints "..."]` runs in
 *     bash, in document order, in one shared directory, with `fledge` on PATH; a
 *     second line `# needs: clang|rust` skips it (with one line) when that toolchain
 *     is missing;
 *   - every ```toml block whose first line is `# check: valid` or
 *     `# check: invalid "<part of an error>"` is validated as plugin.toml;
 *   - every ```json block tagged plugin-message, host-message, http-request or
 *     http-response is checked against fledge's own parsers and builders.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseMessage, buildInit } from "../../src/host/messages.ts";
import { checkMethod, checkRequestHeaders } from "../../src/host/http-policy.ts";
import { parseManifest } from "../../src/manifest/index.ts";
import { ROOT, tempDir, writeFledgeShim } from "../helpers/cli.ts";
import { clangWasm, rustWasm, skipLine } from "../helpers/toolchains.ts";

const DOC = "docs/authoring.md";
const markdown = readFileSync(join(ROOT, DOC), "utf8");

interface Block {
  lang: string;
  tag: string;
  line: number;
  body: string;
}

function blocks(): Block[] {
  const out: Block[] = [];
  const fence = /^```(\w+)(?: ([\w-]+))?\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    out.push({ lang: m[1]!, tag: m[2] ?? "", line: markdown.slice(0, m.index).split("\n").length + 1, body: m[3]! });
  }
  return out;
}

const all = blocks();
const have: Record<string, () => boolean> = { clang: clangWasm, rust: () => rustWasm() !== null };

describe(`${DOC}: shell examples`, () => {
  const work = tempDir("fledge-authoring-");
  const binDir = join(work.path, "bin");
  const cwd = join(work.path, "work");
  beforeAll(() => {
    writeFledgeShim(binDir);
    mkdirSync(cwd);
  });
  afterAll(() => work.cleanup());

  const shell = all.filter((b) => b.lang === "sh" && b.body.startsWith("# test"));
  test("there are examples to run", () => expect(shell.length).toBeGreaterThanOrEqual(3));
  for (const ex of shell) {
    const [first, second] = ex.body.split("\n", 2) as [string, string | undefined];
    const spec = /^# test: exits (\d+)(?:, prints ("(?:[^"\\]|\\.)*"))?\s*$/.exec(first);
    if (!spec) throw new Error(`${DOC}:${ex.line}: malformed test marker '${first}'`);
    const need = /^# needs: (\w+)$/.exec(second ?? "")?.[1];
    const missing = need !== undefined && !(have[need]?.() ?? false);
    if (missing) skipLine(`${DOC} examples that need ${need}`, "run scripts/setup.sh");
    test.skipIf(missing)(`${DOC}:${ex.line}`, () => {
      const p = Bun.spawnSync(["bash", "--norc", "--noprofile", "-e", "-c", ex.body], {
        cwd,
        env: { PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: work.path, NO_COLOR: "1", FLEDGE_CONFIG_DIR: join(work.path, "config") },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        timeout: 600_000,
      });
      const detail = `stdout: ${p.stdout.toString()}\nstderr: ${p.stderr.toString()}`;
      expect({ exit: p.exitCode, detail }).toMatchObject({ exit: Number(spec[1]) });
      if (spec[2] !== undefined) expect(p.stdout.toString()).toBe(`${JSON.parse(spec[2]) as string}\n`);
    }, 600_000);
  }
});

describe(`${DOC}: plugin.toml examples`, () => {
  const tomls = all.filter((b) => b.lang === "toml" && b.body.startsWith("# check"));
  test("there are examples to check", () => expect(tomls.length).toBeGreaterThanOrEqual(3));
  for (const ex of tomls) {
    test(`${DOC}:${ex.line}`, () => {
      const first = ex.body.split("\n", 1)[0]!;
      const r = parseManifest(ex.body);
      const errors = r.errors.map((e) => e.message);
      if (first === "# check: valid") {
        expect(errors).toEqual([]);
        expect(r.warnings.map((w) => w.message)).toEqual([]);
      } else {
        const want = /^# check: invalid ("(?:[^"\\]|\\.)*")$/.exec(first);
        if (!want) throw new Error(`${DOC}:${ex.line}: malformed check marker '${first}'`);
        expect(errors.join("\n")).toContain(JSON.parse(want[1]!) as string);
      }
    });
  }
});

describe(`${DOC}: message examples`, () => {
  const json = all.filter((b) => b.lang === "json");
  test("every message type is shown", () => {
    const types = new Set(json.filter((b) => b.tag.endsWith("-message")).map((b) => (JSON.parse(b.body) as { type: string }).type));
    for (const t of ["init", "response", "cancel", "output", "log", "progress", "prompt", "confirm", "select", "multi_select", "store", "load", "exec", "metadata"]) expect(types).toContain(t);
  });
  for (const ex of json) {
    test(`${DOC}:${ex.line} (${ex.tag})`, () => {
      const value = JSON.parse(ex.body) as Record<string, unknown>;
      switch (ex.tag) {
        case "plugin-message": {
          const r = parseMessage(ex.body.trim());
          expect(r.ok ? "ok" : r.problem).toBe("ok");
          break;
        }
        case "host-message":
          if (value.type === "init") {
            const built = buildInit({ args: [], project: null, plugin: { name: "p", version: "1.0.0", dir: "/p" }, fledgeVersion: "0", capabilities: { exec: false, store: false, metadata: false, filesystem: "none", network: false } });
            expect(Object.keys(value)).toEqual(Object.keys(built));
            expect(Object.keys(value.capabilities as object)).toEqual(Object.keys(built.capabilities));
          } else if (value.type === "response") {
            expect(Object.keys(value)).toEqual(["type", "id", "value"]);
          } else {
            expect(value.type).toBe("cancel");
            expect(["user_interrupt", "timeout"]).toContain(value.reason as string);
          }
          break;
        case "http-request":
          expect(typeof value.url).toBe("string");
          expect(() => checkMethod(value.method)).not.toThrow();
          expect(() => checkRequestHeaders(value.headers)).not.toThrow();
          break;
        case "http-response":
          expect(value.error !== undefined ? typeof value.refused : typeof value.status).toBe(value.error !== undefined ? "boolean" : "number");
          break;
        default:
          throw new Error(`${DOC}:${ex.line}: a json block needs a tag (plugin-message, host-message, http-request, http-response)`);
      }
    });
  }
});
