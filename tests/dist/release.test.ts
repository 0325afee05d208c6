import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { assetName, hostTarget, isDownloadFailure, releaseRepo, sha256sumsText, TARGETS } from "../../scripts/release.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const host = hostTarget();
const work = tempDir("fledge-release-");

function release(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "release.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 300_000,
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

afterAll(() => work.cleanup());

describe("release helpers", () => {
  test("asset names match what install.sh asks for", () => {
    expect(TARGETS.map(assetName)).toEqual(["fledge-linux-x64", "fledge-linux-arm64", "fledge-darwin-x64", "fledge-darwin-arm64", "fledge-windows-x64.exe"]);
    expect(hostTarget("linux", "x64")).toEqual({ os: "linux", arch: "x64" });
    expect(hostTarget("darwin", "arm64")).toEqual({ os: "darwin", arch: "arm64" });
    expect(hostTarget("win32", "x64")).toEqual({ os: "windows", arch: "x64" });
    expect(hostTarget("freebsd", "x64")).toBeUndefined();
  });

  test("SHA256SUMS uses sha256sum's format, sorted", () => {
    expect(sha256sumsText([{ name: "b", sha256: "2".repeat(64) }, { name: "a", sha256: "1".repeat(64) }])).toBe(`${"1".repeat(64)}  a\n${"2".repeat(64)}  b\n`);
  });

  test("recognises Bun's runtime download failure", () => {
    expect(isDownloadFailure("error: Failed to download 'bun-darwin-aarch64-v1.4.5': ConnectionRefused")).toBe(true);
    expect(isDownloadFailure("error: Could not resolve: \"./nope.ts\"")).toBe(false);
  });
});

describe.skipIf(host === undefined)("scripts/release.ts --host-only", () => {
  const out = join(work.path, "host");
  let r: ReturnType<typeof release>;
  beforeAll(() => {
    r = release(["--host-only", "--out-dir", out]);
  }, 300_000);

  test("builds the host asset and SHA256SUMS", () => {
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["SHA256SUMS", assetName(host!), "install.sh"].sort());
  });

  test("SHA256SUMS verifies with sha256sum -c", () => {
    const sums = readFileSync(join(out, "SHA256SUMS"), "utf8");
    expect(sums).toMatch(new RegExp(`^[0-9a-f]{64}  ${assetName(host!).replace(".", "\\.")}$`, "m"));
    const check = Bun.spawnSync(["sha256sum", "-c", "SHA256SUMS"], { cwd: out, stdout: "pipe", stderr: "pipe" });
    expect(check.exitCode).toBe(0);
  });

  test("the published install.sh names package.json's repository", () => {
    const script = readFileSync(join(out, "install.sh"), "utf8");
    expect(script).toContain(`release_repo="${releaseRepo()}"`);
    expect(script).not.toContain("@RELEASE_REPO@");
  });

  test("install.sh installs that release from a loopback release server, verified", async () => {
    const served: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const name = decodeURIComponent(new URL(req.url).pathname).replace(/^\/download\//, "");
        served.push(name);
        if (name.includes("/") || name.includes("..")) return new Response("Not Found", { status: 404 });
        const f = Bun.file(join(out, name));
        return (await f.exists()) ? new Response(f) : new Response("Not Found", { status: 404 });
      },
    });
    try {
      const home = join(work.path, "install-home");
      mkdirSync(home, { recursive: true });
      const proc = Bun.spawn(["sh", join(out, "install.sh"), "--dir", join(home, "bin")], {
        env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: home, FLEDGE_RELEASE_URL: `http://127.0.0.1:${server.port}/download` },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expect(stderr).toContain("checksum ok");
      expect(code).toBe(0);
      expect(served).toEqual(["SHA256SUMS", assetName(host!)]);
      expect(stdout).toMatch(new RegExp(`^installed fledge ${pkg.version.replace(/\./g, "\\.")} \\([0-9a-f]{7,40}(-dirty)?\\) to ${join(home, "bin", "fledge")}\\n$`));
      const v = Bun.spawnSync([join(home, "bin", "fledge"), "--version"], { stdout: "pipe" });
      expect(v.exitCode).toBe(0);
      expect(v.stdout.toString()).toStartWith(`fledge ${pkg.version} (`);
    } finally {
      server.stop(true);
    }
  }, 120_000);

  test("the release binary names its version and commit", () => {
    const v = Bun.spawnSync([join(out, assetName(host!)), "--version"], { stdout: "pipe", stderr: "pipe" });
    expect(v.exitCode).toBe(0);
    expect(v.stdout.toString()).toMatch(new RegExp(`^fledge ${pkg.version.replace(/\./g, "\\.")} \\((?!source)[0-9a-f]{7,40}(-dirty)?\\)\\n$`));
  });
});

// Without network and without a cached runtime, a cross target cannot be built: the
// script must say so for that target, still build the rest, and exit non-zero.
describe.skipIf(host === undefined)("scripts/release.ts when a cross runtime cannot be downloaded", () => {
  const out = join(work.path, "offline");
  const cross = TARGETS.find((t) => t.os !== host?.os)!;
  let r: ReturnType<typeof release>;
  beforeAll(() => {
    const emptyCache = join(work.path, "empty-bun-cache");
    mkdirSync(emptyCache);
    // A proxy on a closed loopback port makes every download fail fast.
    const dead = "http://127.0.0.1:9";
    r = release(["--out-dir", out, "--target", `${cross.os}-${cross.arch}`, "--target", `${host!.os}-${host!.arch}`], {
      BUN_INSTALL_CACHE_DIR: emptyCache,
      HTTPS_PROXY: dead,
      HTTP_PROXY: dead,
      https_proxy: dead,
      http_proxy: dead,
    });
  }, 300_000);

  test("reports the skipped target and why, and exits 1", () => {
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`SKIPPED  ${assetName(cross)}: Bun could not download the bun-${cross.os}-${cross.arch} runtime`);
    expect(r.stdout).toContain(`built    `);
  });

  test("still builds the host target and checksums only what was built", () => {
    expect(existsSync(join(out, assetName(host!)))).toBe(true);
    expect(existsSync(join(out, assetName(cross)))).toBe(false);
    const names = readFileSync(join(out, "SHA256SUMS"), "utf8").trim().split("\n").map((l) => l.split("  ")[1]);
    expect(names).toEqual([assetName(host!), "install.sh"].sort());
  });
});
