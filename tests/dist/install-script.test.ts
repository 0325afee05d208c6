import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { releaseRepo, stampInstallScript } from "../../scripts/release.ts";

/**
 * scripts/install.sh end to end against a release served on 127.0.0.1. A fake uname on
 * PATH picks the platform, so every OS/CPU mapping is exercised on any machine; the
 * "binary" is a tiny shell script that answers --version like fledge does.
 */

const SCRIPT = join(ROOT, "scripts", "install.sh");
const work = tempDir("fledge-install-");
const releases = join(work.path, "releases");
const fakeBin = join(work.path, "fakebin");
const requests: string[] = [];
let server: ReturnType<typeof Bun.serve>;
let base = "";

const ALL = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "windows-x64"];
const assetOf = (p: string) => `fledge-${p}${p.startsWith("windows") ? ".exe" : ""}`;
const fakeFledge = (tag: string) => `#!/bin/sh\necho "fledge 0.1.0 (${tag})"\n`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A release directory: the given assets, and SHA256SUMS unless told otherwise. */
function makeRelease(name: string, platforms: string[], opts: { sums?: boolean; corrupt?: boolean } = {}): void {
  const dir = join(releases, name);
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (const p of platforms) {
    const body = fakeFledge(`${name}-${p}`);
    lines.push(`${sha256(body)}  ${assetOf(p)}`);
    // The corrupted release serves different bytes than its SHA256SUMS promises.
    writeFileSync(join(dir, assetOf(p)), opts.corrupt ? `${body}echo pwned\n` : body);
  }
  if (opts.sums !== false) writeFileSync(join(dir, "SHA256SUMS"), `${lines.join("\n")}\n`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  installDir: string;
  tmp: string;
}

async function install(opts: { os?: string; cpu?: string; release?: string; shell?: string; env?: Record<string, string>; args?: string[]; path?: string[]; script?: string } = {}): Promise<Run> {
  const run = tempDir("fledge-install-run-");
  const installDir = join(run.path, "bin");
  const tmp = join(run.path, "tmp");
  mkdirSync(tmp);
  const env: Record<string, string> = {
    PATH: [...(opts.path ?? []), fakeBin, "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: run.path,
    TMPDIR: tmp,
    FAKE_UNAME_S: opts.os ?? "Linux",
    FAKE_UNAME_M: opts.cpu ?? "x86_64",
    FLEDGE_INSTALL_DIR: installDir,
    ...(opts.release !== undefined ? { FLEDGE_RELEASE_URL: `${base}/${opts.release}` } : {}),
    ...opts.env,
  };
  const proc = Bun.spawn([opts.shell ?? "dash", opts.script ?? SCRIPT, ...(opts.args ?? [])], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  cleanups.push(run.cleanup);
  return { code, stdout, stderr, installDir, tmp };
}
const cleanups: (() => void)[] = [];

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

beforeAll(() => {
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(join(fakeBin, "uname"), '#!/bin/sh\ncase "$1" in -s) echo "$FAKE_UNAME_S" ;; -m) echo "$FAKE_UNAME_M" ;; *) echo "$FAKE_UNAME_S" ;; esac\n');
  chmodSync(join(fakeBin, "uname"), 0o755);
  makeRelease("good", ALL);
  makeRelease("corrupt", ALL, { corrupt: true });
  makeRelease("linux-only", ["linux-x64", "linux-arm64"]);
  makeRelease("nosums", ALL, { sums: false });
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requests.push(path);
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      const file = Bun.file(join(releases, path));
      return (await file.exists()) ? new Response(file) : new Response("Not Found", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server?.stop(true);
  for (const c of cleanups) c();
  work.cleanup();
});

describe("install.sh", () => {
  test("parses as POSIX sh (dash -n) and bash", () => {
    for (const sh of ["dash", "bash"]) expect(Bun.spawnSync([sh, "-n", SCRIPT]).exitCode).toBe(0);
  });

  test("installs the verified binary with dash and curl, and says how to put it on PATH", async () => {
    const r = await install({ release: "good" });
    expect(r.stderr).toContain("checksum ok");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`installed fledge 0.1.0 (good-linux-x64) to ${join(r.installDir, "fledge")}\n`);
    expect(readFileSync(join(r.installDir, "fledge"), "utf8")).toBe(fakeFledge("good-linux-x64"));
    expect(listing(r.installDir)).toEqual(["fledge"]);
    // Executable, and nothing left in the temp dir.
    expect(Bun.spawnSync([join(r.installDir, "fledge"), "--version"]).stdout.toString()).toBe("fledge 0.1.0 (good-linux-x64)\n");
    expect(listing(r.tmp)).toEqual([]);
    expect(r.stderr).toContain(`${r.installDir} is not on your PATH`);
    expect(r.stderr).toContain(`export PATH="${r.installDir}:$PATH"`);
  });

  test.skipIf(Bun.which("wget") === null)("works with bash and wget, --base-url and --dir, and is quiet about PATH when it is on PATH", async () => {
    const other = tempDir("fledge-install-dir-");
    cleanups.push(other.cleanup);
    const r = await install({ shell: "bash", env: { FLEDGE_DOWNLOADER: "wget" }, args: ["--base-url", `${base}/good/`, "--dir", other.path], path: [other.path] });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`installed fledge 0.1.0 (good-linux-x64) to ${join(other.path, "fledge")}\n`);
    expect(r.stderr).not.toContain("not on your PATH");
    expect(listing(r.tmp)).toEqual([]);
  });

  test("replaces an existing fledge", async () => {
    const dir = tempDir("fledge-install-dir-");
    cleanups.push(dir.cleanup);
    writeFileSync(join(dir.path, "fledge"), "old");
    const r = await install({ release: "good", args: ["--dir", dir.path] });
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir.path, "fledge"), "utf8")).toBe(fakeFledge("good-linux-x64"));
    expect(listing(dir.path)).toEqual(["fledge"]);
  });

  test("refuses a corrupted asset: nothing installed, old binary untouched, no temp left", async () => {
    for (const shell of ["dash", "bash"]) {
      const dir = tempDir("fledge-install-dir-");
      cleanups.push(dir.cleanup);
      writeFileSync(join(dir.path, "fledge"), "old");
      const r = await install({ shell, release: "corrupt", args: ["--dir", dir.path] });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("checksum mismatch for fledge-linux-x64");
      expect(r.stderr).toContain("nothing was installed");
      expect(r.stdout).toBe("");
      expect(listing(dir.path)).toEqual(["fledge"]);
      expect(readFileSync(join(dir.path, "fledge"), "utf8")).toBe("old");
      expect(listing(r.tmp)).toEqual([]);
    }
  });

  test("refuses to install without SHA256SUMS", async () => {
    const r = await install({ release: "nosums" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not download ${base}/nosums/SHA256SUMS`);
    expect(r.stderr).toContain("nothing was installed");
    expect(listing(r.installDir)).toEqual([]);
    expect(listing(r.tmp)).toEqual([]);
    // It never even fetched the binary.
    expect(requests).not.toContain("/nosums/fledge-linux-x64");
  });

  test("a release without this platform says which platforms it has", async () => {
    const r = await install({ release: "linux-only", os: "Darwin", cpu: "arm64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("this release has no build for darwin-arm64 (no fledge-darwin-arm64 in SHA256SUMS; available: linux-x64, linux-arm64)");
    expect(listing(r.installDir)).toEqual([]);
    expect(listing(r.tmp)).toEqual([]);
  });

  test("an unsupported OS or CPU gets a clear message", async () => {
    const cpu = await install({ release: "good", cpu: "riscv64" });
    expect(cpu.code).toBe(1);
    expect(cpu.stderr).toContain("no fledge build for this CPU (riscv64 on Linux)");
    const os = await install({ release: "good", os: "SunOS", cpu: "x86_64" });
    expect(os.code).toBe(1);
    expect(os.stderr).toContain("no fledge build for this operating system (SunOS)");
  });

  test.each([
    ["Linux", "x86_64", "linux-x64", "fledge"],
    ["Linux", "amd64", "linux-x64", "fledge"],
    ["Linux", "aarch64", "linux-arm64", "fledge"],
    ["Linux", "arm64", "linux-arm64", "fledge"],
    ["Darwin", "x86_64", "darwin-x64", "fledge"],
    ["Darwin", "arm64", "darwin-arm64", "fledge"],
    ["MINGW64_NT-10.0-19045", "x86_64", "windows-x64", "fledge.exe"],
    ["MSYS_NT-10.0-19045", "x86_64", "windows-x64", "fledge.exe"],
  ])("uname %s %s → %s", async (os, cpu, platform, installedName) => {
    const r = await install({ release: "good", os, cpu });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`installed fledge 0.1.0 (good-${platform}) to ${join(r.installDir, installedName)}\n`);
    expect(listing(r.installDir)).toEqual([installedName]);
  });

  test("--version and --repo pick the GitHub release URL; the published script defaults to package.json's repository", async () => {
    // A curl that records what it was asked for and fails, so no network is touched.
    const logFile = join(work.path, "curl.log");
    const shimDir = join(work.path, "curlshim");
    mkdirSync(shimDir, { recursive: true });
    writeFileSync(join(shimDir, "curl"), `#!/bin/sh\nfor a; do last="$a"; done\necho "$last" >> "${logFile}"\nexit 22\n`);
    chmodSync(join(shimDir, "curl"), 0o755);
    const repo = releaseRepo();
    const stamped = join(work.path, "install-stamped.sh");
    writeFileSync(stamped, stampInstallScript(readFileSync(SCRIPT, "utf8"), repo));
    const cases: [string[], string][] = [
      [[], `https://github.com/${repo}/releases/latest/download/SHA256SUMS`],
      [["--version", "v0.2.0"], `https://github.com/${repo}/releases/download/v0.2.0/SHA256SUMS`],
      [["--version", "0.2.0", "--repo", "someone/fork"], "https://github.com/someone/fork/releases/download/v0.2.0/SHA256SUMS"],
    ];
    for (const [args, url] of cases) {
      const r = await install({ args, path: [shimDir], script: stamped });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`could not download ${url}`);
    }
    expect(readFileSync(logFile, "utf8")).toBe(cases.map(([, url]) => `${url}\n`).join(""));
  });

  test("the unstamped script from a checkout asks for --repo instead of guessing a repository", async () => {
    const r = await install({});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("names no release repository");
    expect(r.stderr).toContain("--repo OWNER/NAME");
    const bad = await install({ args: ["--repo", "a/b/../c"] });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--repo must be OWNER/NAME");
  });

  test("a mirror URL must be https; plain http only to this machine", async () => {
    for (const url of ["http://example.com/r", "ftp://127.0.0.1/r", "http://127.0.0.1.evil.test/r", "file:///tmp/r"]) {
      const r = await install({ args: ["--base-url", url] });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("--base-url must start with https://");
      expect(listing(r.installDir)).toEqual([]);
    }
  });

  test("the README's release URLs and bunx commands follow package.json", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const pkgJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string };
    const repos = [...readme.matchAll(/https:\/\/github\.com\/([^/\s]+\/[^/\s]+)\/releases/g)].map((m) => m[1]);
    expect(repos.length).toBeGreaterThan(0);
    expect(new Set(repos)).toEqual(new Set([releaseRepo()]));
    // Every `bunx X` / `bun add ... X` names our package (or the `fledge` bin it installs).
    for (const m of readme.matchAll(/\bbunx (?:--[a-z-]+ )*([^\s`]+)/g)) expect(["fledge", pkgJson.name]).toContain(m[1]!);
    for (const m of readme.matchAll(/\bbun add (?:-d|--dev) ([^\s`]+)/g)) expect(m[1]).toBe(pkgJson.name);
    expect(readme).toContain(`bunx ${pkgJson.name}`);
    expect(readFileSync(SCRIPT, "utf8")).toContain(`bunx ${pkgJson.name}`);
    expect(readFileSync(SCRIPT, "utf8")).not.toMatch(/bunx fledge\b(?!-)/);
  });

  test("unknown options are usage errors", async () => {
    const r = await install({ args: ["--frobnicate"] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
    expect(r.stderr).toContain("usage: install.sh");
  });
});
