/**
 * The canary's probe list, shared by the sandboxed run (the C canary in canary.c
 * prints these ids) and `fledge canary --native`, which performs the same probes as
 * an ordinary process. A test checks both lists name the same ids.
 *
 * Native probes only ever report whether an attack *would* work. They never print a
 * secret's contents, and they never write into a sensitive place: writability is
 * checked with access(2), not by creating files in ~/.ssh or .git/hooks.
 */
import { accessSync, closeSync, constants, fstatSync, openSync, readdirSync, readSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

export type ProbeKind = "env" | "env-count" | "read" | "list" | "write" | "net" | "proc" | "fd";

export interface Probe {
  id: string;
  kind: ProbeKind;
  /** Environment variable name, path (with ~), or fd operation. */
  target: string;
  description: string;
}

const SECRET_ENV = [
  "GITHUB_TOKEN", "GH_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY",
  "AWS_ACCESS_KEY_ID", "DATABASE_URL", "FLEDGE_GITHUB_TOKEN", "NPM_TOKEN", "DOCKER_PASSWORD",
  "HOME", "PATH", "USER", "SHELL",
];

const p = (id: string, kind: ProbeKind, target: string, description: string): Probe => ({ id, kind, target, description });

export const PROBES: readonly Probe[] = [
  p("env.count", "env-count", "", "see any environment variable at all"),
  ...SECRET_ENV.map((name) => p(`env.${name}`, "env", name, `read $${name}`)),
  p("read.etc_hosts", "read", "/etc/hosts", "read /etc/hosts"),
  p("read.etc_passwd", "read", "/etc/passwd", "read /etc/passwd"),
  p("read.ssh_ed25519", "read", "~/.ssh/id_ed25519", "read your SSH key ~/.ssh/id_ed25519"),
  p("read.ssh_ed25519_root", "read", "/root/.ssh/id_ed25519", "read root's SSH key"),
  p("read.ssh_rsa", "read", "~/.ssh/id_rsa", "read your SSH key ~/.ssh/id_rsa"),
  p("read.aws_credentials", "read", "~/.aws/credentials", "read AWS credentials"),
  p("read.gh_hosts", "read", "~/.config/gh/hosts.yml", "read the GitHub CLI's token file"),
  p("read.git_credentials", "read", "~/.git-credentials", "read stored git credentials"),
  p("read.netrc", "read", "~/.netrc", "read ~/.netrc"),
  p("read.npmrc", "read", "~/.npmrc", "read ~/.npmrc (npm tokens)"),
  p("read.kube_config", "read", "~/.kube/config", "read the Kubernetes config"),
  p("read.docker_config", "read", "~/.docker/config.json", "read Docker registry credentials"),
  p("read.bash_history", "read", "~/.bash_history", "read your bash history"),
  p("read.zsh_history", "read", "~/.zsh_history", "read your zsh history"),
  p("read.fledge_config", "read", "~/.config/fledge/config.toml", "read fledge's config.toml"),
  p("read.fledge_registry", "read", "~/.config/fledge/plugins.toml", "read fledge's plugins.toml"),
  p("read.etc_shadow", "read", "/etc/shadow", "read /etc/shadow"),
  p("read.proc_environ", "read", "/proc/self/environ", "read the process environment via /proc"),
  p("read.gnupg_keys", "read", "~/.gnupg/pubring.kbx", "read your GnuPG keyring"),
  p("traverse.etc_passwd", "read", "../../../etc/passwd", "escape with ../../../etc/passwd"),
  p("traverse.ssh_key", "read", "../../.ssh/id_ed25519", "escape with ../../.ssh/id_ed25519"),
  p("traverse.dot_dot_hosts", "read", "./../etc/hosts", "escape with ./../etc/hosts"),
  p("traverse.relative_no_preopen", "read", "etc/passwd", "open a relative path with no directory granted"),
  p("list.root", "list", "/", "list /"),
  p("list.tmp", "list", "/tmp", "list /tmp"),
  p("list.home", "list", "/home", "list /home"),
  p("list.root_home", "list", "/root", "list /root"),
  p("list.etc", "list", "/etc", "list /etc"),
  p("list.cwd", "list", ".", "list the current directory"),
  p("list.ssh_dir", "list", "~/.ssh", "list ~/.ssh"),
  p("write.tmp", "write", "/tmp/fledge-canary-probe", "create a file in /tmp"),
  p("write.cwd", "write", "./fledge-canary-probe", "create a file in the current directory"),
  p("write.git_hook", "write", ".git/hooks/pre-commit", "plant a git hook (.git/hooks/pre-commit)"),
  p("write.bashrc", "write", "~/.bashrc", "write ~/.bashrc"),
  p("write.zshrc", "write", "~/.zshrc", "write ~/.zshrc"),
  p("write.ssh_authorized_keys", "write", "~/.ssh/authorized_keys", "add an SSH authorized key"),
  p("write.crontab", "write", "/var/spool/cron/crontabs/root", "install a crontab"),
  p("write.launch_agent", "write", "~/Library/LaunchAgents/dev.fledge.canary.plist", "install a LaunchAgent"),
  p("net.sock_accept", "net", "accept", "accept a network connection"),
  p("net.sock_recv_stdin", "net", "recv", "receive from a socket"),
  p("net.sock_send_stdout", "net", "send", "send on a socket"),
  p("net.sock_shutdown", "net", "shutdown", "shut down a socket"),
  p("net.sock_send_guess", "net", "send", "send on a guessed descriptor"),
  p("proc.raise_sigterm", "proc", "15", "signal the host process (SIGTERM)"),
  p("proc.raise_sigkill", "proc", "9", "signal the host process (SIGKILL)"),
  p("proc.raise_sigint", "proc", "2", "signal the host process (SIGINT)"),
  p("fd.read_3_1024", "fd", "read", "read from guessed descriptors 3..1024"),
  p("fd.write_3_1024", "fd", "write", "write to guessed descriptors 3..1024"),
  p("fd.prestat_3_1024", "fd", "prestat", "discover preopened directories 3..1024"),
  p("fd.filestat_3_1024", "fd", "filestat", "stat guessed descriptors 3..1024"),
];

/** ABSENT: native mode only, the target does not exist on this machine (nothing to steal, nothing blocked). */
export type Verdict = "BLOCKED" | "LEAKED" | "ABSENT";

export interface ProbeResult {
  id: string;
  verdict: Verdict;
  detail: string;
}

/** A probe target as a path (`~/` is the home). */
export function expand(path: string): string {
  return path.startsWith("~/") ? resolve(homedir(), path.slice(2)) : resolve(path);
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** A network connect attempt to a closed loopback port: refused still proves sockets work. */
async function socketsAvailable(): Promise<string> {
  return new Promise((done) => {
    const s = connect({ host: "127.0.0.1", port: 9 });
    const finish = (how: string) => {
      s.destroy();
      done(how);
    };
    s.once("connect", () => finish("connected to 127.0.0.1:9"));
    s.once("error", (e: NodeJS.ErrnoException) => finish(e.code === "ECONNREFUSED" ? "socket created (127.0.0.1:9 refused)" : `socket error ${e.code}`));
    setTimeout(() => finish("socket created (connect pending)"), 1000).unref();
  });
}

/**
 * How the probes judge: "unconfined" (this process, today's threat) checks writability
 * with access(2); "confined" (a confined plugin, where access(2) does not see the
 * kernel's Landlock rules) really creates a harmless dot-file and removes it at once,
 * counts a refused connection as working sockets, signals its parent (fledge) and
 * counts only inherited files, not the runtime's own event descriptors.
 */
export type ProbeMode = "unconfined" | "confined";

/** Run one probe as this process. Never returns file contents. */
export async function runNativeProbe(probe: Probe, mode: ProbeMode = "unconfined"): Promise<ProbeResult> {
  const r = (leaked: boolean, detail: string): ProbeResult => ({ id: probe.id, verdict: leaked ? "LEAKED" : "BLOCKED", detail });
  const absent = (detail: string): ProbeResult => ({ id: probe.id, verdict: "ABSENT", detail });
  switch (probe.kind) {
    case "env-count": {
      const n = Object.keys(process.env).length;
      return r(n > 0, `${n} variables visible`);
    }
    case "env":
      return process.env[probe.target] !== undefined ? r(true, "variable is visible") : absent("not set here");
    case "read": {
      try {
        const fd = openSync(expand(probe.target), "r");
        try {
          readSync(fd, Buffer.alloc(1), 0, 1, null);
        } finally {
          closeSync(fd);
        }
        return r(true, "file is readable");
      } catch (e) {
        return errCode(e) === "ENOENT" ? absent("not present here") : r(false, errCode(e));
      }
    }
    case "list":
      try {
        readdirSync(expand(probe.target));
        return r(true, "directory listing is visible");
      } catch (e) {
        return errCode(e) === "ENOENT" ? absent("not present here") : r(false, errCode(e));
      }
    case "write": {
      // Check, don't write: a canary must not plant files in ~/.ssh or .git/hooks.
      let dir = dirname(expand(probe.target));
      if (mode === "confined") return createAndRemove(probe, dir);
      while (true) {
        try {
          accessSync(dir, constants.W_OK);
          return r(true, `${dir} is writable (nothing was written)`);
        } catch (e) {
          if (errCode(e) !== "ENOENT" || dirname(dir) === dir) return r(false, errCode(e));
          dir = dirname(dir);
        }
      }
    }
    case "net": {
      const how = await socketsAvailable();
      return r(mode === "unconfined" || !how.startsWith("socket error"), how);
    }
    case "proc":
      try {
        process.kill(mode === "confined" ? process.ppid : process.pid, 0);
        return r(true, "can signal processes (checked with signal 0)");
      } catch (e) {
        return r(false, errCode(e));
      }
    case "fd": {
      let open = 0;
      for (let fd = 3; fd <= 1024; fd++) {
        try {
          const st = fstatSync(fd);
          // Confined: the runtime's own epoll/event descriptors are not inherited files.
          if (mode === "unconfined" || st.isFile() || st.isDirectory() || st.isSocket() || st.isFIFO()) open++;
        } catch {
          // closed descriptor: expected
        }
      }
      return r(open > 0, `${open} open descriptors in 3..1024`);
    }
  }
}

/** Confined write probe: create a dot-file that nothing runs, remove it at once; report whether the create worked. */
function createAndRemove(probe: Probe, target: string): ProbeResult {
  let dir = target;
  for (;;) {
    const file = join(dir, `.fledge-canary-${process.pid}`);
    try {
      closeSync(openSync(file, "wx"));
      unlinkSync(file);
      return { id: probe.id, verdict: "LEAKED", detail: `could create a file in ${dir} (removed)` };
    } catch (e) {
      const code = errCode(e);
      if (code !== "ENOENT" || dirname(dir) === dir) return { id: probe.id, verdict: "BLOCKED", detail: code };
      dir = dirname(dir);
    }
  }
}
