import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { loadManifest, parseManifest, type Problem } from "../../src/manifest/index.ts";
import { SHARED, tempDir } from "../helpers/cli.ts";
import { EXPECTED, TEMPLATE_EXPECTED, TEMPLATE_FILE } from "./real-manifests.expected.ts";

// The shared corpus is an extra check where ../shared exists beside the clone; our own
// fixtures (tests/manifest/*) reproduce each case it teaches, so a clone anywhere passes.
const DIR = join(SHARED, "fixtures", "manifests");
const HAVE_CORPUS = existsSync(DIR);
const files = (HAVE_CORPUS ? readdirSync(DIR) : []).filter((f) => f !== "README.md" && f !== "INDEX.tsv").sort();
const tomls = files.filter((f) => f.endsWith(".toml"));
const fmt = (p: Problem): string => (p.path === "" ? p.message : `${p.path}: ${p.message}`);

describe.skipIf(!HAVE_CORPUS)("real manifests (bare text, no plugin dir)", () => {
  test("the expectation table covers exactly the fixture files", () => {
    // 91 .toml manifests plus the .tera template (README.md and INDEX.tsv describe them).
    expect(tomls.length).toBe(91);
    expect(files.length).toBe(92);
    expect(Object.keys(EXPECTED).sort()).toEqual(tomls);
    expect(files).toContain(TEMPLATE_FILE);
  });

  for (const file of tomls) {
    test(file, () => {
      const text = readFileSync(join(DIR, file), "utf8");
      const want = EXPECTED[file]!;
      const got = parseManifest(text);
      expect(got.errors.map(fmt)).toEqual(want.errors);
      expect(got.warnings.map(fmt)).toEqual(want.warnings);
      if (want.errors.length === 0) {
        expect(got.manifest?.runtime).toBe(want.runtime!);
        expect(got.manifest?.commands.length).toBe(want.commands!);
      } else {
        expect(got.manifest).toBeUndefined();
      }
      // --strict adds exactly one warning per ignored key, naming its key path.
      const strict = parseManifest(text, { strict: true });
      const extra = strict.warnings.slice(got.warnings.length);
      expect(extra.map((w) => w.path)).toEqual(want.unknown ?? []);
      for (const w of extra) expect(w.message).toStartWith(`unknown key ${w.path} is ignored`);
    });
  }

  test(`${TEMPLATE_FILE} (Tera, not TOML) is one syntax error with line and column`, () => {
    const got = parseManifest(readFileSync(join(DIR, TEMPLATE_FILE), "utf8"));
    expect(got.errors).toEqual([{ path: "", ...TEMPLATE_EXPECTED }]);
    expect(got.warnings).toEqual([]);
    expect(got.manifest).toBeUndefined();
  });
});

/**
 * In a plugin directory the binaries are checked on disk. In an empty directory every
 * binary is missing: the original's rule applies, an error without a build hook and a
 * warning with one. Everything else stays as in the bare-text table.
 */
describe.skipIf(!HAVE_CORPUS)("real manifests in an empty plugin dir", () => {
  const tmp = tempDir("fledge-real-");
  afterAll(tmp.cleanup);

  for (const file of tomls) {
    test(file, () => {
      const dir = join(tmp.path, file.replace(/\.toml$/, ""));
      mkdirSync(dir);
      copyFileSync(join(DIR, file), join(dir, "plugin.toml"));
      const want = EXPECTED[file]!;
      const got = loadManifest(dir);
      expect(got.path).toBe(join(dir, "plugin.toml"));
      const doc = parse(readFileSync(join(DIR, file), "utf8")) as { commands?: unknown; hooks?: unknown };
      const hooks = doc.hooks && !Array.isArray(doc.hooks) ? (doc.hooks as Record<string, unknown>) : {};
      const hasBuild = typeof hooks.build === "string" && hooks.build.trim() !== "";
      const commands = Array.isArray(doc.commands) ? (doc.commands as { name: string; binary: string }[]) : [];
      const missingErrors: string[] = [];
      const missingWarnings: string[] = [];
      commands.forEach((c, i) => {
        const label = `commands[${i}].binary: Command '${c.name}' binary '${c.binary}' not found`;
        if (hasBuild) missingWarnings.push(`${label} (may be created by build hook)`);
        else missingErrors.push(`${label} and no build hook defined: build it first, or add [hooks] build = "..." that creates it`);
      });
      expect(got.errors.map(fmt).sort()).toEqual([...want.errors, ...missingErrors].sort());
      expect(got.warnings.map(fmt).sort()).toEqual([...want.warnings, ...missingWarnings].sort());
    });
  }
});
