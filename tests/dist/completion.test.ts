import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, runFledge, tempDir } from "../helpers/cli.ts";
import { root } from "../../src/cli/index.ts";
import { subCommandsOf } from "../../src/cli/framework.ts";
import { commandTree } from "../../src/cli/completion.ts";
import { installedDate, updateRegistry } from "../../src/registry/index.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";

/**
 * The bash script is sourced in a real bash, which is then asked for completions the
 * way readline asks (COMP_WORDS/COMP_CWORD, call _fledge, read COMPREPLY). `fledge` on
 * PATH is a wrapper around `bun src/main.ts`, so plugin commands come from the registry
 * in a temp FLEDGE_CONFIG_DIR at TAB time.
 */

const work = tempDir("fledge-completion-");
const cfg = join(work.path, "config");
const binDir = join(work.path, "bin");
const env = { FLEDGE_CONFIG_DIR: cfg };
let bashScript = "";

const has = (tool: string) => Bun.which(tool) !== null;

beforeAll(async () => {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, "fledge"), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
  chmodSync(join(binDir, "fledge"), 0o755);
  await updateRegistry((reg) => {
    for (const [name, commands] of [["hello", ["hello", "greet"]], ["shadow", ["trust"]]] as const) {
      reg.plugins.push({ name, source: `CorvidLabs/fledge-plugin-${name}`, version: "1.0.0", installed: installedDate(), commands: [...commands], runtime: "wasm", capabilities: { ...NO_CAPABILITIES } });
    }
  }, { ...process.env, ...env });
  const r = runFledge(["completion", "bash"], { env });
  if (r.code !== 0) throw new Error(r.stderr);
  bashScript = join(work.path, "fledge.bash");
  writeFileSync(bashScript, r.stdout);
});

afterAll(() => work.cleanup());

/** Completions bash offers for the command line `words`, the last word being completed. */
function complete(words: string[]): string[] {
  const arr = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
  const script = `source '${bashScript}'\nCOMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}\n_fledge\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`;
  const p = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", script], {
    env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: work.path, NO_COLOR: "1", ...env },
    cwd: work.path,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`bash failed: ${p.stderr.toString()}`);
  return p.stdout.toString().split("\n").filter((l) => l !== "").sort();
}

describe("fledge completion bash", () => {
  test("the root offers every built-in and installed plugin commands", async () => {
    const builtins = Object.keys(await subCommandsOf(root));
    const got = complete(["fledge", ""]);
    for (const b of builtins) expect(got).toContain(b);
    expect(got).toContain("hello");
    expect(got).toContain("greet");
    // A built-in shadows a plugin command of the same name, and is offered once.
    expect(got.filter((w) => w === "trust")).toEqual(["trust"]);
  });

  test("a prefix narrows the choice, plugins included", () => {
    expect(complete(["fledge", "pl"])).toEqual(["plugins"]);
    expect(complete(["fledge", "gr"])).toEqual(["greet"]);
  });

  test("sub-commands of a group, also through its alias", async () => {
    const plugins = Object.keys(await subCommandsOf((await subCommandsOf(root)).plugins!)).sort();
    expect(complete(["fledge", "plugins", ""])).toEqual(plugins);
    expect(complete(["fledge", "plugin", "va"])).toEqual(["validate"]);
    expect(complete(["fledge", "--non-interactive", "plugins", "va"])).toEqual(["validate"]);
  });

  test("a leaf's flags come from its argument definitions", async () => {
    const tree = await commandTree(root);
    const validate = tree.children.find((c) => c.path[0] === "plugins")!.children.find((c) => c.path[1] === "validate")!;
    const want = validate.flags.flatMap((f) => f.names).filter((n) => n.startsWith("--")).sort();
    expect(want).toContain("--strict");
    expect(complete(["fledge", "plugins", "validate", "--"])).toEqual(want);
    expect(complete(["fledge", "plugins", "validate", "./dir", "--st"])).toEqual(["--strict"]);
    expect(complete(["fledge", "trust", "--j"])).toEqual(["--json"]);
    expect(complete(["fledge", "--v"])).toEqual(["--version"]);
  });

  test("file positionals and plugin arguments fall back to file names (empty COMPREPLY)", () => {
    expect(complete(["fledge", "plugins", "validate", ""])).toEqual([]);
    expect(complete(["fledge", "hello", ""])).toEqual([]);
    expect(complete(["fledge", "hello", "--"])).toEqual([]);
  });

  test("positionals that name installed plugins, and fixed words", () => {
    expect(complete(["fledge", "plugins", "remove", ""])).toEqual(["hello", "shadow"]);
    expect(complete(["fledge", "plugins", "remove", "h"])).toEqual(["hello"]);
    expect(complete(["fledge", "completion", ""])).toEqual(["bash", "fish", "zsh"]);
  });

  test("a flag's value is not mistaken for a positional", () => {
    // wasm run --dir takes a value: after it comes the module (a file), not more flags.
    expect(complete(["fledge", "wasm", "run", "--dir", ""])).toEqual([]);
    expect(complete(["fledge", "wasm", "run", "--dir", "x", "--e"])).toEqual(["--env"]);
  });

  test("a flag with fixed values offers them: --trust-tier <TAB> is the four tiers, not file names", async () => {
    expect(complete(["fledge", "plugins", "search", "--trust-tier", ""])).toEqual(["local", "official", "team", "unverified"]);
    expect(complete(["fledge", "plugins", "search", "--trust-tier", "o"])).toEqual(["official"]);
    // Every enum flag in the tree carries its values (whatever shell renders them).
    const tree = await commandTree(root);
    const search = tree.children.find((c) => c.path[0] === "plugins")!.children.find((c) => c.path[1] === "search")!;
    expect(search.flags.find((f) => f.names.includes("--trust-tier"))?.value).toEqual({ words: ["local", "official", "team", "unverified"] });
  });

  test("string flags and positionals with fixed words offer them (create --lang, hooks run)", async () => {
    const { SCAFFOLD_LANGS } = await import("../../src/install/create.ts");
    const { LIFECYCLE_EVENTS } = await import("../../src/install/lifecycle.ts");
    expect(complete(["fledge", "plugins", "create", "--lang", ""])).toEqual([...SCAFFOLD_LANGS].sort());
    expect(complete(["fledge", "hooks", "run", ""])).toEqual(LIFECYCLE_EVENTS.map((e) => e.replace(/_/g, "-")).sort());
  });

  test("a plugin installed after the script was generated completes without regenerating", async () => {
    await updateRegistry((reg) => {
      reg.plugins.push({ name: "later", source: "./later", version: "0.1.0", installed: installedDate(), commands: ["latecomer"], runtime: "wasm", capabilities: { ...NO_CAPABILITIES } });
    }, { ...process.env, ...env });
    expect(complete(["fledge", "late"])).toEqual(["latecomer"]);
  });
});

describe("fledge completion", () => {
  test("--list-commands and --list-plugins read the registry", () => {
    const cmds = runFledge(["completion", "--list-commands"], { env });
    expect(cmds.code).toBe(0);
    expect(cmds.stdout.split("\n")).toContain("greet");
    expect(cmds.stdout.split("\n")).not.toContain("trust");
    const names = runFledge(["completion", "--list-plugins"], { env });
    expect(names.stdout.split("\n")).toContain("hello");
  });

  test("with no registry they print nothing and succeed", () => {
    const r = runFledge(["completion", "--list-commands"], { env: { FLEDGE_CONFIG_DIR: join(work.path, "empty") } });
    expect(r).toMatchObject({ code: 0, stdout: "" });
  });

  test("an unknown or missing shell is a usage error", () => {
    expect(runFledge(["completion", "tcsh"], { env }).code).toBe(2);
    expect(runFledge(["completion"], { env }).code).toBe(2);
  });

  test.skipIf(!has("zsh"))("zsh output parses (zsh -n)", () => {
    const r = runFledge(["completion", "zsh"], { env });
    expect(r.code).toBe(0);
    const file = join(work.path, "_fledge");
    writeFileSync(file, r.stdout);
    const p = Bun.spawnSync(["zsh", "-n", file], { stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });

  // Outside a real completion widget: stub the zsh completion builtins to print what
  // they were given (zsh itself would then filter by the typed prefix).
  test.skipIf(!has("zsh"))("zsh: the completion function offers the same things", () => {
    const r = runFledge(["completion", "zsh"], { env });
    const file = join(work.path, "_fledge_for_harness");
    writeFileSync(file, r.stdout);
    const harness = join(work.path, "harness.zsh");
    writeFileSync(
      harness,
      [
        "compdef() { :; }",
        'compadd() { while [[ $# -gt 0 && "$1" != "--" ]]; do shift; done; shift; print -l -- "$@"; }',
        '_describe() { local arr="${@[-1]}" e; for e in "${(@P)arr}"; do print -r -- "${e%%:*}"; done; }',
        '_files() { print -r -- "<files>"; }',
        `source '${file}'`,
        'words=("$@"); CURRENT=$#',
        "_fledge",
      ].join("\n"),
    );
    const ask = (...words: string[]) => {
      const p = Bun.spawnSync(["zsh", "-f", harness, ...words], { env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: work.path, ...env }, stdout: "pipe", stderr: "pipe" });
      expect(p.stderr.toString()).toBe("");
      return p.stdout.toString().split("\n").filter((l) => l !== "").sort();
    };
    expect(ask("fledge", "")).toEqual(expect.arrayContaining(["plugins", "trust", "completion", "greet", "hello"]));
    expect(ask("fledge", "plugin", "va")).toContain("validate");
    expect(ask("fledge", "plugins", "validate", "--st")).toContain("--strict");
    expect(ask("fledge", "plugins", "remove", "")).toEqual(expect.arrayContaining(["hello", "shadow"]));
    expect(ask("fledge", "plugins", "validate", "")).toEqual(["<files>"]);
    expect(ask("fledge", "hello", "")).toEqual(["<files>"]);
    expect(ask("fledge", "plugins", "search", "--trust-tier", "")).toEqual(["local", "official", "team", "unverified"]);
  });

  test.skipIf(!has("fish"))("fish output parses and completes (fish -n, complete -C)", () => {
    const r = runFledge(["completion", "fish"], { env });
    expect(r.code).toBe(0);
    const file = join(work.path, "fledge.fish");
    writeFileSync(file, r.stdout);
    expect(Bun.spawnSync(["fish", "-n", file]).exitCode).toBe(0);
    const ask = (line: string) => {
      const p = Bun.spawnSync(["fish", "--no-config", "-c", `source '${file}'; complete -C '${line}'`], {
        env: { PATH: `${binDir}:/usr/bin:/bin`, HOME: work.path, NO_COLOR: "1", ...env },
        stdout: "pipe",
        stderr: "pipe",
      });
      return p.stdout.toString().split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]!).sort();
    };
    expect(ask("fledge plugin va")).toEqual(["validate"]);
    expect(ask("fledge gr")).toEqual(["greet"]);
    expect(ask("fledge plugins validate --st")).toEqual(["--strict"]);
    expect(ask("fledge plugins remove h")).toEqual(["hello"]);
    expect(ask("fledge plugins search --trust-tier ")).toEqual(["local", "official", "team", "unverified"]);
  });
});
