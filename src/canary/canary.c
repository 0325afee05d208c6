/*
 * fledge's sandbox canary. Built for wasm32-wasi, embedded in the fledge binary and run
 * by `fledge canary` with the exact sandbox a zero-capability plugin gets: no
 * environment, no arguments, no preopened directories, empty stdin. It tries every
 * attack of security matrix section A and prints one line per probe:
 *
 *     <id>\t<BLOCKED|LEAKED>\t<how it was refused, or what leaked (never contents)>
 *
 * The probe ids are shared with `fledge canary --native` (src/canary/probes.ts),
 * which runs the same probes as an ordinary process to show the threat is real.
 * The canary must never print secret contents, even when a probe leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

__attribute__((import_module("wasi_snapshot_preview1"), import_name("proc_raise")))
int32_t raw_proc_raise(int32_t sig);

static int total, blocked;

static void report(const char *id, int leaked, const char *detail) {
  total++;
  if (!leaked) blocked++;
  printf("%s\t%s\t%s\n", id, leaked ? "LEAKED" : "BLOCKED", detail);
}

static const char *errname(int e) {
  switch (e) {
    case 0: return "success";
    case __WASI_ERRNO_BADF: return "EBADF";
    case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
    case __WASI_ERRNO_NOENT: return "ENOENT";
    case __WASI_ERRNO_ACCES: return "EACCES";
    case __WASI_ERRNO_PERM: return "EPERM";
    case __WASI_ERRNO_NOTSOCK: return "ENOTSOCK";
    case __WASI_ERRNO_NOTSUP: return "ENOTSUP";
    case __WASI_ERRNO_NOSYS: return "ENOSYS";
    case __WASI_ERRNO_INVAL: return "EINVAL";
    case __WASI_ERRNO_ROFS: return "EROFS";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "errno %d", e);
      return buf;
    }
  }
}

/* --- environment ------------------------------------------------------------ */
static void probe_env(const char *name) {
  char id[96];
  snprintf(id, sizeof id, "env.%s", name);
  const char *v = getenv(name);
  report(id, v != NULL, v ? "variable is visible to the plugin" : "not in the plugin's environment");
}

static void probe_env_count(void) {
  __wasi_size_t count = 0, size = 0;
  __wasi_errno_t e = __wasi_environ_sizes_get(&count, &size);
  char detail[64];
  snprintf(detail, sizeof detail, "environ_sizes_get: %u variables", (unsigned)count);
  report("env.count", e != 0 || count != 0, detail);
}

/* --- files ------------------------------------------------------------------ */
static void probe_read(const char *id, const char *path) {
  errno = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    char detail[160];
    snprintf(detail, sizeof detail, "open(%s): %s", path, strerror(errno));
    report(id, 0, detail);
    return;
  }
  char c;
  ssize_t n = read(fd, &c, 1);
  close(fd);
  report(id, n >= 0, n >= 0 ? "file is readable" : "opened but unreadable");
}

static void probe_list(const char *id, const char *path) {
  errno = 0;
  DIR *d = opendir(path);
  if (!d) {
    char detail[160];
    snprintf(detail, sizeof detail, "opendir(%s): %s", path, strerror(errno));
    report(id, 0, detail);
    return;
  }
  int entries = 0;
  while (readdir(d)) entries++;
  closedir(d);
  report(id, 1, "directory listing is visible");
}

static void probe_write(const char *id, const char *path) {
  errno = 0;
  /* O_EXCL: never clobber a real file even if the sandbox were broken. */
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    char detail[160];
    snprintf(detail, sizeof detail, "create(%s): %s", path, strerror(errno));
    report(id, 0, detail);
    return;
  }
  close(fd);
  unlink(path);
  report(id, 1, "file could be created (and was removed again)");
}

/* --- raw WASI ---------------------------------------------------------------- */
static void probe_sock(const char *id, int which, __wasi_fd_t fd) {
  __wasi_errno_t e;
  char buf[8];
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
  __wasi_ciovec_t ciov = {(const uint8_t *)buf, sizeof buf};
  __wasi_size_t n;
  __wasi_roflags_t ro;
  __wasi_fd_t out;
  switch (which) {
    case 0: e = __wasi_sock_accept(fd, 0, &out); break;
    case 1: e = __wasi_sock_recv(fd, &iov, 1, 0, &n, &ro); break;
    case 2: e = __wasi_sock_send(fd, &ciov, 1, 0, &n); break;
    default: e = __wasi_sock_shutdown(fd, __WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR); break;
  }
  char detail[64];
  snprintf(detail, sizeof detail, "%s", errname(e));
  report(id, e == 0, detail);
}

static void probe_fd_guess(const char *id, int which) {
  int opened = 0;
  __wasi_errno_t last = 0;
  for (__wasi_fd_t fd = 3; fd <= 1024; fd++) {
    __wasi_errno_t e;
    char buf[8];
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    __wasi_ciovec_t ciov = {(const uint8_t *)buf, 0};
    __wasi_size_t n;
    __wasi_prestat_t pre;
    __wasi_filestat_t st;
    switch (which) {
      case 0: e = __wasi_fd_read(fd, &iov, 1, &n); break;
      case 1: e = __wasi_fd_write(fd, &ciov, 1, &n); break;
      case 2: e = __wasi_fd_prestat_get(fd, &pre); break;
      default: e = __wasi_fd_filestat_get(fd, &st); break;
    }
    if (e == 0) opened++;
    last = e;
  }
  char detail[96];
  if (opened) snprintf(detail, sizeof detail, "%d descriptors in 3..1024 answered", opened);
  else snprintf(detail, sizeof detail, "every fd in 3..1024: %s", errname(last));
  report(id, opened > 0, detail);
}

static void probe_raise(const char *id, int sig) {
  int32_t e = raw_proc_raise(sig);
  /* Reaching this line at all means the host was not signalled out from under us. */
  char detail[64];
  snprintf(detail, sizeof detail, "proc_raise(%d): %s", sig, errname(e));
  report(id, e == 0, detail);
}

int main(void) {
  /* Line-buffered: if a probe kills the host (node:wasi signals itself on proc_raise), the lines so far are out. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  static const char *secrets[] = {
    "GITHUB_TOKEN", "GH_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "DATABASE_URL", "FLEDGE_GITHUB_TOKEN", "NPM_TOKEN", "DOCKER_PASSWORD",
    "HOME", "PATH", "USER", "SHELL",
  };
  probe_env_count();
  for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) probe_env(secrets[i]);

  probe_read("read.etc_hosts", "/etc/hosts");
  probe_read("read.etc_passwd", "/etc/passwd");
  probe_read("read.ssh_ed25519", "~/.ssh/id_ed25519");
  probe_read("read.ssh_ed25519_root", "/root/.ssh/id_ed25519");
  probe_read("read.ssh_rsa", "~/.ssh/id_rsa");
  probe_read("read.aws_credentials", "~/.aws/credentials");
  probe_read("read.gh_hosts", "~/.config/gh/hosts.yml");
  probe_read("read.git_credentials", "~/.git-credentials");
  probe_read("read.netrc", "~/.netrc");
  probe_read("read.npmrc", "~/.npmrc");
  probe_read("read.kube_config", "~/.kube/config");
  probe_read("read.docker_config", "~/.docker/config.json");
  probe_read("read.bash_history", "~/.bash_history");
  probe_read("read.zsh_history", "~/.zsh_history");
  probe_read("read.fledge_config", "~/.config/fledge/config.toml");
  probe_read("read.fledge_registry", "~/.config/fledge/plugins.toml");

  probe_read("read.etc_shadow", "/etc/shadow");
  probe_read("read.proc_environ", "/proc/self/environ");
  probe_read("read.gnupg_keys", "~/.gnupg/pubring.kbx");
  probe_read("traverse.etc_passwd", "../../../etc/passwd");
  probe_read("traverse.ssh_key", "../../.ssh/id_ed25519");
  probe_read("traverse.dot_dot_hosts", "./../etc/hosts");
  probe_read("traverse.relative_no_preopen", "etc/passwd");

  probe_list("list.root", "/");
  probe_list("list.tmp", "/tmp");
  probe_list("list.home", "/home");
  probe_list("list.root_home", "/root");
  probe_list("list.etc", "/etc");
  probe_list("list.cwd", ".");
  probe_list("list.ssh_dir", "~/.ssh");

  probe_write("write.tmp", "/tmp/fledge-canary-probe");
  probe_write("write.cwd", "./fledge-canary-probe");
  probe_write("write.git_hook", ".git/hooks/pre-commit");
  probe_write("write.bashrc", "~/.bashrc");
  probe_write("write.zshrc", "~/.zshrc");
  probe_write("write.ssh_authorized_keys", "~/.ssh/authorized_keys");
  probe_write("write.crontab", "/var/spool/cron/crontabs/root");
  probe_write("write.launch_agent", "~/Library/LaunchAgents/dev.fledge.canary.plist");

  probe_sock("net.sock_accept", 0, 3);
  probe_sock("net.sock_recv_stdin", 1, 0);
  probe_sock("net.sock_send_stdout", 2, 1);
  probe_sock("net.sock_shutdown", 3, 3);
  probe_sock("net.sock_send_guess", 2, 4);

  probe_raise("proc.raise_sigterm", 15);
  probe_raise("proc.raise_sigkill", 9);
  probe_raise("proc.raise_sigint", 2);

  probe_fd_guess("fd.read_3_1024", 0);
  probe_fd_guess("fd.write_3_1024", 1);
  probe_fd_guess("fd.prestat_3_1024", 2);
  probe_fd_guess("fd.filestat_3_1024", 3);

  fflush(stdout);
  return blocked == total ? 0 : 1;
}
