/** The two security decisions about command binaries, tested directly. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveInside, unsafeBinaryPath } from "../../src/manifest/index.ts";
import { tempDir } from "../helpers/cli.ts";

describe("unsafeBinaryPath: the path as written", () => {
  test("relative paths inside the dir are fine", () => {
    for (const ok of ["bin/x", "x", "./x", "target/wasm32-wasip1/release/x.wasm", ".build/release/x", "a..b", "..x", "x.."]) {
      expect(unsafeBinaryPath(ok)).toBeUndefined();
    }
  });
  test("absolute paths in any spelling are refused", () => {
    for (const abs of ["/bin/sh", "//server/share", "\\windows\\x", "C:\\x.exe", "c:/x", "~/bin/x", "~root/x"]) expect(unsafeBinaryPath(abs)).toBe("absolute");
  });
  test("any '..' component is refused", () => {
    for (const up of ["..", "../x", "bin/../x", "bin/..", "a/b/../../../x", "bin\\..\\x", "bin//../x"]) expect(unsafeBinaryPath(up)).toBe("dotdot");
  });
  test("a NUL byte is refused", () => {
    expect(unsafeBinaryPath("bin/x\0.sh")).toBe("nul");
  });
});

describe("resolveInside: where the path really leads", () => {
  const tmp = tempDir("fledge-resolve-");
  afterAll(tmp.cleanup);
  const root = join(tmp.path, "plugin");
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "real", "deep"), { recursive: true });
  writeFileSync(join(root, "real", "deep", "tool"), "");
  writeFileSync(join(tmp.path, "secret"), "");
  symlinkSync("../real/deep/tool", join(root, "bin", "inside"));
  symlinkSync("../../secret", join(root, "bin", "up"));
  symlinkSync(join(root, "real"), join(root, "abs-inside"));
  symlinkSync("/etc", join(root, "etc"));
  symlinkSync("..", join(root, "parent"));
  symlinkSync("/nonexistent/dir", join(root, "dangling"));
  symlinkSync("self", join(root, "self"));
  const real = realpathSync(root);

  test("plain and missing paths stay inside", () => {
    expect(resolveInside(root, "real/deep/tool")).toEqual({ path: join(real, "real", "deep", "tool") });
    expect(resolveInside(root, "not/yet/built")).toEqual({ path: join(real, "not", "yet", "built") });
  });
  test("relative and absolute links that land inside are followed", () => {
    expect(resolveInside(root, "bin/inside")).toEqual({ path: join(real, "real", "deep", "tool") });
    expect(resolveInside(root, "abs-inside/deep/tool")).toEqual({ path: join(real, "real", "deep", "tool") });
  });
  test("links that lead out are caught, also in the middle of a path", () => {
    expect(resolveInside(root, "bin/up")).toEqual({ escapes: realpathSync(join(tmp.path, "secret")) });
    expect(resolveInside(root, "etc/passwd")).toEqual({ escapes: join(realpathSync("/etc"), "passwd") });
    expect("escapes" in resolveInside(root, "parent/secret")).toBe(true);
  });
  test("a dangling link is judged by its target", () => {
    expect(resolveInside(root, "dangling/x")).toEqual({ escapes: "/nonexistent/dir/x" });
  });
  test("a self-referencing link is a loop", () => {
    expect(resolveInside(root, "self")).toEqual({ loop: true });
  });
});
