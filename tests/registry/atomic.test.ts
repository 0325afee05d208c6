import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { atomicWrite, atomicWriteSync } from "../../src/registry/index.ts";
import { tempDir } from "../helpers/cli.ts";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.cleanup());

const variants = [
  ["atomicWrite", atomicWrite],
  ["atomicWriteSync", atomicWriteSync],
] as const;

for (const [label, write] of variants) {
  describe(label, () => {
    test("writes the content and leaves no temp files", async () => {
      const file = join(dir.path, "out.toml");
      await write(file, "first\n");
      await write(file, new TextEncoder().encode("second\n"));
      expect(readFileSync(file, "utf8")).toBe("second\n");
      expect(readdirSync(dir.path)).toEqual(["out.toml"]);
    });

    test("creates missing parent directories", async () => {
      const file = join(dir.path, "a", "b", "c.json");
      await write(file, "{}");
      expect(readFileSync(file, "utf8")).toBe("{}");
    });

    test("applies the requested mode, and otherwise keeps the existing one", async () => {
      if (process.platform === "win32") return;
      const file = join(dir.path, "secret");
      await write(file, "x", { mode: 0o600 });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await write(file, "y");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const fresh = join(dir.path, "fresh");
      await write(fresh, "z");
      expect(statSync(fresh).mode & 0o777).toBe(0o644);
    });

    test("a failure between write and rename leaves the old file intact and no temp file", async () => {
      const file = join(dir.path, "plugins.toml");
      writeFileSync(file, "old content\n");
      let seenTemp = "";
      const crash = (temp: string): void => {
        seenTemp = temp;
        // The new content is fully on disk in the temp file at this point...
        expect(readFileSync(temp, "utf8")).toBe("new content\n");
        throw new Error("simulated crash before rename");
      };
      let error: unknown;
      try {
        await write(file, "new content\n", { beforeRename: crash });
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).toBe("simulated crash before rename");
      expect(seenTemp.startsWith(join(dir.path, ".plugins.toml.tmp."))).toBe(true);
      expect(seenTemp).toContain(`.${process.pid}.`);
      // ...but the target still holds the old bytes and the temp is gone.
      expect(readFileSync(file, "utf8")).toBe("old content\n");
      expect(readdirSync(dir.path)).toEqual(["plugins.toml"]);
    });

    test("a failing rename (target is a directory) removes the temp file", async () => {
      const target = join(dir.path, "taken");
      await write(join(target, "inner"), "x"); // makes `taken` a non-empty directory
      let threw = false;
      try {
        await write(target, "data");
      } catch {
        threw = true;
      }
      expect(threw).toBe(true);
      expect(readdirSync(dir.path)).toEqual(["taken"]);
    });
  });
}

test("concurrent atomic writes to one file: one complete version wins, no temp files", async () => {
  const file = join(dir.path, "race.txt");
  const versions = Array.from({ length: 20 }, (_, i) => `version ${i} `.repeat(2000));
  await Promise.all(versions.map((v) => atomicWrite(file, v)));
  expect(versions).toContain(readFileSync(file, "utf8"));
  expect(readdirSync(dir.path)).toEqual(["race.txt"]);
});
