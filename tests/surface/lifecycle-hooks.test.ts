/**
 * Lifecycle hooks actually run: `fledge hooks run <event>` runs the approved hooks
 * with FLEDGE_REPO_ROOT, stops at the first failure, refuses a hook changed since it
 * was approved; `fledge hooks install` writes a git pre-push hook (after consent,
 * never over a foreign one) and a real `git push` then runs the plugins' pre_push
 * hooks, a failing one stopping the push. The consent text says when each runs.
 */
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GIT_HOOK_MARKER } from "../../src/install/githook.ts";
import { runFledge } from "../helpers/cli.ts";
import { sandbox, wasmPlugin } from "../install/helpers.ts";

setDefaultTimeout(90_000);
let sb: ReturnType<typeof sandbox>;
let repo: string;
let out: string;
beforeEach(() => {
  sb = sandbox();
  repo = join(sb.root, "repo");
  out = join(sb.root, "out");
  mkdirSync(out);
  mkdirSync(repo);
  git(repo, "init", "-q", "-b", "main");
  writeFileSync(join(repo, "a.txt"), "a\n");
  git(repo, "add", "a.txt");
  git(repo, "commit", "-qm", "first");
});
afterEach(() => sb.cleanup());

function git(cwd: string, ...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@e", ...args], { cwd, encoding: "utf8", env: { ...process.env, ...sb.env, NO_COLOR: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A wasm plugin whose hook script records its environment, then exits with `code`. */
function hookPlugin(name: string, hooks: Record<string, string>, code = 0): string {
  // The hook writes its record outside its folder: a confined hook may only when it asks.
  return wasmPlugin(join(sb.root, name), { name, commands: [{ name: `${name}-cmd`, binary: "hello.wasm" }], hooks, confinement: { write: [out] } }, {
    "bin/hook": { data: `#!/bin/sh\nprintf '%s\\n%s\\n%s\\n%s\\n' "$FLEDGE_REPO_ROOT" "$FLEDGE_PLUGIN_DIR" "$PWD" "$*" > '${out}/${name}'\nexit ${code}\n`, mode: 0o755 },
  });
}

const fledge = (args: string[], cwd = repo) => runFledge(args, { env: sb.env, cwd });

describe("fledge hooks run", () => {
  test("runs each approved hook with FLEDGE_REPO_ROOT and FLEDGE_PLUGIN_DIR; the consent said when it runs", async () => {
    const inst = fledge(["plugins", "install", hookPlugin("one", { pre_push: "bin/hook pushing", pre_init: "bin/hook init" }), "-y"]);
    expect(inst.code).toBe(0);
    expect(inst.stderr).toContain("fledge hooks run pre-push");
    expect(inst.stderr).toContain("fledge hooks install");
    const sub = join(repo, "deep");
    mkdirSync(sub);
    const r = fledge(["hooks", "run", "pre-push", "--json"], sub);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ schema_version: 1, action: "hooks_run", event: "pre_push", repo_root: realpathSync(repo), ran: [{ plugin: "one", command: "bin/hook pushing", status: "ok" }] });
    const [root, pluginDir, pwd, args] = readFileSync(join(out, "one"), "utf8").split("\n");
    expect(root).toBe(realpathSync(repo));
    expect(pluginDir).toBe(join(sb.config, "plugins", "one"));
    expect(realpathSync(pwd!)).toBe(realpathSync(pluginDir!));
    expect(args).toBe("pushing");
    expect(fledge(["hooks", "run", "pre_init"]).code).toBe(0);
    expect(readFileSync(join(out, "one"), "utf8")).toContain("init");
    // no plugin has this event: fine, nothing runs
    const none = fledge(["hooks", "run", "post-work-start"]);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain("no installed plugin has a post_work_start hook");
  });

  test("the first failure stops the run (exit 1, later plugins not run)", () => {
    expect(fledge(["plugins", "install", hookPlugin("bad", { pre_push: "bin/hook" }, 3), "-y"]).code).toBe(0);
    expect(fledge(["plugins", "install", hookPlugin("good", { pre_push: "bin/hook" }), "-y"]).code).toBe(0);
    const r = fledge(["hooks", "run", "pre-push"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exit code 3");
    expect(r.stderr).toContain("bad");
    expect(existsSync(join(out, "bad"))).toBe(true);
    expect(existsSync(join(out, "good"))).toBe(false);
  });

  test("a hook changed in plugin.toml since it was approved is not run", () => {
    const dir = hookPlugin("live", { pre_push: "bin/hook" });
    expect(fledge(["plugins", "install", dir, "-y"]).code).toBe(0);
    const toml = join(dir, "plugin.toml");
    writeFileSync(toml, readFileSync(toml, "utf8").replace('pre_push = "bin/hook"', 'pre_push = "bin/hook --evil"'));
    const r = fledge(["hooks", "run", "pre-push", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe("hook_changed");
    expect(existsSync(join(out, "live"))).toBe(false);
  });

  test("an unknown event is a usage error; hooks list shows what runs when", () => {
    expect(fledge(["hooks", "run", "post-push"]).code).toBe(2);
    expect(fledge(["plugins", "install", hookPlugin("lst", { pre_push: "bin/hook", post_work_start: "bin/hook w" }), "-y"]).code).toBe(0);
    const j = JSON.parse(fledge(["hooks", "list", "--json"]).stdout);
    expect(j.hooks.map((h: { event: string }) => h.event)).toEqual(["post_work_start", "pre_push"]);
    expect(j.hooks[1].when).toContain("git pre-push hook");
    expect(fledge(["hooks", "list"]).stdout).toContain("lst: bin/hook w");
  });
});

describe("fledge hooks install and a real git push", () => {
  function bareRemote(): string {
    const bare = join(sb.root, "remote.git");
    spawnSync("git", ["init", "-q", "--bare", bare]);
    expect(git(repo, "remote", "add", "origin", bare).code).toBe(0);
    return bare;
  }

  test("needs --yes without a terminal; writes a marked, executable hook; git push runs pre_push and a failure stops the push", () => {
    const bare = bareRemote();
    const refused = fledge(["hooks", "install"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--yes");
    const hookFile = join(repo, ".git", "hooks", "pre-push");
    expect(existsSync(hookFile)).toBe(false);

    const w = fledge(["hooks", "install", "--yes", "--json"]);
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ action: "hooks_install", path: hookFile, replaced: false });
    expect(readFileSync(hookFile, "utf8")).toContain(GIT_HOOK_MARKER);

    // a failing plugin hook stops the push
    const failing = hookPlugin("gate", { pre_push: "bin/hook" }, 1);
    expect(fledge(["plugins", "install", failing, "-y"]).code).toBe(0);
    const push1 = git(repo, "push", "-q", "origin", "main");
    expect(push1.code).not.toBe(0);
    expect(existsSync(join(out, "gate"))).toBe(true);
    expect(spawnSync("git", ["--git-dir", bare, "rev-parse", "--verify", "-q", "main"]).status).not.toBe(0);

    // fixed: the push goes through
    writeFileSync(join(failing, "bin", "hook"), `#!/bin/sh\necho ok > '${out}/gate-ok'\n`, { mode: 0o755 });
    const push2 = git(repo, "push", "-q", "origin", "main");
    expect(push2.code).toBe(0);
    expect(existsSync(join(out, "gate-ok"))).toBe(true);
    expect(spawnSync("git", ["--git-dir", bare, "rev-parse", "--verify", "-q", "main"]).status).toBe(0);

    // installing again replaces our own hook
    expect(JSON.parse(fledge(["hooks", "install", "-y", "--json"]).stdout).replaced).toBe(true);
    expect(fledge(["hooks", "uninstall"]).code).toBe(0);
    expect(existsSync(hookFile)).toBe(false);
  });

  test("never overwrites (or removes) a pre-push hook fledge did not write", () => {
    const hookFile = join(repo, ".git", "hooks", "pre-push");
    mkdirSync(join(repo, ".git", "hooks"), { recursive: true });
    writeFileSync(hookFile, "#!/bin/sh\necho mine\n", { mode: 0o755 });
    const r = fledge(["hooks", "install", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("was not written by fledge");
    expect(readFileSync(hookFile, "utf8")).toBe("#!/bin/sh\necho mine\n");
    expect(fledge(["hooks", "uninstall"]).code).toBe(1);
    expect(readFileSync(hookFile, "utf8")).toBe("#!/bin/sh\necho mine\n");
  });

  test("outside a git repository: a clear error", () => {
    const r = fledge(["hooks", "install", "--yes"], sb.root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not inside a git work tree");
  });
});
