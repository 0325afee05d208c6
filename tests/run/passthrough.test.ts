/**
 * Guest arguments are the guest's, verbatim, always (issue 10 item 9): whatever follows
 * the module path of `fledge wasm run` or the command of `fledge plugins run` /
 * `fledge <command>` reaches the guest byte for byte and is never parsed by fledge
 * (citty turned `-x_y` into an option `_` that overwrote the positionals and crashed
 * with "internal error: true is not iterable"), and a `--json` among them does not
 * switch fledge's own output to JSON.
 *
 * How an attacker (or just a compiler's command line) would try it: option-looking
 * shapes citty or fledge might claim (`-x_y`, `--_`, `--__proto__`, `--json`, `--help`,
 * `--dir=/`, `--no-cache`, `--`), `=` and `.` inside names, empty and blank arguments,
 * and non-ASCII text. The rule lives in src/cli/framework.ts (splitPassthrough); the
 * in-process fuzz aims at it directly and the end-to-end runs prove the whole path
 * (argv echoed by a WAT guest, the init message of a wasm plugin, argv of a native one).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { prng } from "../helpers/prng.ts";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "../../src/cli/index.ts";
import { parseArgs, type ArgsDef, type CommandDef } from "citty";
import { resolve, splitPassthrough, subCommandsOf } from "../../src/cli/framework.ts";
import { isFledgeError } from "../../src/ui/index.ts";
import { parseRunArgs } from "../../src/cli/wasm.ts";
import { ROOT, runFledge, tempDir } from "../helpers/cli.ts";
import { addPlugin, compat, makeHome, type Home } from "./helpers.ts";

const ECHO_SRC = join(ROOT, "tests", "fixtures", "wasi", "argv_echo.wasm");

const rng = prng;

const PIECES = [
  "-", "--", "_", "=", "x", "y", "D", "WASI", ".", "0", "1e3", "true", "no-", " ",
  "--json", "--help", "-h", "-v", "--version", "--dir", "--env", "--fuel", "--no-cache", "--non-interactive",
  "-o", "-a", "-t", "-l", "-d", "-y", "--output", "--author", "--strict", "--yes", "--max-memory", "--timeout",
  "__proto__", "constructor", "toString", "ü", "ß", "é", "💥", "日本", "\u202e", "\t", "'", '"', "\\", "$HOME", "*",
];
/** Hand-picked shapes first: the instances and their neighbours. */
const SHAPES = [
  "-D_WASI_X", "--_", "-x_y", "-_", "--__proto__", "--constructor", "--json", "--help", "-h", "--", "-", "---", "--=", "-=x",
  "--a=b=c", "--no-", "--x.y", "-abc", "--dir=/", "--dir", "/", "--fuel", "none", "--no-cache", "--non-interactive", "",
  " ", "a b", "--ü_ß=💥", "-é", "--version", "-V",
];

function randomArg(next: () => number, printable: boolean): string {
  const n = 1 + Math.floor(next() * 4);
  let s = "";
  for (let i = 0; i < n; i++) {
    const p = PIECES[Math.floor(next() * PIECES.length)]!;
    if (printable && (p === "\u202e" || p === "\t")) continue;
    s += p;
  }
  return next() < 0.05 ? "" : s;
}

function randomArgs(seed: number, count: number, printable = false): string[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => randomArg(next, printable));
}

describe("the framework's cut (in process)", () => {
  test("the issue's command: the module path ends fledge's arguments", async () => {
    const r = await resolve(root, ["wasm", "run", "m.wasm", "-D_WASI_X", "--_", "-x_y", "--json", "--", "a"]);
    if ("unknown" in r) throw new Error("resolved to a plugin");
    expect(r.args).toEqual(["m.wasm"]);
    expect(r.tail).toEqual(["-D_WASI_X", "--_", "-x_y", "--json", "--", "a"]);
    expect(r.json).toBe(false);
  });

  test("fledge's flags before the path stay fledge's; one `--` before or after it is fledge's separator", () => {
    const takes = new Set(["--dir", "--env"]);
    const sep = { separatorAfter: true };
    expect(splitPassthrough(["--dir", "m.wasm", "x.wasm", "-a"], takes, sep)).toEqual({ head: ["--dir", "m.wasm", "x.wasm"], tail: ["-a"] });
    expect(splitPassthrough(["--dir=d", "--", "-odd.wasm", "--", "--"], takes, sep)).toEqual({ head: ["--dir=d", "--", "-odd.wasm"], tail: ["--"] });
    // Without separatorAfter (plugins run, like `fledge <command>`), the `--` is the plugin's.
    expect(splitPassthrough(["cmd", "--", "x"], takes)).toEqual({ head: ["cmd"], tail: ["--", "x"] });
    expect(splitPassthrough(["--no-cache"], takes)).toEqual({ head: ["--no-cache"], tail: [] });
    expect(parseRunArgs(["--", "-odd.wasm"], ["--", "x"])).toMatchObject({ file: "-odd.wasm", guestArgs: ["--", "x"] });
  });

  test("fuzz: 1,500 argument lists, in up to four forms each, reach the tail unchanged for both passthrough commands", async () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const guest = seed <= SHAPES.length ? [SHAPES[seed - 1]!, ...randomArgs(seed, 3)] : randomArgs(seed, 1 + (seed % 12));
      const wasmRun = ["wasm", "run", "--fuel", "none", "--dir=.", "m.wasm"];
      const forms = [
        // `wasm run`: one `--` after the path is fledge's separator, so with it the list is
        // taken whole; without it, a list starting with `--` would lose that token (documented).
        [...wasmRun, "--", ...guest],
        ...(guest[0] === "--" ? [] : [[...wasmRun, ...guest]]),
        // `plugins run`: nothing after the command is fledge's, as with `fledge <command>`.
        ["plugins", "run", "cmd", ...guest],
        ["plugins", "run", "--", "cmd", ...guest],
      ];
      for (const argv of forms) {
        const seen = { json: true };
        const r = await resolve(root, argv, seen);
        if ("unknown" in r) throw new Error(`seed ${seed}: resolved to a plugin`);
        if (JSON.stringify(r.tail) !== JSON.stringify(guest) || r.json || seen.json || r.help) {
          throw new Error(`seed ${seed}: ${JSON.stringify(argv)} gave tail ${JSON.stringify(r.tail)} json=${r.json}/${seen.json} help=${r.help}`);
        }
      }
    }
  });

  test("direct plugin dispatch hands every argument after the command over unparsed", async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const guest = randomArgs(seed, 1 + (seed % 8));
      const seen = { json: true };
      const r = await resolve(root, ["--non-interactive", "my-plugin-cmd", ...guest], seen);
      expect("unknown" in r && r.rest).toEqual(guest);
      expect(seen.json).toBe(false);
    }
  });
});

describe("every command, any argument shape: a usage error at worst, never citty's `_` clobbering", () => {
  test("fuzz: 200 lists per leaf command, resolved and parsed as runLeaf would", async () => {
    const leaves: string[][] = [];
    const walk = async (cmd: CommandDef<ArgsDef>, path: string[]): Promise<void> => {
      const subs = await subCommandsOf(cmd);
      if (Object.keys(subs).length === 0) leaves.push(path);
      for (const [name, sub] of Object.entries(subs)) await walk(sub, [...path, name]);
    };
    await walk(root as CommandDef<ArgsDef>, []);
    expect(leaves.length).toBeGreaterThan(10);
    for (const path of leaves) {
      for (let seed = 1; seed <= 200; seed++) {
        const argv = [...path, ...(seed % 3 === 0 ? ["--"] : []), ...randomArgs(seed * 7919 + path.length, 1 + (seed % 6))];
        let r;
        try {
          r = await resolve(root, argv);
        } catch (e) {
          if (isFledgeError(e)) continue; // a usage error naming the bad input
          throw new Error(`${JSON.stringify(argv)}: ${String(e)}`);
        }
        if ("unknown" in r) continue;
        const defs = (typeof r.cmd.args === "function" ? await r.cmd.args() : await r.cmd.args) ?? {};
        const parsed = parseArgs(r.args, defs as ArgsDef);
        if (!Array.isArray(parsed._)) throw new Error(`${JSON.stringify(argv)}: citty's positionals became ${JSON.stringify(parsed._)}`);
      }
    }
  });
});

describe("end to end: the guest sees exactly what was typed", () => {
  let tmp: ReturnType<typeof tempDir>;
  let echo: string;
  let home: Home;
  beforeAll(async () => {
    tmp = tempDir("fledge-passthrough-");
    echo = join(tmp.path, "argv_echo.wasm");
    copyFileSync(ECHO_SRC, echo);
    home = makeHome("fledge-passthrough-home-");
    await addPlugin(home, { name: "compat", runtime: "wasm", protocol: "fledge-v1", commands: { "compat-basic": compat("compat-basic") } });
    // A legacy native plugin gets its arguments as argv: print them NUL-terminated.
    await addPlugin(home, { name: "argv-native", runtime: "native", commands: { "argv-native": { script: "#!/bin/sh\nprintf '%s\\0' \"$@\"\n" } } });
  });
  afterAll(() => {
    tmp.cleanup();
    home.cleanup();
  });

  const env = () => ({ FLEDGE_CONFIG_DIR: join(tmp.path, "cfg"), HOME: tmp.path });
  const argvOf = (stdout: string) => stdout.split("\0").slice(0, -1);

  test("fledge wasm run m.wasm -D_WASI_X --_ -x_y --json -- a: all of it is the guest's argv", () => {
    const r = runFledge(["wasm", "run", echo, "-D_WASI_X", "--_", "-x_y", "--json", "--", "a"], { env: env() });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(argvOf(r.stdout)).toEqual(["argv_echo.wasm", "-D_WASI_X", "--_", "-x_y", "--json", "--", "a"]);
  });

  test("fuzz: random dash/underscore/equals/unicode lists through `fledge wasm run`", () => {
    for (let seed = 7001; seed <= 7006; seed++) {
      const guest = [...SHAPES, ...randomArgs(seed, 40)];
      const r = runFledge(["wasm", "run", "--fuel", "none", echo, ...(seed % 2 ? ["--"] : []), ...guest], { env: env() });
      if (r.code !== 0) throw new Error(`seed ${seed}: exit ${r.code}: ${r.stderr}`);
      expect(argvOf(r.stdout)).toEqual(["argv_echo.wasm", ...guest]);
    }
  });

  test("a `--json` among a guest's arguments does not make fledge's own errors JSON", () => {
    const r = runFledge(["wasm", "run", join(tmp.path, "missing.wasm"), "--json"], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("cannot read module");
    const p = home.fledge(["plugins", "run", "no-such-command", "--json", "-x_y"]);
    expect(p.stdout).toBe("");
    expect(p.stderr).toContain("no-such-command");
    expect(p.stderr).not.toContain("internal error");
  });

  /** compat-basic's own flags would change its run; keep them out of its argument lists. */
  const notCompatFlag = (a: string) => !/^--(init|sandbox|exit=|proc-exit=|return|trap|spin|grow)/.test(a);
  const initArgs = (stdout: string): unknown => {
    const line = stdout.split("\n").find((l) => l.startsWith('{"type":"init"'));
    return line ? (JSON.parse(line) as { args: unknown }).args : `no init line in ${JSON.stringify(stdout.slice(0, 500))}`;
  };

  test("wasm plugin: `fledge plugins run <cmd> ...` and `fledge <cmd> ...` deliver the list unchanged in init", () => {
    for (let seed = 8001; seed <= 8003; seed++) {
      const guest = ["--init", ...[...SHAPES, ...randomArgs(seed, 30, true)].filter(notCompatFlag)];
      const viaRun = home.fledge(["plugins", "run", "compat-basic", ...guest]);
      expect(viaRun.stderr).not.toContain("internal error");
      expect(initArgs(viaRun.stdout)).toEqual(guest);
      const direct = home.fledge(["compat-basic", ...guest]);
      expect(initArgs(direct.stdout)).toEqual(guest);
    }
  });

  test("native plugin: argv verbatim through both entry points", () => {
    for (let seed = 9001; seed <= 9003; seed++) {
      const guest = [...SHAPES, ...randomArgs(seed, 40)];
      const viaRun = home.fledge(["plugins", "run", "argv-native", ...guest]);
      expect(viaRun.code).toBe(0);
      expect(argvOf(viaRun.stdout)).toEqual(guest);
      const direct = home.fledge(["argv-native", ...guest]);
      expect(argvOf(direct.stdout)).toEqual(guest);
    }
  });
});
