/**
 * Git-style dispatch of `fledge-<cmd>` programs on PATH. Attacker's view: a program
 * dropped on PATH must never take over a built-in (`fledge-plugins`), never shadow an
 * installed plugin's command, never be found through a relative or empty PATH entry
 * (the folder the user stands in), and never through a name with a path separator or
 * a control character. When one runs, stderr says it is native and unconfined.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findPathCommand, isPathCommandName } from "../../src/host/path-command.ts";
import { runFledge } from "../helpers/cli.ts";
import { nativePlugin, sandbox } from "../install/helpers.ts";

setDefaultTimeout(60_000);
let sb: ReturnType<typeof sandbox>;
let bin: string;
beforeEach(() => {
  sb = sandbox();
  bin = join(sb.root, "pathbin");
  mkdirSync(bin, { recursive: true });
});
afterEach(() => sb.cleanup());

/** An executable that records it ran (a marker file) and echoes its arguments. */
function program(dir: string, file: string, code = 0): string {
  const marker = join(sb.root, `ran-${file.replace(/[^A-Za-z0-9-]/g, "_")}`);
  const path = join(dir, file);
  writeFileSync(path, `#!/bin/sh\ntouch '${marker}'\necho "args:$*"\nexit ${code}\n`, { mode: 0o755 });
  return marker;
}

const PATH0 = process.env.PATH ?? "/usr/bin:/bin";
const run = (args: string[], path = `${bin}:${PATH0}`, cwd = sb.root) => runFledge(args, { env: { ...sb.env, PATH: path }, cwd });

describe("fledge <cmd> runs fledge-<cmd> from PATH", () => {
  test("arguments verbatim, exit code passed on, flagged native and unconfined on stderr", () => {
    const marker = program(bin, "fledge-hello", 7);
    const r = run(["hello", "a b", "--json", "-x"]);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("args:a b --json -x\n");
    expect(r.stderr).toContain(join(bin, "fledge-hello"));
    expect(r.stderr).toContain("native program found on PATH");
    expect(r.stderr).toContain("unconfined");
    expect(existsSync(marker)).toBe(true);
  });

  test("not found anywhere: the usual unknown-command usage error", () => {
    const r = run(["nothere"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'nothere'");
  });

  test("a file without the execute bit is not run", () => {
    writeFileSync(join(bin, "fledge-noexec"), "#!/bin/sh\necho hi\n", { mode: 0o644 });
    expect(run(["noexec"]).code).toBe(2);
  });
});

describe("attacker's view", () => {
  test("fledge-plugins and fledge-plugin on PATH never take over the built-in", () => {
    const m1 = program(bin, "fledge-plugins");
    const m2 = program(bin, "fledge-plugin");
    const m3 = program(bin, "fledge-trust");
    const r = run(["plugins", "list", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plugins).toEqual([]);
    expect(run(["plugin", "list"]).code).toBe(0);
    expect(run(["trust", "a/b"]).code).toBe(0);
    for (const m of [m1, m2, m3]) expect(existsSync(m)).toBe(false);
  });

  test("an installed plugin's command is never shadowed by one on PATH", () => {
    const plugin = nativePlugin(join(sb.root, "p"), { name: "nat", commands: [{ name: "hello", binary: "bin/run" }] });
    expect(run(["plugins", "install", plugin, "--trust-native", "--yes"]).code).toBe(0);
    const marker = program(bin, "fledge-hello");
    const r = run(["hello"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("native-run");
    expect(existsSync(marker)).toBe(false);
  });

  test("relative and empty PATH entries are skipped (the current folder plants nothing)", () => {
    const here = join(sb.root, "repo");
    mkdirSync(join(here, "tools"), { recursive: true });
    const m1 = program(here, "fledge-evil");
    const m2 = program(join(here, "tools"), "fledge-evil2");
    for (const path of [`:${PATH0}`, `${PATH0}:`, `.:${PATH0}`, `tools:${PATH0}`, `${PATH0}::/nonexistent`]) {
      expect(run(["evil"], path, here).code).toBe(2);
      expect(run(["evil2"], path, here).code).toBe(2);
    }
    expect(existsSync(m1)).toBe(false);
    expect(existsSync(m2)).toBe(false);
  });

  test("a name with a path separator or a control character is never looked up", () => {
    mkdirSync(join(bin, "fledge-sub"));
    const m1 = program(join(bin, "fledge-sub"), "x");
    const m2 = program(bin, "fledge-a\u001b[2J");
    expect(run(["sub/x"]).code).toBe(2);
    expect(run(["a\u001b[2J"]).code).toBe(2);
    expect(existsSync(m1)).toBe(false);
    expect(existsSync(m2)).toBe(false);
    for (const bad of ["sub/x", "..", "a\u0000b", "a\nb", "-rf", ".hidden", "a\\b", ""]) expect(isPathCommandName(bad)).toBe(false);
    expect(isPathCommandName("my-tool_2.0")).toBe(true);
    expect(findPathCommand("sub/x", { PATH: bin })).toBeUndefined();
  });
});
