/**
 * Build the release assets: `bun run scripts/release.ts [--host-only] [--target OS-ARCH]... [--out-dir DIR]`
 *
 * For every target, scripts/build.ts compiles fledge with `--target=bun-<os>-<arch>` into
 * `<out-dir>/fledge-<os>-<arch>[.exe]` (default out-dir: dist/release). Then SHA256SUMS
 * (sha256sum format) covers every asset that was built, plus install.sh, which is
 * published next to the binaries so `.../releases/latest/download/install.sh` works.
 * The published install.sh names the release repository, taken from package.json's
 * "repository" (the one place it is set; see `releaseRepo`).
 *
 * Cross targets need Bun to download that platform's runtime (from the npm registry,
 * cached in ~/.bun/install/cache). When that is impossible the target is reported as
 * skipped, with the reason, and the others are still built; the exit code is then 1
 * so a release job never publishes an incomplete set by accident. `--host-only` builds
 * just this machine's target, which is also smoke-tested (`--version`).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

export interface Target {
  os: "linux" | "darwin" | "windows";
  arch: "x64" | "arm64";
}

export const TARGETS: readonly Target[] = [
  { os: "linux", arch: "x64" },
  { os: "linux", arch: "arm64" },
  { os: "darwin", arch: "x64" },
  { os: "darwin", arch: "arm64" },
  { os: "windows", arch: "x64" },
];

const ROOT = join(import.meta.dir, "..");
const BUILD_TIMEOUT_MS = 10 * 60_000;

export function targetId(t: Target): string {
  return `${t.os}-${t.arch}`;
}

/** The asset name scripts/install.sh looks for; keep the two in step. */
export function assetName(t: Target): string {
  return `fledge-${targetId(t)}${t.os === "windows" ? ".exe" : ""}`;
}

/**
 * OWNER/NAME of the GitHub repository releases are published from: package.json's
 * "repository" is the only place it is written down; install.sh and the README follow it.
 */
export function releaseRepo(pkg: { repository?: string | { url?: string } } = readPackage()): string {
  const raw = typeof pkg.repository === "string" ? pkg.repository : (pkg.repository?.url ?? "");
  const m = /^(?:github:|git\+https:\/\/github\.com\/|https:\/\/github\.com\/)?([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+?)(?:\.git)?\/?$/.exec(raw);
  if (!m) throw new Error(`package.json "repository" must name a GitHub repository (github:OWNER/NAME or https://github.com/OWNER/NAME), got '${raw}'`);
  return `${m[1]}/${m[2]}`;
}

function readPackage(): { version: string; repository?: string | { url?: string } } {
  return JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; repository?: string | { url?: string } };
}

/** install.sh as published: its `release_repo` placeholder replaced by the release repository. */
export function stampInstallScript(text: string, repo: string): string {
  const placeholder = 'release_repo="@RELEASE_REPO@"';
  if (!text.includes(placeholder)) throw new Error(`scripts/install.sh has no ${placeholder} line to stamp`);
  return text.replace(placeholder, `release_repo="${repo}"`);
}

export function hostTarget(platform: NodeJS.Platform = process.platform, arch: string = process.arch): Target | undefined {
  const os = platform === "linux" ? "linux" : platform === "darwin" ? "darwin" : platform === "win32" ? "windows" : undefined;
  return TARGETS.find((t) => t.os === os && t.arch === arch);
}

export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** `sha256sum` output format: digest, two spaces (text mode), file name. */
export function sha256sumsText(entries: readonly { name: string; sha256: string }[]): string {
  return [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((e) => `${e.sha256}  ${e.name}\n`).join("");
}

/** A build failed because the target's Bun runtime could not be fetched (no network, no cache). */
export function isDownloadFailure(stderr: string): boolean {
  return /failed to download|download(ing)? .*(fail|error)|ConnectionRefused|ConnectionClosed|unable to connect|network|ENOTFOUND|EAI_AGAIN|timed? ?out/i.test(stderr);
}

interface Outcome {
  target: Target;
  ok: boolean;
  why?: string;
}

async function buildTarget(t: Target, outDir: string, host: Target | undefined): Promise<Outcome> {
  const out = join(outDir, assetName(t));
  const isHost = host !== undefined && targetId(host) === targetId(t);
  // The host target needs no download: build.ts without a target compiles with this Bun.
  const args = [process.execPath, join(ROOT, "scripts", "build.ts"), out, ...(isHost ? [] : [`bun-${targetId(t)}`])];
  process.stderr.write(`release: building ${assetName(t)}${isHost ? " (host)" : ""}\n`);
  const proc = Bun.spawn(args, { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: BUILD_TIMEOUT_MS });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0 || !existsSync(out)) {
    rmSync(out, { force: true });
    const detail = stderr.trim().split("\n").filter((l) => l.trim() !== "" && !/^Bun v\d/.test(l)).slice(-3).join(" | ");
    if (!isHost && (isDownloadFailure(stderr) || proc.signalCode)) {
      return {
        target: t,
        ok: false,
        why:
          `Bun could not download the bun-${targetId(t)} runtime needed to cross-compile (${detail || `killed by ${proc.signalCode}`}). ` +
          `Cross targets need network access to the npm registry or a cached runtime in ~/.bun/install/cache; ` +
          `build this one on a machine with network, or natively on ${targetId(t)}.`,
      };
    }
    return { target: t, ok: false, why: `build failed (exit ${code}): ${detail}` };
  }
  if (t.os !== "windows") chmodSync(out, 0o755);
  if (isHost) {
    const why = smokeTest(out);
    if (why) {
      rmSync(out, { force: true });
      return { target: t, ok: false, why };
    }
  }
  return { target: t, ok: true };
}

/** The host binary must run and name its version and the commit it was built from. */
function smokeTest(bin: string): string | undefined {
  const pkg = readPackage();
  const r = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const out = r.stdout.toString();
  const want = new RegExp(`^fledge ${pkg.version.replace(/\./g, "\\.")} \\((?!source\\))[^\\s)]+\\)\\n$`);
  if (r.exitCode !== 0 || !want.test(out)) {
    return `smoke test failed: '${bin} --version' exited ${r.exitCode} and printed ${JSON.stringify(out)} ${JSON.stringify(r.stderr.toString())}; expected 'fledge ${pkg.version} (<commit>)'`;
  }
  process.stderr.write(`release: smoke test ok: ${out}`);
  return undefined;
}

function parseArgs(argv: string[]): { targets: Target[]; outDir: string } {
  let hostOnly = false;
  let outDir = join(ROOT, "dist", "release");
  const picked: Target[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined || v === "") fail(`${a} needs a value`);
      return v;
    };
    if (a === "--host-only") hostOnly = true;
    else if (a === "--out-dir" || a.startsWith("--out-dir=")) outDir = value();
    else if (a === "--target" || a.startsWith("--target=")) {
      const id = value().replace(/^bun-/, "");
      const t = TARGETS.find((x) => targetId(x) === id);
      if (!t) fail(`unknown target '${id}'; known: ${TARGETS.map(targetId).join(", ")}`);
      picked.push(t);
    } else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: bun run scripts/release.ts [--host-only] [--target OS-ARCH]... [--out-dir DIR]\n");
      process.exit(0);
    } else fail(`unknown argument '${a}'`);
  }
  let targets = picked.length ? picked : [...TARGETS];
  if (hostOnly) {
    const host = hostTarget();
    if (!host) fail(`this machine (${process.platform}-${process.arch}) is not a release target`);
    targets = [host];
  }
  return { targets, outDir };
}

function fail(message: string): never {
  process.stderr.write(`release: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  const { targets, outDir } = parseArgs(process.argv.slice(2));
  mkdirSync(outDir, { recursive: true });
  // Stale assets from an earlier run would be published with checksums that no longer match.
  for (const t of TARGETS) rmSync(join(outDir, assetName(t)), { force: true });
  rmSync(join(outDir, "SHA256SUMS"), { force: true });

  const host = hostTarget();
  const outcomes: Outcome[] = [];
  for (const t of targets) outcomes.push(await buildTarget(t, outDir, host));

  const script = stampInstallScript(readFileSync(join(ROOT, "scripts", "install.sh"), "utf8"), releaseRepo());
  await Bun.write(join(outDir, "install.sh"), script);
  chmodSync(join(outDir, "install.sh"), 0o755);
  const names = [...outcomes.filter((o) => o.ok).map((o) => assetName(o.target)), "install.sh"];
  const entries = await Promise.all(names.map(async (name) => ({ name, sha256: await sha256File(join(outDir, name)) })));
  await Bun.write(join(outDir, "SHA256SUMS"), sha256sumsText(entries));

  const shown = relative(process.cwd(), outDir) || ".";
  for (const o of outcomes) {
    process.stdout.write(o.ok ? `built    ${join(shown, assetName(o.target))}\n` : `SKIPPED  ${assetName(o.target)}: ${o.why}\n`);
  }
  process.stdout.write(`wrote    ${join(shown, "SHA256SUMS")} (${entries.length} files)\n`);
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length) {
    process.stderr.write(`release: ${failed.length} of ${outcomes.length} targets not built: ${failed.map((o) => targetId(o.target)).join(", ")}\n`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exit(await main());
