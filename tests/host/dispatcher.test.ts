import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { dispatchMessage, dispatchMessageSync, type HostContext } from "../../src/host/dispatcher.ts";
import { parseMessage, type PluginMessage } from "../../src/host/messages.ts";
import { NO_CAPABILITIES, type Capabilities } from "../../src/manifest/types.ts";
import { tempDir } from "../helpers/cli.ts";
import { captureConsole, type Captured } from "./capture.ts";

let dir: { path: string; cleanup: () => void };
let base: string;
beforeAll(() => {
  dir = tempDir("fledge-dispatch-");
  base = realpathSync(dir.path);
  mkdirSync(join(base, "project"));
  mkdirSync(join(base, "plugin"));
});
afterAll(() => dir.cleanup());

const ALL: Capabilities = { exec: true, store: true, metadata: true, filesystem: "none", network: false };

function context(capabilities: Capabilities): { ctx: HostContext; io: Captured } {
  const { io, con } = captureConsole("demo");
  const ctx: HostContext = {
    plugin: { name: "demo", dir: join(base, "plugin") },
    stateFile: join(base, "plugin", "state.json"),
    projectRoot: join(base, "project"),
    capabilities,
    console: con,
    env: { LANG: "C", API_TOKEN: "x" },
  };
  return { ctx, io };
}

function msg(json: object): PluginMessage {
  const r = parseMessage(JSON.stringify(json));
  if (!r.ok) throw new Error(r.problem);
  return r.message;
}

describe("not-granted answers (each request gets its documented empty reply)", () => {
  test("exec → 126, store dropped, load → null, metadata → {}; each warned on stderr", async () => {
    const { ctx, io } = context(NO_CAPABILITIES);
    expect(await dispatchMessage(msg({ type: "exec", id: "e", command: "touch pwned" }), ctx)).toEqual({
      id: "e",
      value: { code: 126, stdout: "", stderr: "exec capability not granted" },
    });
    expect(existsSync(join(base, "project", "pwned"))).toBe(false);
    expect(await dispatchMessage(msg({ type: "store", key: "k", value: "v" }), ctx)).toBeUndefined();
    expect(existsSync(ctx.stateFile)).toBe(false);
    expect(await dispatchMessage(msg({ type: "load", id: "l", key: "k" }), ctx)).toEqual({ id: "l", value: null });
    expect(await dispatchMessage(msg({ type: "metadata", id: "m", keys: ["env"] }), ctx)).toEqual({ id: "m", value: {} });
    const err = io.err.join("");
    expect(err).toContain("[demo] exec blocked — capability not granted");
    expect(err).toContain("[demo] store blocked");
    expect(err).toContain("[demo] load blocked");
    expect(err).toContain("[demo] metadata blocked");
    expect(io.out).toEqual([]);
  });

  test("the sync front end gives identical answers", () => {
    const { ctx } = context(NO_CAPABILITIES);
    expect(dispatchMessageSync(msg({ type: "exec", id: 1, command: "true" }), ctx)?.value).toEqual({ code: 126, stdout: "", stderr: "exec capability not granted" });
    expect(dispatchMessageSync(msg({ type: "metadata", id: 2, keys: ["env"] }), ctx)?.value).toEqual({});
  });
});

describe("granted", () => {
  test("store then load; limit errors are warnings, the run goes on", async () => {
    const { ctx, io } = context(ALL);
    await dispatchMessage(msg({ type: "store", key: "k", value: { n: 1 } }), ctx);
    expect(await dispatchMessage(msg({ type: "load", id: "l", key: "k" }), ctx)).toEqual({ id: "l", value: { n: 1 } });
    expect(await dispatchMessage(msg({ type: "store", key: "bad\nkey", value: 1 }), ctx)).toBeUndefined();
    expect(io.err.join("")).toContain("[demo] store rejected: store key contains control characters");
  });

  test("exec and metadata (filtered env)", async () => {
    const { ctx } = context(ALL);
    expect(await dispatchMessage(msg({ type: "exec", id: 1, command: "pwd" }), ctx)).toEqual({
      id: 1,
      value: { code: 0, stdout: `${join(base, "project")}\n`, stderr: "" },
    });
    expect(dispatchMessageSync(msg({ type: "exec", id: 2, command: "echo s" }), ctx)?.value).toEqual({ code: 0, stdout: "s\n", stderr: "" });
    expect(await dispatchMessage(msg({ type: "metadata", id: 3, keys: ["env"] }), ctx)).toEqual({ id: 3, value: { env: { LANG: "C" } } });
  });

  test("output is sanitized on stdout; logs and progress go to stderr with the plugin name", async () => {
    const { ctx, io } = context(NO_CAPABILITIES);
    await dispatchMessage(msg({ type: "output", text: "a\u001b]52;c;eA==\u0007b\u001b[1mc" }), ctx);
    await dispatchMessage(msg({ type: "output", text: "split\u001b]0;ti" }), ctx);
    await dispatchMessage(msg({ type: "output", text: "tle\u0007end\n" }), ctx);
    await dispatchMessage(msg({ type: "log", level: "error", message: "bad\nworse" }), ctx);
    await dispatchMessage(msg({ type: "progress", message: "half", current: 1, total: 2 }), ctx);
    expect(io.out.join("")).toBe("a\\x1b]52;c;eA==\\x07b\u001b[1mcsplit\\x1b]0;title\\x07end\n");
    expect(io.err.join("")).toBe("  ERROR [demo] bad\n  ERROR [demo] worse\n  ▶ half (demo) [##########----------] 1/2\n");
  });

  test("prompts without a TTY use defaults (both front ends)", async () => {
    const { ctx } = context(NO_CAPABILITIES);
    expect(await dispatchMessage(msg({ type: "confirm", id: "c", message: "ok?", default: true }), ctx)).toEqual({ id: "c", value: true });
    expect(dispatchMessageSync(msg({ type: "select", id: "s", message: "m", options: ["a", "b"], default: 1 }), ctx)).toEqual({ id: "s", value: "b" });
  });
});

describe("console", () => {
  test("progress without a TTY prints one line per new message; with a TTY it redraws and clears", async () => {
    const { ctx, io } = context(NO_CAPABILITIES);
    for (let i = 1; i <= 50; i++) await dispatchMessage(msg({ type: "progress", message: "copying", current: i, total: 50 }), ctx);
    await dispatchMessage(msg({ type: "progress", message: "done soon" }), ctx);
    expect(io.err.length).toBe(2);
    expect(io.err[1]).toBe("  ▶ done soon (demo)\n");

    const { io: tty, con } = captureConsole("demo", true);
    con.progress({ message: "x", current: 1, total: 4 });
    con.output("hi\n");
    expect(tty.err).toEqual(["\r\u001b[2K  ▶ x (demo) [#####---------------] 1/4", "\r\u001b[2K"]);
    expect(tty.out).toEqual(["hi\n"]);
  });

  test("escapes in the plugin name and log level cannot reach the terminal", () => {
    const { io, con } = captureConsole("ev\u001b]0;t\u0007il\u001b[31m");
    con.log("\u001b[2Jwarn", "m");
    expect(io.err.join("")).toBe("  \\x1b[2Jwarn [ev\\x1b]0;t\\x07il\\x1b[31m] m\n");
  });
});
