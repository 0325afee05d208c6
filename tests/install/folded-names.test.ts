/**
 * Plugin identity is folded (case, width, look-alikes, trailing dots), like command
 * names: on a case-insensitive file system (macOS, Windows) `plugins/FOO` IS
 * `plugins/foo`, so installing `FOO` next to `foo` used to reach commit's "orphan
 * folder" branch, which moved foo's folder (its state.json and data/) aside and deleted
 * it. Linux has no such file system here, so the tests assert the refusal and that
 * nothing moved: without --force a folded twin is refused naming the installed plugin;
 * with --force it replaces that plugin, exactly like a same-name --force.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installedAs } from "../../src/install/commit.ts";
import { readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);

let sb: ReturnType<typeof sandbox>;
beforeEach(() => (sb = sandbox()));
afterEach(() => sb.cleanup());
const fledge = (args: string[]) => runFledgeAsync(args, { env: sb.env, cwd: sb.root });
const STATE = '{"mine":true}\n';

async function fooWithData(): Promise<string> {
  const src = wasmPlugin(join(sb.root, "foo-src"), { name: "foo", commands: [{ name: "foocmd", binary: "hello.wasm" }] });
  expect((await fledge(["plugins", "install", src, "--copy", "--yes"])).code).toBe(0);
  const dir = join(sb.config, "plugins", "foo");
  writeFileSync(join(dir, "state.json"), STATE);
  return readFileSync(join(sb.config, "plugins.toml"), "utf8");
}

describe("plugin names are folded against installed plugins", () => {
  test("installedAs: exact match first, else the folded one", () => {
    const entry = (name: string) => ({ name }) as never;
    const reg = { plugins: [entry("foo"), entry("Bar")] };
    expect(installedAs(reg, "foo")?.name).toBe("foo");
    expect(installedAs(reg, "FOO")?.name).toBe("foo");
    expect(installedAs(reg, "foo.")?.name).toBe("foo");
    expect(installedAs(reg, "ｆｏｏ")?.name).toBe("foo");
    expect(installedAs(reg, "bar")?.name).toBe("Bar");
    expect(installedAs(reg, "food")).toBeUndefined();
  });

  for (const twin of ["FOO", "Foo", "foo."]) {
    test(`installing '${twin}' (other commands) while 'foo' is installed is refused, naming foo; nothing moves`, async () => {
      const before = await fooWithData();
      const listing = readdirSync(join(sb.config, "plugins")).sort();
      const src = wasmPlugin(join(sb.root, "twin-src"), { name: twin, commands: [{ name: "othercmd", binary: "hello.wasm" }] });
      const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--json"]);
      expect(r.code).not.toBe(0);
      const err = JSON.parse(r.stdout).error;
      expect(err.code).toBe("already_installed");
      expect(err.message).toContain("'foo'");
      expect(err.hint).toContain("--force");
      expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
      expect(readdirSync(join(sb.config, "plugins")).sort()).toEqual(listing);
      expect(readFileSync(join(sb.config, "plugins", "foo", "state.json"), "utf8")).toBe(STATE);
    });
  }

  test("with --force the twin replaces foo as the same plugin (one entry, one folder), like a same-name --force", async () => {
    await fooWithData();
    const src = wasmPlugin(join(sb.root, "twin-src"), { name: "FOO", commands: [{ name: "foocmd", binary: "hello.wasm" }] });
    const r = await fledge(["plugins", "install", src, "--copy", "--yes", "--force"]);
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["FOO"]);
    expect(readdirSync(join(sb.config, "plugins")).filter((n) => n !== "bin")).toEqual(["FOO"]);
    expect(readdirSync(join(sb.config, "plugins", "bin"))).toEqual(["fledge-foocmd"]);
  });

  test("a different name is not affected", async () => {
    await fooWithData();
    const src = wasmPlugin(join(sb.root, "food-src"), { name: "food" });
    expect((await fledge(["plugins", "install", src, "--copy", "--yes"])).code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name).sort()).toEqual(["foo", "food"]);
    expect(readFileSync(join(sb.config, "plugins", "foo", "state.json"), "utf8")).toBe(STATE);
  });
});
