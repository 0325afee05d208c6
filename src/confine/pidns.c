/*
 * The confined plugin in a PID namespace of its own, whose init is this code. When
 * init exits, the kernel kills every process left in the namespace and waits for them,
 * and no process can leave a PID namespace: a fork chain, a double-forked daemon or a
 * setsid'd child ends with the plugin, atomically, which no list-then-kill scan can
 * promise. Compiled at run time by bun:ffi's cc (TinyCC) in the launcher process, so
 * no header is included: every prototype and constant is declared here (Linux, glibc,
 * x86_64 and arm64 share all the values used below).
 *
 * Three processes:
 * - the launcher (the caller): forwards signals a process sent it to init, waits for
 *   init, then ends exactly as the plugin ended (exit code, or the same signal);
 * - init (pid 1 of the namespace): never confined by the plugin's rules, it only
 *   forks the plugin, forwards signals, reaps orphans and reports the plugin's status;
 * - the plugin: confined (Landlock, no_new_privs, seccomp, no capabilities) and exec'd.
 *
 * After clone only async-signal-safe calls are made in init and the plugin (the
 * launcher is multithreaded; another thread may hold a lock that never gets released).
 */

typedef unsigned long size_t;
typedef long ssize_t;
typedef int pid_t;

struct k_sigaction {
  void (*handler)(int, void *, void *);
  unsigned long mask[16];
  int flags;
  void (*restorer)(void);
};
struct siginfo_head {
  int si_signo;
  int si_errno;
  int si_code;
};
struct rlimit64 {
  unsigned long cur;
  unsigned long max;
};
struct landlock_path_beneath {
  unsigned long long allowed;
  int fd;
} __attribute__((packed));

extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
extern long syscall(long nr, ...);
extern int prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d);
extern int open(const char *path, int flags, ...);
extern int close(int fd);
extern ssize_t read(int fd, void *buf, size_t n);
extern ssize_t write(int fd, const void *buf, size_t n);
extern int pipe2(int fds[2], int flags);
extern pid_t waitpid(pid_t pid, int *status, int options);
extern int kill(pid_t pid, int sig);
extern int sigqueue(pid_t pid, int sig, void *value); /* union sigval: one register */
extern pid_t getpgrp(void);
extern int raise(int sig);
extern int chdir(const char *path);
extern int execve(const char *path, char *const argv[], char *const envp[]);
extern int sigaction(int sig, const void *act, void *old);
extern int sigprocmask(int how, const void *set, void *old);
extern int setrlimit(int resource, const struct rlimit64 *rl);
extern void _exit(int code) __attribute__((noreturn));
extern void *malloc(size_t n);
extern int *__errno_location(void);
extern pid_t getpid(void);
extern unsigned int umask(unsigned int mask);
extern int unshare(int flags);
extern int mount(const char *source, const char *target, const char *type, unsigned long flags, const void *data);

#define CLONE_NEWPID 0x20000000
#define CLONE_NEWUSER 0x10000000
#define CLONE_NEWIPC 0x08000000
#define CLONE_NEWNS 0x00020000
#define MS_RDONLY_ 1UL
#define MS_NOSUID_ 2UL
#define MS_NODEV_ 4UL
#define MS_NOEXEC_ 8UL
#define MS_REMOUNT_ 32UL
#define MS_BIND_ 4096UL
#define MS_REC_ 16384UL
#define MS_PRIVATE_ (1UL << 18)
#define COVER_FLAGS (MS_RDONLY_ | MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_)
#define SIGCHLD_ 17
#define EPERM_ 1
#define EINTR_ 4
#define EINVAL_ 22
#define O_RDONLY_ 0
#define O_WRONLY_ 1
#define O_NONBLOCK_ 0x800
#define O_DIRECTORY_ 0x10000
#define O_CLOEXEC_ 0x80000
#define O_PATH_ 0x200000
#define PR_SET_PDEATHSIG 1
#define PR_SET_SECCOMP 22
#define PR_CAPBSET_DROP 24
#define PR_SET_NO_NEW_PRIVS 38
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define SECCOMP_MODE_FILTER 2
#define SA_SIGINFO_ 4
#define SA_RESTART_ 0x10000000
#define SIG_BLOCK_ 0
#define SIG_UNBLOCK_ 1
#define SIG_SETMASK_ 2
#define RLIMIT_CORE_ 4
#define STACK_SIZE (256 * 1024)
#define SI_USER_ 0
#define SI_QUEUE_ (-1)
#define SI_KERNEL_ 0x80

#if defined(__x86_64__)
#define NR_LANDLOCK_ADD_RULE 445
#define NR_LANDLOCK_RESTRICT_SELF 446
#define NR_CLOSE_RANGE 436
#define NR_CAPSET 126
#define NR_CLONE 56
#define NR_RT_SIGACTION 13
#define NR_RT_SIGPROCMASK 14
#define NR_KILL 62
#else
#define NR_LANDLOCK_ADD_RULE 445
#define NR_LANDLOCK_RESTRICT_SELF 446
#define NR_CLOSE_RANGE 436
#define NR_CAPSET 91
#define NR_CLONE 220
#define NR_RT_SIGACTION 134
#define NR_RT_SIGPROCMASK 135
#define NR_KILL 129
#endif

/* Signals passed on (launcher -> init -> plugin). Job-control stops are not: each
 * process of the terminal's group gets its own from the kernel. */
static const int forwarded[] = {1, 2, 3, 10, 12, 15, 18, 28, 0};

struct job {
  int ruleset_fd;
  unsigned long long proc_rights;
  const void *fprog; /* struct sock_fprog, or 0: no seccomp on this kernel */
  const char *path;
  char *const *argv;
  char *const *envp;
  const char *cwd;
  int user_ns;
  int uid;
  int gid;
  int report[2]; /* init writes the plugin's raw wait status to report[1] */
  int alive[2];  /* the launcher holds alive[1]: EOF on alive[0] means it is gone */
  char *const *hide; /* credentials to cover: "d/path" (folder) or "f/path" (file); 0-terminated */
  const char *cover; /* the empty file bound over each hidden file */
};

static volatile pid_t forward_to = 0;

static size_t slen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void say(const char *a, const char *b) {
  write(2, "fledge: cannot start the plugin confined: ", 42);
  write(2, a, slen(a));
  if (b) write(2, b, slen(b));
  write(2, "\n", 1);
}

static void fail(const char *what) {
  char num[16];
  int e = *__errno_location(), i = 15;
  num[i] = 0;
  do {
    num[--i] = (char)('0' + e % 10);
    e /= 10;
  } while (e && i > 6);
  num[--i] = ' ';
  num[--i] = 'o';
  num[--i] = 'n';
  num[--i] = 'r';
  num[--i] = 'r';
  num[--i] = 'e';
  num[--i] = '(';
  num[--i] = ' ';
  say(what, num + i);
  _exit(126);
}

/* fail() naming a path: the step, the path, then the errno. */
static void fail2(const char *what, const char *path) {
  write(2, "fledge: ", 8);
  write(2, what, slen(what));
  write(2, path, slen(path));
  write(2, "\n", 1);
  fail("the credentials cannot be hidden from the plugin");
}

static volatile int is_init = 0;
static volatile int launcher_leads_group = 0;

/*
 * Only what a process sent: a terminal's ^C (SI_KERNEL) already reached every process
 * of the foreground group, the plugin included; passing it on would deliver it twice.
 * The launcher does not pass on what reached it while it leads its process group
 * (fledge started it detached and signals the whole group, the plugin included), and
 * it passes the rest on with sigqueue, so init can tell them (SI_QUEUE) from a group's
 * signal that reached init and the plugin alike (SI_USER), which init keeps to itself.
 */
static void forward(int sig, void *info, void *ctx) {
  (void)ctx;
  int code = ((struct siginfo_head *)info)->si_code;
  if (forward_to <= 0) return;
  if (is_init) {
    if (code == SI_QUEUE_) kill(forward_to, sig);
  } else if (code <= SI_USER_ && !launcher_leads_group) {
    sigqueue(forward_to, sig, 0);
  }
}

static void set_handlers(void) {
  struct k_sigaction sa;
  int i;
  for (i = 0; i < 16; i++) sa.mask[i] = 0;
  sa.handler = forward;
  sa.flags = SA_SIGINFO_ | SA_RESTART_;
  sa.restorer = 0;
  for (i = 0; forwarded[i]; i++) sigaction(forwarded[i], &sa, 0);
}

/* The forwarded signals are blocked from before clone until their handler knows where
 * to pass them: one arriving in between stays pending instead of being lost (a
 * namespace's init drops a signal it has no handler for). */
static void block_forwarded(int how) {
  unsigned long set[16];
  int i;
  for (i = 0; i < 16; i++) set[i] = 0;
  for (i = 0; forwarded[i]; i++) set[0] |= 1UL << (forwarded[i] - 1);
  sigprocmask(how, set, 0);
}

static void default_signals(void) {
  unsigned long none[16];
  struct k_sigaction sa;
  int i;
  for (i = 0; i < 16; i++) none[i] = 0, sa.mask[i] = 0;
  sa.handler = 0; /* SIG_DFL */
  sa.flags = 0;
  sa.restorer = 0;
  for (i = 1; i < 65; i++)
    if (i != 9 && i != 19 && i != 32 && i != 33) sigaction(i, &sa, 0);
  sigprocmask(SIG_SETMASK_, none, 0);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY_ | O_CLOEXEC_);
  if (fd < 0 || write(fd, text, slen(text)) < 0) fail(path);
  close(fd);
}

static void put_id_map(const char *path, int id) {
  char buf[40];
  char digits[12];
  int n = 0, i = 0, k;
  do {
    digits[n++] = (char)('0' + id % 10);
    id /= 10;
  } while (id);
  for (k = 0; k < 2; k++) {
    int j;
    for (j = n - 1; j >= 0; j--) buf[i++] = digits[j];
    buf[i++] = ' ';
  }
  buf[i++] = '1';
  buf[i++] = '\n';
  buf[i] = 0;
  write_file(path, buf);
}

/*
 * The credentials the policy knows are covered in a mount namespace of the plugin's
 * own: a folder by an empty read-only tmpfs, a file by an empty read-only file, so no
 * path the plugin can name reaches them (a build's chmod by path included). "/" is
 * made private first: without it the covers would propagate to the host's mounts.
 * Where no mount namespace can be made (a container's seccomp), the run goes on as
 * before, with Landlock alone keeping the credentials unreadable: nothing was changed
 * yet. Once the namespace exists, any failing step stops the run: a plugin never runs
 * with some credentials covered and others not.
 */
static void hide_credentials(struct job *j) {
  int i;
  if (!j->hide || !j->hide[0]) return;
  if (unshare(CLONE_NEWNS) < 0) return;
  if (mount(0, "/", 0, MS_REC_ | MS_PRIVATE_, 0) < 0) fail("making the plugin's mounts private");
  for (i = 0; j->hide[i]; i++) {
    const char *kind = j->hide[i], *path = j->hide[i] + 1;
    if (kind[0] == 'd') {
      if (mount("fledge-hidden", path, "tmpfs", COVER_FLAGS, "size=4k,mode=0700") < 0) fail2("covering ", path);
    } else {
      if (mount(j->cover, path, 0, MS_BIND_, 0) < 0) fail2("covering ", path);
      if (mount(0, path, 0, MS_REMOUNT_ | MS_BIND_ | COVER_FLAGS, 0) < 0) fail2("making read-only the cover of ", path);
    }
  }
}

/* The plugin: its credentials covered, its own /proc folder, then the same steps the in-process launcher takes. */
static void plugin(struct job *j) {
  struct landlock_path_beneath rule;
  unsigned int caphdr[2] = {0x20080522, 0};
  unsigned int capdata[6] = {0, 0, 0, 0, 0, 0};
  int cap, fd;
  default_signals();
  hide_credentials(j);
  /* "/proc/self" names this process as the mounted /proc sees it (the host's pid
   * namespace: no new /proc is mounted); getpid() would give the namespace's number. */
  fd = open("/proc/self", O_PATH_ | O_DIRECTORY_ | O_CLOEXEC_);
  if (fd >= 0 && j->proc_rights) {
    rule.allowed = j->proc_rights;
    rule.fd = fd;
    if (syscall(NR_LANDLOCK_ADD_RULE, j->ruleset_fd, 1, &rule, 0) < 0) fail("landlock_add_rule for /proc/self");
  }
  if (fd >= 0) close(fd);
  if (chdir(j->cwd) < 0) fail("chdir");
  /* Nothing the plugin creates is group/other-writable: 022 joins its umask here, and
   * the seccomp filter lets it only tighten the umask afterwards. */
  umask(umask(022) | 022);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall(NR_LANDLOCK_RESTRICT_SELF, j->ruleset_fd, 0) < 0) fail("landlock_restrict_self");
  close(j->ruleset_fd);
  if (j->fprog && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (unsigned long)j->fprog, 0, 0) < 0) fail("seccomp");
  syscall(NR_CLOSE_RANGE, 3, ~0U, 0);
  for (cap = 0; cap < 64; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      int e = *__errno_location();
      if (e == EINVAL_ || e == EPERM_) break;
      fail("dropping a capability");
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (syscall(NR_CAPSET, caphdr, capdata) < 0) fail("capset");
  execve(j->path, j->argv, j->envp);
  say("cannot run ", j->path);
  _exit(126);
}

/* pid 1 of the namespace. Its exit makes the kernel kill the rest. */
static int init_main(void *arg) {
  struct job *j = (struct job *)arg;
  char byte;
  pid_t child;
  int status = 0;
  /* The launcher's death (even by SIGKILL) ends the namespace; the read closes the race
   * of a launcher that died before the prctl: its end of `alive` is then closed. */
  prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0);
  /* The mark of a plugin's process (init never execs, so it changes nothing else): once
   * the launcher is gone, fledge's reaper kills init and waits for it, and a dying init
   * stays alive until the kernel has reaped every process of the namespace, so the
   * after-run check starts only once nothing of the run is left. */
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (read(j->alive[0], &byte, 1) == 0) _exit(1);
  is_init = 1;
  close(j->report[0]);
  if (j->user_ns) {
    write_file("/proc/self/setgroups", "deny");
    put_id_map("/proc/self/uid_map", j->uid);
    put_id_map("/proc/self/gid_map", j->gid);
  }
  set_handlers();
  /* The raw call, not glibc's fork(): that one takes malloc's locks, which a thread of
   * the launcher this process was cloned from may have been holding for good. */
  child = (pid_t)syscall(NR_CLONE, SIGCHLD_, 0, 0, 0, 0);
  if (child < 0) fail("fork");
  if (child == 0) plugin(j);
  close(j->ruleset_fd);
  forward_to = child;
  block_forwarded(SIG_UNBLOCK_);
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p == child) {
      status = st;
      break;
    }
    if (p < 0 && *__errno_location() != EINTR_) break;
  }
  write(j->report[1], &status, sizeof status);
  _exit(0);
  return 0;
}

/*
 * Run the plugin in a new PID namespace. Returns only when no namespace could be made
 * (the caller then confines in process, as without this file): -1 and errno. Otherwise
 * it never returns: the process ends as the plugin did.
 */
int fledge_pidns_run(int ruleset_fd, unsigned long long proc_rights, const void *fprog, const char *path, char *const *argv, char *const *envp, const char *cwd, int uid, int gid, char *const *hide, const char *cover) {
  static struct job j;
  char *stack = (char *)malloc(STACK_SIZE);
  pid_t init;
  int status = 0, got = 0, st, i;
  struct rlimit64 nocore = {0, 0};
  if (!stack) return -1;
  j.ruleset_fd = ruleset_fd;
  j.proc_rights = proc_rights;
  j.fprog = fprog;
  j.path = path;
  j.argv = argv;
  j.envp = envp;
  j.cwd = cwd;
  j.uid = uid;
  j.gid = gid;
  j.hide = hide;
  j.cover = cover;
  launcher_leads_group = getpgrp() == getpid();
  if (pipe2(j.report, O_CLOEXEC_) < 0) return -1;
  if (pipe2(j.alive, O_CLOEXEC_ | O_NONBLOCK_) < 0) return -1;
  j.user_ns = 0;
  block_forwarded(SIG_BLOCK_);
  /* A private IPC namespace too: message queues, SysV shared memory, semaphores and
   * message queues a plugin creates are its run's own and end with it, instead of
   * living on in the system's namespace where another user's process finds them.
   * Where a container allows a PID namespace but not an IPC one, the PID namespace
   * alone is still taken (seccomp refuses the IPC calls either way). */
  {
    static const int tries[] = {CLONE_NEWPID | CLONE_NEWIPC, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWUSER | CLONE_NEWPID};
    int t;
    init = -1;
    for (t = 0; t < 4 && init < 0; t++) {
      j.user_ns = (tries[t] & CLONE_NEWUSER) != 0;
      init = clone(init_main, stack + STACK_SIZE, tries[t] | SIGCHLD_, &j);
    }
  }
  if (init < 0) {
    int e = *__errno_location();
    close(j.report[0]);
    close(j.report[1]);
    close(j.alive[0]);
    close(j.alive[1]);
    block_forwarded(SIG_UNBLOCK_);
    *__errno_location() = e;
    return -1;
  }
  close(j.report[1]);
  close(j.alive[0]);
  close(ruleset_fd);
  forward_to = init;
  set_handlers();
  block_forwarded(SIG_UNBLOCK_);
  for (;;) {
    pid_t p = waitpid(init, &st, 0);
    if (p == init) break;
    if (p < 0 && *__errno_location() != EINTR_) break;
  }
  while ((i = (int)read(j.report[0], (char *)&status + got, sizeof status - got)) != 0) {
    if (i > 0) got += i;
    else if (*__errno_location() != EINTR_) break;
    if (got == sizeof status) break;
  }
  if (got != sizeof status) _exit(126); /* init died before the plugin ended (killed) */
  if ((status & 0x7f) == 0) _exit((status >> 8) & 0xff);
  /* A signal death: the same signal, without a core file of the launcher. The raw
   * calls, not glibc's: its sigaction, sigprocmask and raise refuse or hide the signals
   * it keeps for itself (32 and 33), which a plugin can still die of. The kernel's
   * sigaction holds the handler, flags, restorer and an 8-byte mask, whose size is
   * passed along. */
  {
    int sig = status & 0x7f;
    struct kernel_sigaction {
      unsigned long handler;
      unsigned long flags;
      unsigned long restorer;
      unsigned long mask;
    } ka;
    unsigned long none = 0;
    ka.handler = 0; /* SIG_DFL */
    ka.flags = 0;
    ka.restorer = 0;
    ka.mask = 0;
    setrlimit(RLIMIT_CORE_, &nocore);
    forward_to = 0;
    syscall(NR_RT_SIGACTION, sig, &ka, 0, 8);
    syscall(NR_RT_SIGPROCMASK, SIG_SETMASK_, &none, 0, 8);
    syscall(NR_KILL, getpid(), sig);
    raise(sig);
    _exit(128 + sig);
  }
  return -1;
}
