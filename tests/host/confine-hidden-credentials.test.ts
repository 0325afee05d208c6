/**
 * Credentials covered in the plugin's mount namespace: a build keeps chmod by path, so
 * without the covers it could make ~/.ssh/id_ed25519 (or, as root, a root-only /etc
 * secret) readable to every local user. Each case is a real confined run through
 * spawnPlugin with the build flag, in a temp HOME; the host's key and mount table are
 * checked after it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kernelLandlockAbi, pluginConfinement, spawnPlugin } from "../../src/confine/index.ts";
import { credentialsToHide } from "../../src/confine/hide.ts";
import { tempDir } from "../helpers/cli.ts";
import { canRunAsUser } from "../helpers/other-user.ts";

const confinable = process.platform === "linux" && kernelLandlockAbi() >= 1;
const T = 30_000;
const root = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: { path: string; cleanup: () => void };
let home: string;
let pluginDir: string;
let key: string;

beforeAll(() => {
  dir = tempDir("fledge-hidden-creds-");
  const base = realpathSync(dir.path);
  home = join(base, "home");
  pluginDir = join(home, ".config", "fledge", "plugins", "builder");
  mkdirSync(pluginDir, { recursive: true });
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  key = join(home, ".ssh", "id_ed25519");
  writeFileSync(key, "secret-key\n");
  chmodSync(key, 0o600);
  writeFileSync(join(home, ".netrc"), "machine x password p\n", { mode: 0o600 });
});
afterAll(() => dir?.cleanup());

/** Run `script` as a confined build of the plugin `builder`; its output and exit code. */
async function build(script: string): Promise<{ code: number; out: string }> {
  const bin = join(pluginDir, "build.sh");
  writeFileSync(bin, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  const env = { PATH: "/usr/bin:/bin", HOME: home, LANG: "C", FLEDGE_CONFIG_DIR: join(home, ".config", "fledge") };
  const confinement = pluginConfinement({ name: "builder", pluginDir, capabilities: { filesystem: "none", network: false }, build: true });
  const { proc, settled } = spawnPlugin({ argv: [bin], cwd: pluginDir, env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  await settled;
  return { code, out: out + err };
}

/** The host's mounts, without the per-mount ids that are the same anyway. */
function mounts(): string {
  return readFileSync("/proc/self/mountinfo", "utf8");
}

describe.skipIf(!confinable)("credentials the policy knows cannot be named inside a confined run", () => {
  test(
    "a build's chmod of ~/.ssh/id_ed25519 never reaches the key, and the host's mounts are unchanged",
    async () => {
      const before = mounts();
      const r = await build(`chmod 644 "$HOME/.ssh/id_ed25519"; echo "chmod=$?"; chmod 755 "$HOME/.ssh"; echo "chmoddir=$?"; echo "ls=[$(ls -A "$HOME/.ssh" 2>/dev/null)]"; test -e "$HOME/.ssh/id_ed25519"; echo "exists=$?"; chmod 644 "$HOME/.netrc"; echo "netrc=$?"; echo done`);
      expect(r.out).toContain("done");
      expect(r.code).toBe(0);
      // The cover is read-only: the chmod fails (EROFS) instead of reaching the key.
      expect(r.out).not.toContain("chmod=0");
      expect(r.out).not.toContain("chmoddir=0");
      expect(r.out).not.toContain("netrc=0");
      // Nothing inside ~/.ssh has a name: the key is not there to be found (Landlock also refuses the listing).
      expect(r.out).toContain("ls=[]");
      expect(r.out).toContain("exists=1");
      expect(statSync(key).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, ".ssh")).mode & 0o777).toBe(0o700);
      expect(statSync(join(home, ".netrc")).mode & 0o777).toBe(0o600);
      expect(readFileSync(key, "utf8")).toBe("secret-key\n");
      expect(mounts()).toBe(before);
    },
    T,
  );

  test(
    "the plugin's own folder, inside fledge's config folder, stays reachable and writable",
    async () => {
      const r = await build(`echo made > "$FLEDGE_PLUGIN_DIR/out.txt" 2>/dev/null || echo made > ./out.txt; cat ./out.txt`);
      expect(r.code).toBe(0);
      expect(readFileSync(join(pluginDir, "out.txt"), "utf8")).toBe("made\n");
    },
    T,
  );
});

describe.skipIf(!confinable || !root)("as root, the /etc secrets are covered too", () => {
  test(
    "/etc/shadow is an empty read-only file inside the run and unchanged outside",
    async () => {
      const before = statSync("/etc/shadow");
      // Non-destructive probes: the size seen inside, and a chmod to the mode it already has.
      const mode = (before.mode & 0o777).toString(8);
      const r = await build(`echo "size=$(stat -c %s /etc/shadow)"; chmod ${mode} /etc/shadow; echo "chmod=$?"; echo done`);
      expect(r.out).toContain("done");
      expect(r.out).toContain("size=0");
      expect(r.out).toContain("chmod=1");
      expect(statSync("/etc/shadow").size).toBe(before.size);
    },
    T,
  );
});

describe.skipIf(!confinable || !root)("as another user (nobody), in a user namespace", () => {
  test(
    "a build's chmod of nobody's key fails and the key keeps 0600",
    async () => {
      if (!canRunAsUser(NOBODY, "the nobody run")) return;
      const d = tempDir("fledge-hidden-nobody-");
      try {
        chmodSync(d.path, 0o755);
        const h = join(realpathSync(d.path), "home");
        const pdir = join(h, ".config", "fledge", "plugins", "builder");
        mkdirSync(pdir, { recursive: true });
        mkdirSync(join(h, ".ssh"), { mode: 0o700 });
        const k = join(h, ".ssh", "id_ed25519");
        writeFileSync(k, "nobody-key\n", { mode: 0o600 });
        writeFileSync(join(pdir, "build.sh"), `#!/bin/sh\nchmod 644 "$HOME/.ssh/id_ed25519"; echo "chmod=$?"; test -e "$HOME/.ssh/id_ed25519"; echo "exists=$?"\n`, { mode: 0o755 });
        const runner = join(h, "run.ts");
        const src = join(import.meta.dir, "..", "..", "src", "confine", "index.ts");
        writeFileSync(
          runner,
          `import { pluginConfinement, spawnPlugin } from ${JSON.stringify(src)};
const env = { PATH: "/usr/bin:/bin", HOME: ${JSON.stringify(h)}, LANG: "C", FLEDGE_CONFIG_DIR: ${JSON.stringify(join(h, ".config", "fledge"))} };
const confinement = pluginConfinement({ name: "builder", pluginDir: ${JSON.stringify(pdir)}, capabilities: { filesystem: "none", network: false }, build: true });
const { proc, settled } = spawnPlugin({ argv: [${JSON.stringify(join(pdir, "build.sh"))}], cwd: ${JSON.stringify(pdir)}, env, fledgeEnv: {}, confinement, stdin: "ignore", stdout: "inherit", stderr: "inherit" });
process.exitCode = await proc.exited;
await settled;
`,
        );
        Bun.spawnSync(["chown", "-R", `${NOBODY}:${NOBODY}`, h]);
        const p = Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, runner], { cwd: h, env: { PATH: "/usr/bin:/bin", HOME: h, TMPDIR: h }, stdout: "pipe", stderr: "pipe" });
        const out = p.stdout.toString() + p.stderr.toString();
        expect(out).toContain("chmod=1");
        expect(out).toContain("exists=1");
        expect(statSync(k).mode & 0o777).toBe(0o600);
      } finally {
        d.cleanup();
      }
    },
    T,
  );
});

describe("which credentials are covered", () => {
  test("existing files and folders by resolved path; missing ones, ones inside a covered folder and ones holding a needed path are not", () => {
    const d = tempDir("fledge-hide-list-");
    try {
      const b = realpathSync(d.path);
      mkdirSync(join(b, ".ssh"));
      writeFileSync(join(b, ".ssh", "id_rsa"), "k");
      writeFileSync(join(b, ".netrc"), "n");
      mkdirSync(join(b, "fledge", "plugins", "p"), { recursive: true });
      const got = credentialsToHide([join(b, ".ssh"), join(b, ".ssh", "id_rsa"), join(b, ".netrc"), join(b, ".aws"), join(b, "fledge")], [join(b, "fledge", "plugins", "p")]);
      expect(got).toEqual([
        { path: join(b, ".netrc"), dir: false },
        { path: join(b, ".ssh"), dir: true },
      ]);
    } finally {
      d.cleanup();
    }
  });
});
