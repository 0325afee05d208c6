/**
 * The consent prompt on a real pseudo-terminal (`script` gives fledge a pty for stdin
 * and stderr). It fails closed: only `y` + Enter grants; Enter alone, `n`, Esc,
 * Ctrl+D and a closed terminal are No (exit 1, nothing installed); Ctrl+C is No and
 * exit 130. With --json and stdout redirected to a file, the question is drawn on the
 * terminal (stderr) and the file holds exactly one JSON document.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { confirmOutcome, feedKeys, type KeyState } from "../../src/ui/index.ts";
import { MAIN, shellQuote as sh } from "../helpers/cli.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { HELLO_NATIVE, baseEnv, pluginsState, readReg, runFledgeAsync, sandbox, wasmPlugin } from "./helpers.ts";

setDefaultTimeout(60_000);
let sb: ReturnType<typeof sandbox>;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => sb.cleanup());

/**
 * Run `fledge <args>` on a pty; wait until the question `[y/N]` is on screen, then
 * type `keys` (or close the input when keys is null). Returns the exit code, the
 * screen (the pty shows stderr, and stdout unless redirected) and the stdout file.
 */
async function onTerminal(args: string[], keys: string | null, opts: { stdoutFile?: boolean; env?: Record<string, string>; typeahead?: string } = {}): Promise<{ code: number; screen: string; stdout: string }> {
  const out = join(sb.root, "stdout.txt");
  const cmd = `${[process.execPath, MAIN, ...args].map(sh).join(" ")}${opts.stdoutFile ? ` > ${sh(out)}` : ""}; echo "EXIT=$?"`;
  // Typeahead: keys typed at once, long before the question is drawn (fledge is still starting).
  const { screen } = await answerOnPty(cmd, { env: baseEnv({ ...sb.env, ...opts.env }), cwd: sb.root, typeahead: opts.typeahead, answer: keys });
  const m = /EXIT=(\d+)/.exec(screen);
  return { code: m ? Number(m[1]) : -1, screen, stdout: opts.stdoutFile && existsSync(out) ? readFileSync(out, "utf8") : "" };
}

function nothingInstalled(): void {
  expect(readReg(sb.config).plugins).toEqual([]);
  expect(pluginsState(sb.config).filter((p) => p !== "bin")).toEqual([]);
}

describe("feedKeys (the key rules without a terminal)", () => {
  const run = (...chunks: string[]): string | undefined => {
    const st: KeyState = { line: "" };
    for (const c of chunks) {
      const r = feedKeys(st, c);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  test.each([
    ["y\r", "yes"], ["Y\r", "yes"], ["yes\r", "yes"], ["YES\n", "yes"],
    ["\r", "no"], ["n\r", "no"], ["no\r", "no"], ["yy\r", "no"], ["ye\r", "no"], ["x\r", "no"],
    ["\u001b", "no"], ["y\u001b", "no"], ["\u0004", "no"], ["y\u0004", "no"],
    ["\u0003", "interrupted"], ["y\u0003", "interrupted"],
    ["n\u007fy\r", "yes"], ["y\u007f\r", "no"],
  ])("%j → %s", (keys, expected) => expect(run(keys)).toBe(expected));
  test("arrow keys are ignored, not taken as Esc", () => expect(run("\u001b[A", "y\r")).toBe("yes"));
  test("typed escape sequences are never echoed", () => {
    const echoed: string[] = [];
    feedKeys({ line: "" }, "\u0007\u009b2J", (t) => echoed.push(t));
    expect(echoed.join("")).not.toMatch(/[\u0000-\u001f\u009b]/);
  });
});

describe("confirmOutcome on a stream that ends or fails", () => {
  test("end of input is No", async () => {
    const { PassThrough } = await import("node:stream");
    const input = new PassThrough() as unknown as NodeJS.ReadStream;
    const output = new PassThrough() as unknown as NodeJS.WriteStream;
    const p = confirmOutcome("ok?", { input, output });
    (input as unknown as import("node:stream").PassThrough).end();
    expect(await p).toBe("no");
  });
  test("a stream error is No", async () => {
    const { PassThrough } = await import("node:stream");
    const input = new PassThrough();
    const p = confirmOutcome("ok?", { input: input as unknown as NodeJS.ReadStream, output: new PassThrough() as unknown as NodeJS.WriteStream });
    input.destroy(new Error("boom"));
    expect(await p).toBe("no");
  });
});

describe.skipIf(!SCRIPT)("install consent on a real terminal", () => {
  const plugin = (): string => wasmPlugin(join(sb.root, "p"), { name: "asks", caps: { store: true }, hooks: { post_install: "true" } });

  const declines: [string, string | null][] = [
    ["Enter alone (default No)", "\r"],
    ["n", "n\r"],
    ["Esc", "\u001b"],
    ["Ctrl+D", "\u0004"],
    ["end of input (terminal closed)", null],
  ];
  for (const [label, keys] of declines) {
    test(`${label} declines: exit 1, nothing installed`, async () => {
      const r = await onTerminal(["plugins", "install", plugin()], keys);
      expect(r.screen).toContain("Grant these capabilities and approve these hooks? [y/N]");
      expect(r.code).toBe(1);
      nothingInstalled();
    });
  }

  test("Ctrl+C: exit 130, nothing installed, no staging left", async () => {
    const r = await onTerminal(["plugins", "install", plugin()], "\u0003");
    expect(r.code).toBe(130);
    expect(r.screen).toContain("interrupted");
    nothingInstalled();
  });

  test("y + Enter installs and records the grant", async () => {
    const r = await onTerminal(["plugins", "install", plugin()], "y\r");
    expect(r.code).toBe(0);
    const [entry] = readReg(sb.config).plugins;
    expect(entry?.name).toBe("asks");
    expect(entry?.capabilities.store).toBe(true);
  });

  test("--json: the question goes to the terminal, stdout is one JSON document (yes and no)", async () => {
    const yes = await onTerminal(["plugins", "install", plugin(), "--json"], "y\r", { stdoutFile: true });
    expect(yes.code).toBe(0);
    expect(yes.screen).toContain("[y/N]");
    expect(JSON.parse(yes.stdout).installed[0].name).toBe("asks");
    expect(yes.stdout).not.toContain("[y/N]");
    await onTerminal(["plugins", "remove", "asks"], null);
    const no = await onTerminal(["plugins", "install", plugin(), "--json"], "\u001b", { stdoutFile: true });
    expect(no.code).toBe(1);
    expect(JSON.parse(no.stdout).error.code).toBe("consent_declined");
    const intr = await onTerminal(["plugins", "install", plugin(), "--json"], "\u0003", { stdoutFile: true });
    expect(intr.code).toBe(130);
    expect(JSON.parse(intr.stdout).error.code).toBe("interrupted");
    nothingInstalled();
  });

  test("native question: Esc and Enter decline, y installs", async () => {
    for (const keys of ["\u001b", "\r"]) {
      const r = await onTerminal(["plugins", "install", HELLO_NATIVE], keys);
      expect(r.screen).toContain("Install it anyway? [y/N]");
      expect(r.code).toBe(1);
      nothingInstalled();
    }
    const r = await onTerminal(["plugins", "install", HELLO_NATIVE], "y\r");
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["hello-native"]);
  });

  // Typeahead (keys typed while fledge was still starting or downloading) is discarded
  // when the question appears: only a key typed after it answers it.
  for (const early of ["y\r", "yes\r", "y\ry\ry\r"]) {
    test(`typeahead ${JSON.stringify(early)} is not an answer (native and capability questions): No`, async () => {
      const native = await onTerminal(["plugins", "install", HELLO_NATIVE], "\r", { typeahead: early });
      expect(native.screen).toContain("Install it anyway? [y/N]");
      expect(native.code).toBe(1);
      nothingInstalled();
      const caps = await onTerminal(["plugins", "install", plugin()], "\r", { typeahead: early });
      expect(caps.screen).toContain("[y/N]");
      expect(caps.code).toBe(1);
      nothingInstalled();
    });
  }

  test("typeahead 'n' does not stop a real yes typed after the question", async () => {
    const r = await onTerminal(["plugins", "install", plugin()], "y\r", { typeahead: "n\r" });
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins.map((p) => p.name)).toEqual(["asks"]);
  });

  test("without a terminal, no question: the refusal names the flag to pass", async () => {
    const proc = Bun.spawn([process.execPath, MAIN, "plugins", "install", plugin(), "--json"], { env: baseEnv(sb.env), cwd: sb.root, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(stderr).not.toContain("[y/N]");
    const env = JSON.parse(stdout);
    expect(env.error.code).toBe("consent_required");
    expect(env.error.hint).toContain("--yes");
    nothingInstalled();
  });
});

describe.skipIf(!SCRIPT)("update consent on a real terminal (the same prompt)", () => {
  let gh: GithubServer;
  let n = 0;
  beforeAll(async () => {
    gh = await startGithubServer();
  });
  afterAll(() => gh.stop());
  const ghEnv = (): Record<string, string> => ({ FLEDGE_GITHUB_API_URL: gh.url });

  /** v1 asks for nothing (installed without a question); v2 adds `store`, so update must ask. */
  async function escalating(): Promise<string> {
    const name = `upd${++n}`;
    gh.addRepo(`acme/${name}`, { dir: wasmPlugin(join(sb.root, `${name}-1`), { name, version: "1.0.0" }) });
    const r = await runFledgeAsync(["plugins", "install", `acme/${name}`], { env: { ...sb.env, ...ghEnv() } });
    expect(r.code).toBe(0);
    gh.addCommit(`acme/${name}`, { dir: wasmPlugin(join(sb.root, `${name}-2`), { name, version: "2.0.0", caps: { store: true } }) });
    return name;
  }

  for (const [label, keys] of [["Esc", "\u001b"], ["Enter", "\r"], ["n", "n\r"], ["Ctrl+D", "\u0004"]] as const) {
    test(`${label} declines the update: the old version and its grant stay`, async () => {
      const name = await escalating();
      const before = readFileSync(join(sb.config, "plugins.toml"), "utf8");
      const r = await onTerminal(["plugins", "update", name, "--json"], keys, { stdoutFile: true, env: ghEnv() });
      expect(r.screen).toContain("Grant the new capabilities and approve the changed hooks? [y/N]");
      expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "skipped", error_code: "consent_declined" });
      expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
    });
  }

  test("Ctrl+C stops the update: exit 130, the old version stays, stdout is JSON", async () => {
    const name = await escalating();
    const before = readFileSync(join(sb.config, "plugins.toml"), "utf8");
    const r = await onTerminal(["plugins", "update", name, "--json"], "\u0003", { stdoutFile: true, env: ghEnv() });
    expect(r.code).toBe(130);
    expect(JSON.parse(r.stdout).error.code).toBe("interrupted");
    expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
    expect(pluginsState(sb.config).some((p) => p.startsWith(".staging-"))).toBe(false);
  });

  test("typeahead y + Enter is not an answer to the update question: declined, old version stays", async () => {
    const name = await escalating();
    const before = readFileSync(join(sb.config, "plugins.toml"), "utf8");
    const r = await onTerminal(["plugins", "update", name, "--json"], "\r", { stdoutFile: true, env: ghEnv(), typeahead: "y\r" });
    expect(r.screen).toContain("[y/N]");
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ status: "skipped", error_code: "consent_declined" });
    expect(readFileSync(join(sb.config, "plugins.toml"), "utf8")).toBe(before);
  });

  test("y updates and records the new grant", async () => {
    const name = await escalating();
    const r = await onTerminal(["plugins", "update", name], "y\r", { env: ghEnv() });
    expect(r.code).toBe(0);
    expect(readReg(sb.config).plugins[0]).toMatchObject({ version: "2.0.0", capabilities: { store: true } });
  });
});
