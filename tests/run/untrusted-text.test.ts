/**
 * Untrusted text reaches the terminal only escaped (issues 10.6 and 11.2). Each source
 * an attacker controls is driven with every attack sequence, through the real CLI,
 * non-interactively and on a real pseudo-terminal (`script`), and where tmux exists,
 * through a real terminal emulator whose screen and title are then inspected:
 * - a guest printing OSC/DCS/C1/CSI queries/mode switches/bidi/\r forgeries (WAT);
 * - a module whose own import names carry escapes (link errors);
 * - a manifest with escapes in every string field (validate, install, consent);
 * - a GitHub tarball with hostile entry names and symlink targets;
 * - a GitHub server whose repository names and descriptions carry escapes.
 * The oracle: no raw control, C1, bidi or invisible character, and no ESC that does not
 * start an allowlisted SGR (or, on a plugin's own stdout, a same-line move).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, ROOT } from "../helpers/cli.ts";
import { answerOnPty, SCRIPT } from "../helpers/pty.ts";
import { gzip, makeTar, startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { baseEnv, runFledgeAsync, WASM_BYTES } from "../install/helpers.ts";
import { addPlugin, makeHome, type Home } from "./helpers.ts";

setDefaultTimeout(60_000);
const TMUX = Bun.which("tmux");
const HOSTILE = join(ROOT, "tests", "fixtures", "wat", "hostile-text");
const PRINTER = join(HOSTILE, "printer.wasm");

const ESC = "\u001b";
/** One string with every attack: title, clipboard, DCS, C1, reply-provoking queries, modes, \r forgery, bidi, zero-width. */
const ATTACK = `${ESC}]0;PWNED-TITLE\u0007${ESC}]52;c;cHduZWQ=\u0007${ESC}P+q544e${ESC}\\\u009d0;C1\u009c${ESC}[>0q${ESC}[6n${ESC}[?1049h${ESC}[2J\r${ESC}[2K\u202eevil\u200b\u0008\u007f`;

/** Characters that must never reach the terminal raw, and ESCs that do not start an allowed sequence. */
function offenders(text: string, opts: { stream?: boolean } = {}): string[] {
  const bad: string[] = [];
  const allowed = opts.stream ? /^\u001b\[(?:[0-9;:]*m|\d{0,3}[CDG]|[012]?K)/ : /^\u001b\[[0-9;:]*m/;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const cp = ch.codePointAt(0)!;
    if (ch === ESC) {
      if (!allowed.test(text.slice(i))) bad.push(JSON.stringify(text.slice(i, i + 16)));
      continue;
    }
    if (ch === "\n" || ch === "\t") continue;
    // A pty turns \n into \r\n; a plugin's own stdout may use \r and \b (same-line redraws).
    if (ch === "\r" && (text[i + 1] === "\n" || opts.stream)) continue;
    if (ch === "\b" && opts.stream) continue;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x200b || cp === 0xfeff) {
      bad.push(JSON.stringify(text.slice(Math.max(0, i - 8), i + 8)));
    }
  }
  return bad;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run fledge on a pseudo-terminal; stdout and stderr both land in the pty output. */
/** `answer` is typed once a consent question (`[y/N]`) is on screen: earlier keys are discarded as typeahead. */
async function onPty(args: string[], env: Record<string, string>, cwd: string, input = "", answer?: string): Promise<{ code: number; output: string }> {
  const cmd = [process.execPath, MAIN, ...args].map(shq).join(" ");
  const r = await answerOnPty(cmd, { env: baseEnv({ ...env, NO_COLOR: undefined, TERM: "xterm-256color" }), cwd, typeahead: input, answer });
  return { code: r.code, output: r.screen };
}

let home: Home;
beforeAll(async () => {
  home = makeHome("fledge-untrusted-");
  await addPlugin(home, { name: "printer", runtime: "wasm", protocol: "fledge-v1", commands: { printer: { file: PRINTER } } });
  await addPlugin(home, { name: "importer", runtime: "wasm", protocol: "fledge-v1", commands: { importer: { file: join(HOSTILE, "fledge-import.wasm") } } });
});
afterAll(() => home.cleanup());

describe("a hostile guest's output", () => {
  test("plugin run, not a terminal: colours pass, every attack is visible text, each stderr line keeps its prefix", () => {
    const r = home.fledge(["printer"]);
    expect(r.code).toBe(0);
    expect(offenders(r.stdout, { stream: true })).toEqual([]);
    expect(offenders(r.stderr)).toEqual([]);
    expect(r.stdout).toContain(`colour: ${ESC}[31mRED-OK${ESC}[0m`);
    expect(r.stdout).toContain("title:\\x1b]0;PWNED-TITLE\\x07");
    expect(r.stdout).toContain("xtversion:\\x1b[>0q|kitty:\\x1b[?u|decrqpsr:\\x1b[2$w|decrqm:\\x1b[?2026$p|dsr:\\x1b[6n");
    expect(r.stdout).toContain("repeat:x\\x1b[1000000000b");
    expect(r.stdout).toContain("bidi:\\u202eevil\\u202c|zw:a\\u200bb");
    // stderr: the forged fledge line is shown as the guest wrote it, after the real prefix.
    expect(r.stderr).toContain("  [printer] FAKE\\r\\x1b[2K  ERROR [fledge] forged line\n");
    expect(r.stderr).toContain("  [printer] up\\x1b[1A\\x1b[2Kdown\n");
    for (const line of r.stderr.split("\n").filter(Boolean)) expect(line.startsWith("  [printer] ")).toBe(true);
  });

  test.skipIf(!SCRIPT)("plugin run on a pseudo-terminal: the same", async () => {
    const r = await onPty(["printer"], home.env, home.project);
    expect(r.code).toBe(0);
    expect(offenders(r.output, { stream: true })).toEqual([]);
    expect(r.output).toContain(`${ESC}[31mRED-OK${ESC}[0m`);
    expect(r.output).toContain("  [printer] FAKE\\r\\x1b[2K  ERROR [fledge] forged line");
  });

  test.skipIf(!SCRIPT)("fledge wasm run on a terminal sanitizes; piped, the program's bytes are its data", async () => {
    const tty = await onPty(["wasm", "run", PRINTER], home.env, home.project);
    expect(tty.code).toBe(0);
    expect(offenders(tty.output, { stream: true })).toEqual([]);
    expect(tty.output).toContain("title:\\x1b]0;PWNED-TITLE\\x07");
    const piped = home.fledge(["wasm", "run", PRINTER]);
    expect(piped.stdout).toContain(`title:${ESC}]0;PWNED-TITLE\u0007`);
  });
});

describe("a module's own import names", () => {
  test("a link error shows them escaped: plain, --json and on a terminal", async () => {
    const mod = join(HOSTILE, "import-name.wasm");
    const r = home.fledge(["wasm", "run", mod]);
    expect(r.code).not.toBe(0);
    expect(offenders(r.stdout + r.stderr)).toEqual([]);
    expect(r.stderr).toContain("fd_write\\x1b]0;PWNED-IMPORT\\x07\\x1b]52;c;cHduZWQ=\\x07\\r\\x1b[2K\\u202e");
    if (SCRIPT) {
      const t = await onPty(["wasm", "run", mod], home.env, home.project);
      expect(offenders(t.output)).toEqual([]);
      expect(t.output).toContain("PWNED-IMPORT");
    }
  });

  test("an unknown fledge import in a plugin is named escaped", () => {
    const r = home.fledge(["importer"]);
    expect(r.code).not.toBe(0);
    expect(offenders(r.stdout + r.stderr)).toEqual([]);
    expect(r.stderr).toContain("send\\x1b]0;PWNED-FLEDGE\\x07\\r\\x1b[2K");
    const j = home.fledge(["importer", "--json"]);
    expect(offenders(j.stdout + j.stderr)).toEqual([]);
  });
});

/** A plugin.toml with `value` in one field (TOML escapes, so the file itself is valid TOML). */
function manifest(field: string, value: string): string {
  const v = (s: string): string => JSON.stringify(s).replace(/\u007f/g, "\\u007f").replace(/[\u0080-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const f = (name: string, dflt: string): string => v(field === name ? value : dflt);
  return [
    "[plugin]",
    `name = ${f("name", "hostile")}`,
    `version = ${f("version", "1.0.0")}`,
    `description = ${f("description", "d")}`,
    `author = ${f("author", "a")}`,
    'protocol = "fledge-v1"',
    'runtime = "wasm"',
    "",
    "[[commands]]",
    `name = ${f("command", "hostile")}`,
    `binary = ${f("binary", "hello.wasm")}`,
    "",
    "[hooks]",
    `post_install = ${f("hook", "true")}`,
    "",
    "[capabilities]",
    `filesystem = ${f("filesystem", "none")}`,
    "",
  ].join("\n");
}

const FIELDS = ["name", "version", "description", "author", "command", "binary", "hook", "filesystem"];

describe("a hostile manifest: every string field", () => {
  let dir: string;
  beforeAll(() => {
    dir = join(home.root, "manifests");
  });

  for (const field of FIELDS) {
    test(`${field}: validate, install (plain and --json): nothing raw`, async () => {
      const p = join(dir, field);
      mkdirSync(p, { recursive: true });
      writeFileSync(join(p, "plugin.toml"), manifest(field, `x${ATTACK}y`));
      writeFileSync(join(p, "hello.wasm"), WASM_BYTES);
      for (const args of [["plugins", "validate", p], ["plugins", "validate", p, "--json"], ["plugins", "install", p], ["plugins", "install", p, "--json"]]) {
        const r = await runFledgeAsync(args, { env: home.env, cwd: home.project });
        expect(offenders(r.stdout + r.stderr), `${field} ${args.join(" ")}`).toEqual([]);
        if (args.includes("--json")) expect(() => JSON.parse(r.stdout)).not.toThrow();
      }
    });
  }

  const HOOK = `sh -c "touch x" ${ESC}[2K\r    - post_install: cargo build --release`;
  const HOOK_SHOWN = 'sh -c "touch x" \\x1b[2K\\r - post_install: cargo build --release';
  // The consent text is wrapped to the terminal's width at spaces: compare with spaces and
  // line breaks folded (only those: a lone \r or any other control stays for offenders()).
  const fold = (t: string): string => t.replace(/\r\n/g, "\n").replace(/[ \n]+/g, " ");

  test("the consent text shows all of a hook command (non-interactive)", async () => {
    const p = join(dir, "consent");
    mkdirSync(p, { recursive: true });
    writeFileSync(join(p, "plugin.toml"), manifest("hook", HOOK));
    writeFileSync(join(p, "hello.wasm"), WASM_BYTES);
    const r = await runFledgeAsync(["plugins", "install", p], { env: home.env, cwd: home.project });
    expect(r.code).not.toBe(0);
    expect(fold(r.stderr)).toContain(`post_install: ${HOOK_SHOWN}`);
    expect(offenders(r.stdout + r.stderr)).toEqual([]);
  });

  test.skipIf(!SCRIPT)("the consent prompt on a terminal shows all of a hook command", async () => {
    const p = join(dir, "consent");
    const r = await onPty(["plugins", "install", p], home.env, home.project, "", "n\r");
    const output = fold(r.output);
    expect(output).toContain(`post_install: ${HOOK_SHOWN}`);
    // The prompt widget draws with its own (trusted) cursor moves; the consent text it follows has none.
    const consent = output.slice(output.indexOf("Installing"), output.indexOf(HOOK_SHOWN) + HOOK_SHOWN.length);
    expect(offenders(consent)).toEqual([]);
    expect(r.output).not.toContain(HOOK);
    expect(existsSync(join(home.project, "x"))).toBe(false);
  });
});

describe("a hostile GitHub: archive entries, symlink targets, repository text", () => {
  let gh: GithubServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    gh = await startGithubServer();
    env = { ...home.env, FLEDGE_GITHUB_API_URL: gh.url };
    const top = "acme-evil-0000000";
    const base = [
      { name: `${top}/`, type: "5" },
      { name: `${top}/plugin.toml`, data: manifest("none", "") },
      { name: `${top}/hello.wasm`, data: WASM_BYTES },
    ];
    gh.addRepo("acme/dotdot", { tarball: gzip(makeTar([...base, { name: `${top}/${ESC}]0;PWNED-ENTRY\u0007\r/../../x`, data: "x" }])) });
    gh.addRepo("acme/symlink", { tarball: gzip(makeTar([...base, { name: `${top}/link`, type: "2", linkname: `/${ESC}]52;c;cHduZWQ=\u0007\u202e` }])) });
    gh.addRepo("acme/device", { tarball: gzip(makeTar([...base, { name: `${top}/dev${ESC}[2J\u009b6n`, type: "3" }])) });
    gh.addRepo(`acme/search-me`, { dir: join(ROOT, "tests", "fixtures", "plugins", "hello-wasm"), description: `fledge plugin ${ATTACK}`, topics: ["fledge-plugin"] });
  });
  afterAll(() => gh.stop());

  for (const repo of ["dotdot", "symlink", "device"]) {
    test(`a refused archive (${repo}) names the entry escaped`, async () => {
      for (const extra of [[], ["--json"]]) {
        const r = await runFledgeAsync(["plugins", "install", `acme/${repo}`, "--yes", ...extra], { env, cwd: home.project });
        expect(r.code).not.toBe(0);
        expect(offenders(r.stdout + r.stderr), `${repo} ${extra}`).toEqual([]);
        expect(r.stdout + r.stderr).toMatch(/\\x1b|\\u001b/);
      }
    });
  }

  test("search results with escapes in names and descriptions", async () => {
    for (const extra of [[], ["--json"]]) {
      const r = await runFledgeAsync(["plugins", "search", "fledge", ...extra], { env, cwd: home.project });
      expect(offenders(r.stdout + r.stderr)).toEqual([]);
      if (extra.length === 0) expect(r.stdout).toContain("\\x1b]0;PWNED-TITLE");
    }
  });
});

/** tmux as the oracle: a real terminal emulator's screen and title after the output. */
describe.skipIf(!TMUX)("differential: a real terminal (tmux)", () => {
  test("the screen shows the escapes as text, prefixes intact, no title change, no clipboard write", async () => {
    const sock = `fledge-untrusted-${process.pid}`;
    const tmux = (...args: string[]): string => {
      const p = Bun.spawnSync([TMUX!, "-L", sock, "-f", "/dev/null", ...args], { env: baseEnv({ TERM: "xterm-256color" }) });
      return p.stdout.toString();
    };
    const envs = Object.entries(home.env)
      .map(([k, v]) => `${k}=${shq(v)}`)
      .join(" ");
    const cmd = `env -u NO_COLOR ${envs} ${shq(process.execPath)} ${shq(MAIN)} printer; echo FLEDGE-DONE; sleep 60`;
    try {
      tmux("new-session", "-d", "-x", "250", "-y", "60", "-s", "t", "sh", "-c", `cd ${shq(home.project)} && ${cmd}`);
      tmux("set-option", "-g", "set-clipboard", "on");
      const before = tmux("display-message", "-p", "-t", "t", "#{pane_title}");
      let screen = "";
      for (let i = 0; i < 200 && !screen.includes("FLEDGE-DONE"); i++) {
        await Bun.sleep(100);
        screen = tmux("capture-pane", "-p", "-t", "t", "-J");
      }
      expect(screen).toContain("FLEDGE-DONE");
      expect(screen).toContain("title:\\x1b]0;PWNED-TITLE\\x07");
      expect(screen).toContain("  [printer] FAKE\\r\\x1b[2K  ERROR [fledge] forged line");
      expect(screen).toContain("  [printer] up\\x1b[1A\\x1b[2Kdown");
      expect(screen).toContain("colour: RED-OK");
      // Not switched to the alternate screen, not cleared: the first line is still there.
      expect(screen).toContain("osc52:\\x1b]52;c;");
      const after = tmux("display-message", "-p", "-t", "t", "#{pane_title}");
      expect(after).toBe(before);
      expect(after).not.toContain("PWNED");
      expect(tmux("list-buffers")).not.toContain("pwned");
    } finally {
      tmux("kill-server");
    }
  });
});
