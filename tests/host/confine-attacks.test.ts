/**
 * A hostile native plugin (a real shell script) run through the real native runner,
 * in a temp HOME with planted secrets, a real git project, a loopback listener and a
 * unix socket standing in for ssh-agent. Each test is one thing an attacker would try.
 * Linux with Landlock only (elsewhere the plugin runs unconfined, tested in
 * confine-state.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { kernelLandlockAbi } from "../../src/confine/index.ts";
import type { GrantedConfinement } from "../../src/manifest/types.ts";
import { tempDir } from "../helpers/cli.ts";
import { HARNESS, runAttack, type AttackOptions, type Run } from "./confine-harness.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const SECRET = "PLANTED-SECRET-7f3a";
const TOKEN = "ghp_plantedtoken000000000000000000000";

let dir: { path: string; cleanup: () => void };
let base: string;
let home: string;
let project: string;
let pluginDir: string;
let listener: Server;
let port = 0;
let connections = 0;
let agent: Server;
let agentPath: string;

beforeAll(async () => {
  dir = tempDir("fledge-confine-");
  base = realpathSync(dir.path);
  home = join(base, "home");
  project = join(base, "project");
  pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  for (const d of [join(home, ".ssh"), join(home, ".aws"), join(home, ".config", "gh"), join(home, "notes"), join(project, "src"), pluginDir]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, ".ssh", "id_ed25519"), `${SECRET}-ssh\n`);
  writeFileSync(join(home, ".ssh", "authorized_keys"), "ssh-ed25519 AAAA user\n");
  writeFileSync(join(home, ".aws", "credentials"), `${SECRET}-aws\n`);
  writeFileSync(join(home, ".config", "gh", "hosts.yml"), `${SECRET}-gh\n`);
  writeFileSync(join(home, ".bashrc"), "# rc\n");
  writeFileSync(join(home, ".bash_history"), `export TOKEN=${SECRET}-history\n`);
  writeFileSync(join(home, "notes", "todo.txt"), "buy milk\n");
  writeFileSync(join(home, ".gitconfig"), "[user]\n\tname = T\n\temail = t@example.com\n");
  writeFileSync(join(project, "README.md"), "project readme\n");
  writeFileSync(join(project, "src", "main.c"), "int main(){}\n");
  symlinkSync(join(home, ".ssh", "id_ed25519"), join(project, "innocent-link"));
  const git = Bun.spawnSync(["git", "init", "-q", project], { env: { PATH: "/usr/bin:/bin", HOME: home } });
  expect(git.exitCode).toBe(0);
  listener = createServer((s) => {
    connections += 1;
    s.end("hello\n");
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  port = (listener.address() as { port: number }).port;
  agentPath = join(base, "agent.sock");
  agent = createServer((s) => s.end(`${SECRET}-agent\n`));
  await new Promise<void>((r) => agent.listen(agentPath, r));
});
afterAll(() => {
  listener?.close();
  agent?.close();
  dir?.cleanup();
});

/** Run `script` as the native plugin `evil` with the given grants; fledge's environment holds a token, a key and the agent socket. */
function attack(script: string, o: Omit<AttackOptions, "env"> = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, { ...o, env: { GITHUB_TOKEN: TOKEN, AWS_SECRET_ACCESS_KEY: `${SECRET}-envkey`, SSH_AUTH_SOCK: agentPath } });
}

describe.skipIf(!confinable)("a confined native plugin", () => {
  test("cannot read ~/.ssh/id_ed25519, ~/.aws/credentials, ~/.config/gh/hosts.yml or shell history", async () => {
    const r = await attack(`cat ~/.ssh/id_ed25519 ~/.aws/credentials ~/.config/gh/hosts.yml ~/.bash_history; ls ~/.ssh; echo end`);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stderr).toContain("Permission denied");
    expect(r.stdout).toContain("end");
  }, 30_000);

  test("gets no tokens, keys or agent socket from the environment", async () => {
    const r = await attack(`env; echo "token=[$GITHUB_TOKEN] agent=[$SSH_AUTH_SOCK]"`);
    expect(r.stdout).toContain("token=[] agent=[]");
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain(`HOME=${home}`);
    expect(r.stdout).toContain(`FLEDGE_PLUGIN_DIR=${pluginDir}`);
  }, 30_000);

  test("cannot read the parent's (or any other process's) environment through /proc, but sees its own", async () => {
    const other = Bun.spawn(["sleep", "30"], { env: { PATH: "/usr/bin:/bin", GITHUB_TOKEN: TOKEN } });
    try {
      const r = await attack(`cat /proc/$PPID/environ; cat /proc/${other.pid}/environ; read first < /proc/self/status && echo "self-ok"; grep -c processor /proc/cpuinfo >/dev/null && echo cpuinfo-ok; echo end`);
      expect(r.stdout).not.toContain(TOKEN);
      // The plugin's own process folder (read by the shell itself, not a child).
      expect(r.stdout).toContain("self-ok\ncpuinfo-ok\nend");
    } finally {
      other.kill();
    }
  }, 30_000);

  test("cannot plant a git hook, touch ~/.bashrc or ~/.ssh/authorized_keys, even with the project writable", async () => {
    const r = await attack(
      `echo evil > .git/hooks/pre-commit; echo evil >> ~/.bashrc; echo evil >> ~/.ssh/authorized_keys; echo '[core]' >> .git/config; echo evil > ~/.profile; echo end`,
      { filesystem: "project" },
    );
    expect(r.stdout).toContain("end");
    expect(existsSync(join(project, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
    expect(readFileSync(join(home, ".ssh", "authorized_keys"), "utf8")).not.toContain("evil");
    expect(readFileSync(join(project, ".git", "config"), "utf8")).not.toContain("[core]\n[core]");
    expect(existsSync(join(home, ".profile"))).toBe(false);
  }, 30_000);

  test("cannot follow a symlink in the project to ~/.ssh (the kernel checks where it leads)", async () => {
    const r = await attack(`cat innocent-link; echo end`, { filesystem: "project" });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain("end");
  }, 30_000);

  test("cannot hard-link a secret into the writable project", async () => {
    const r = await attack(`ln ~/.ssh/id_ed25519 src/copied; cat src/copied; echo end`, { filesystem: "project" });
    expect(existsSync(join(project, "src", "copied"))).toBe(false);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  }, 30_000);

  test("run from home (home is the project, even writable): credentials stay hidden, start-up files unwritable", async () => {
    const r = await attack(`cat ~/.ssh/id_ed25519 ~/.aws/credentials; ls ~/.ssh; echo evil >> ~/.bashrc; mkdir -p ~/.local/bin && echo evil > ~/.local/bin/git; cat notes/todo.txt; echo end`, { projectRoot: home, filesystem: "project" });
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("buy milk");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
    expect(existsSync(join(home, ".local", "bin", "git"))).toBe(false);
  }, 30_000);

  test("a child of a child is still confined", async () => {
    const r = await attack(`sh -c 'sh -c "cat ~/.ssh/id_ed25519; echo \\$GITHUB_TOKEN; echo inner-done"'`);
    expect(r.stdout).toContain("inner-done");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).not.toContain(TOKEN);
  }, 30_000);

  test("TCP connect to a loopback listener fails without network and works with it", async () => {
    const py = `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), 3); print('got', s.recv(10))" 2>&1; echo end`;
    const before = connections;
    const denied = await attack(py);
    expect(denied.stdout).toContain("end");
    expect(denied.stdout).not.toContain("got");
    expect(connections).toBe(before);
    const allowed = await attack(py, { network: true });
    expect(allowed.stdout).toContain("got b'hello");
    expect(connections).toBe(before + 1);
  }, 30_000);

  test("cannot open UDP sockets or reach ssh-agent's unix socket by path without network", async () => {
    const r = await attack(
      `python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)" 2>&1 | tail -1; python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.connect('${agentPath}'); print(s.recv(100))" 2>&1 | tail -1; echo end`,
    );
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("PermissionError");
    expect(r.stdout).not.toContain(SECRET);
  }, 30_000);

  // Round 2 of the red team: builds get the network, and a build hook reached ssh-agent
  // and typed into the user's tmux through unix sockets. With network, only internet
  // (and netlink) sockets: never AF_UNIX.
  test("with network granted: TCP works, ssh-agent's unix socket by path still cannot be reached", async () => {
    const r = await attack(
      `python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.connect('${agentPath}'); print(s.recv(100))" 2>&1 | tail -1; python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port})); print(s.recv(100))" 2>&1 | tail -1; echo end`,
      { network: true },
    );
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("PermissionError");
    expect(r.stdout).toContain("b'hello");
    expect(r.stdout).not.toContain(SECRET);
  }, 30_000);

  // Round 2 of the red team read each of these with the default grant.
  test("cannot read tokens of other CLIs (copilot, fly, doctl, hcloud, claude, oci, zsh history, VS Code state)", async () => {
    const files = [".config/github-copilot/hosts.json", ".fly/config.yml", ".config/doctl/config.yaml", ".config/hcloud/cli.toml", ".claude/.credentials.json", ".databrickscfg", ".oci/config", ".local/share/zsh/history", ".config/Code/User/globalStorage/state.vscdb"];
    for (const f of files) {
      mkdirSync(join(home, f, ".."), { recursive: true });
      writeFileSync(join(home, f), `${SECRET}-${f}\n`);
    }
    const r = await attack(`${files.map((f) => `cat "$HOME/${f}" 2>/dev/null`).join("; ")}; echo end`);
    expect(r.stdout).toContain("end");
    expect(r.stdout).not.toContain(SECRET);
  }, 30_000);

  test("cannot inject keystrokes into the terminal (TIOCSTI is refused, not merely 'not a tty')", async () => {
    const r = await attack(`python3 -c "import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b'x')" 2>&1 | tail -1`);
    expect(r.stdout).toContain("Operation not permitted");
  }, 30_000);

  test("inherits no file descriptors beyond stdin, stdout and stderr", async () => {
    const r = await attack(`ls /proc/self/fd`);
    const fds = r.stdout.trim().split(/\s+/).map(Number).sort((a, b) => a - b);
    // 0-2, plus the one `ls` opened to read the folder.
    expect(fds.filter((fd) => fd > 2).length).toBeLessThanOrEqual(1);
  }, 30_000);

  test("still works: git status, ls and cat of project files, home notes, a private temp folder", async () => {
    const r = await attack(`git status --short >/dev/null && echo git-ok; ls src; cat README.md; cat ~/notes/todo.txt; echo t > "$TMPDIR/x" && cat "$TMPDIR/x"; echo data > "$FLEDGE_PLUGIN_DIR/own" && echo own-ok`);
    expect(r.stdout).toContain("git-ok");
    expect(r.stdout).toContain("main.c");
    expect(r.stdout).toContain("project readme");
    expect(r.stdout).toContain("buy milk");
    expect(r.stdout).toContain("t\n");
    expect(r.stdout).toContain("own-ok");
  }, 30_000);

  test("a project that is not granted writable cannot be written", async () => {
    const r = await attack(`echo x > README.md; echo x > src/new.c; echo end`);
    expect(r.stdout).toContain("end");
    expect(readFileSync(join(project, "README.md"), "utf8")).toBe("project readme\n");
    expect(existsSync(join(project, "src", "new.c"))).toBe(false);
  }, 30_000);

  test("a granted project is writable (except hooks and git config)", async () => {
    const r = await attack(`echo x > src/new.c && echo wrote`, { filesystem: "project" });
    expect(r.stdout).toContain("wrote");
    expect(existsSync(join(project, "src", "new.c"))).toBe(true);
  }, 30_000);

  test("a granted extra folder and variable are available", async () => {
    const r = await attack(`cat ~/.config/gh/hosts.yml; echo "token=[$GITHUB_TOKEN]"; cat ~/.ssh/id_ed25519; echo end`, { confinement: { read: ["~/.config/gh"], env: ["GITHUB_TOKEN"] } });
    expect(r.stdout).toContain(`${SECRET}-gh`);
    expect(r.stdout).toContain(`token=[${TOKEN}]`);
    expect(r.stdout).not.toContain(`${SECRET}-ssh`);
  }, 30_000);

  test("--unconfined runs as before: the threat is real", async () => {
    const r = await attack(`cat ~/.ssh/id_ed25519; echo "token=[$GITHUB_TOKEN]"`, { confinement: { unconfined: true } });
    expect(r.stdout).toContain(`${SECRET}-ssh`);
    expect(r.stdout).toContain(TOKEN);
  }, 30_000);
});

/** The same hostile reads through every other way plugin code starts. */
describe.skipIf(!confinable)("every native start is confined", () => {
  test("a protocol (fledge-v1) plugin", async () => {
    const r = await protocolAttack(`read init; cat ~/.ssh/id_ed25519 >&2; echo "token=[$GITHUB_TOKEN]" >&2`);
    expect(r.stderr).toContain("token=[]");
    expect(r.stderr).not.toContain(SECRET);
  }, 30_000);

  test("an exec the plugin asks fledge for", async () => {
    const r = await protocolAttack(
      `read init; echo '{"type":"exec","id":"x","command":"cat ~/.ssh/id_ed25519; echo token=[$GITHUB_TOKEN]"}'; read answer; echo "$answer" >&2`,
      { exec: true },
    );
    expect(r.stderr).toContain('"type":"response"');
    expect(r.stderr).toContain("token=[]");
    // Refused by Landlock, or not even there: the key is covered in the run's mount namespace.
    expect(r.stderr).toMatch(/Permission denied|No such file or directory/);
    expect(r.stderr).not.toContain(SECRET);
  }, 30_000);

  test("a hook (build, post_install, post_remove and lifecycle hooks share the runner)", async () => {
    const { runHook } = await import("../../src/install/hooks.ts");
    const hook = join(pluginDir, "hook.sh");
    writeFileSync(hook, `#!/bin/sh\n{ cat ~/.ssh/id_ed25519; echo "token=[$GITHUB_TOKEN]"; echo x > ~/.bashrc; } > "$FLEDGE_PLUGIN_DIR/hook.out" 2>&1\nexit 0\n`);
    chmodSync(hook, 0o755);
    await runHook("post_install", "hook.sh", pluginDir, { PATH: "/usr/bin:/bin", HOME: home, GITHUB_TOKEN: TOKEN, FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") });
    const out = readFileSync(join(pluginDir, "hook.out"), "utf8");
    expect(out).toContain("token=[]");
    expect(out).not.toContain(SECRET);
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# rc\n");
  }, 30_000);
});

/** Run `script` as a fledge-v1 protocol plugin (NDJSON on stdin/stdout, stderr inherited). */
async function protocolAttack(script: string, caps: { exec?: boolean } = {}): Promise<Run> {
  const bin = join(pluginDir, "proto.sh");
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  const env = { PATH: "/usr/bin:/bin", HOME: home, LANG: "C", FLEDGE_CONFIG_DIR: join(home, ".config", "fledge"), GITHUB_TOKEN: TOKEN };
  const opts = {
    entry: { name: "evil", dir: pluginDir, version: "1.0.0", protocol: "fledge-v1", capabilities: { exec: caps.exec ?? false, store: false, metadata: false, filesystem: "none", network: false } },
    binaryPath: bin,
    args: [],
    projectRoot: project,
    stateFile: join(pluginDir, "state.json"),
    env,
    cwd: project,
  };
  const p = Bun.spawn([process.execPath, HARNESS, JSON.stringify(opts)], { cwd: project, env: { ...env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
