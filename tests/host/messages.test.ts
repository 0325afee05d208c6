import { describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildInit, encodeLine, parseMessage, responseMessage } from "../../src/host/messages.ts";
import { detectLanguage, detectProject, stripUrlCredentials } from "../../src/host/project.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { tempDir } from "../helpers/cli.ts";

describe("parseMessage", () => {
  test("parses every plugin message type", () => {
    const lines = [
      '{"type":"output","text":"hi"}',
      '{"type":"log","level":"info","message":"m"}',
      '{"type":"progress","message":"x","current":1,"total":3}',
      '{"type":"progress","done":true}',
      '{"type":"prompt","id":"1","message":"Name?","default":"a","validate":"non_empty"}',
      '{"type":"confirm","id":"2","message":"ok?","default":true}',
      '{"type":"select","id":"3","message":"pick","options":["a","b"],"default":1}',
      '{"type":"multi_select","id":"4","message":"some","options":["a"],"defaults":[0]}',
      '{"type":"store","key":"k","value":"v"}',
      '{"type":"load","id":"5","key":"k"}',
      '{"type":"exec","id":"6","command":"ls","cwd":"sub","timeout":5}',
      '{"type":"metadata","id":7,"keys":["env"]}',
    ];
    for (const line of lines) {
      const r = parseMessage(line);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.message.type).toBe(JSON.parse(line).type);
    }
  });

  test("extra fields are tolerated", () => {
    expect(parseMessage('{"type":"output","text":"x","extra":1}').ok).toBe(true);
  });

  test("problems are reported, never thrown", () => {
    const cases: Array<[string, string]> = [
      ["not json", "malformed JSON"],
      ["[1]", "not a JSON object"],
      ["null", "not a JSON object"],
      ['{"text":"x"}', "no string `type`"],
      ['{"type":"teleport"}', 'unknown message type "teleport"'],
      ['{"type":"exec","command":"ls"}', "invalid exec message: id"],
      ['{"type":"store","key":"k"}', "invalid store message"],
      ['{"type":"select","id":"s","message":"m","options":"a"}', "invalid select message: options"],
      ['{"type":"progress","current":"1"}', "invalid progress message: current"],
    ];
    for (const [line, problem] of cases) {
      const r = parseMessage(line);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem).toContain(problem);
    }
  });
});

describe("host messages", () => {
  test("buildInit has the original's shape and the GRANTED capabilities", () => {
    const init = buildInit({
      args: ["a", "b"],
      project: null,
      plugin: { name: "p", version: "1.0.0", dir: "/plugins/p" },
      fledgeVersion: "0.1.0",
      capabilities: { ...NO_CAPABILITIES, exec: true },
    });
    expect(init).toEqual({
      type: "init",
      protocol: "fledge-v1",
      args: ["a", "b"],
      project: null,
      plugin: { name: "p", version: "1.0.0", dir: "/plugins/p" },
      fledge: { version: "0.1.0" },
      capabilities: { exec: true, store: false, metadata: false, filesystem: "none", network: false },
    });
    expect(Object.keys(init)).toEqual(["type", "protocol", "args", "project", "plugin", "fledge", "capabilities"]);
  });

  test("encodeLine is one line even for text with newlines and separators", () => {
    const line = encodeLine(responseMessage("1", "a\nb\u2028c"));
    expect(line.endsWith("\n")).toBe(true);
    expect(line.slice(0, -1).includes("\n")).toBe(false);
    expect(JSON.parse(line)).toEqual({ type: "response", id: "1", value: "a\nb\u2028c" });
  });
});

describe("project detection", () => {
  test("git root, branch, dirty, remote without credentials, language", () => {
    const dir = tempDir("fledge-proj-");
    try {
      const root = realpathSync(dir.path);
      const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: root });
      git("init", "-q", "-b", "trunk");
      git("remote", "add", "upstream", "https://user:ghp_secret@github.com/o/r.git");
      writeFileSync(join(root, "Cargo.toml"), "");
      mkdirSync(join(root, "deep", "er"), { recursive: true });
      // No commits yet: HEAD has no branch to report, so git is null (as the original).
      expect(detectProject(join(root, "deep", "er"))?.git).toBeNull();
      git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "c");
      const p = detectProject(join(root, "deep", "er"));
      expect(p).toEqual({
        name: root.split("/").pop() as string,
        root,
        language: "rust",
        git: { branch: "trunk", dirty: true, remote: "upstream", remote_url: "https://github.com/o/r.git" },
      });
    } finally {
      dir.cleanup();
    }
  });

  test("outside git: the cwd is the root; language unknown without markers", () => {
    const dir = tempDir("fledge-proj-");
    try {
      const p = detectProject(dir.path);
      expect(p?.root).toBe(realpathSync(dir.path));
      expect(p?.git).toBeNull();
      expect(detectLanguage(dir.path)).toBe("unknown");
    } finally {
      dir.cleanup();
    }
  });

  test("credential stripping only touches http(s) userinfo", () => {
    expect(stripUrlCredentials("https://tok@github.com/o/r")).toBe("https://github.com/o/r");
    expect(stripUrlCredentials("git@github.com:o/r.git")).toBe("git@github.com:o/r.git");
  });
});
