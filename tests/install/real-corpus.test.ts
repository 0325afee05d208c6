/**
 * Every real manifest in the shared corpus (../shared/fixtures/manifests, an extra
 * check only where it exists) is served from the loopback GitHub server with the
 * source layout its build needs, and installs, or fails with a message naming exactly
 * what is missing or wrong. The layout: the manifest; for a build hook naming a script,
 * that script; for one naming a program (cargo, swift, bun, bash), that program as a
 * stand-in on PATH; without a hook, the build file the repository has (Cargo.toml,
 * package.json: the automatic build) or the committed binaries. Stand-ins and scripts
 * write each declared binary (a small valid wasm module, or a shell script).
 * Our own fixtures reproduce each odd case (tests/install/auto-build, final-path,
 * prebuilt-unpinned, hooks and tests/manifest/*), so a clone without ../shared passes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { parseManifest } from "../../src/manifest/index.ts";
import { OFFICIAL_OWNERS, TEAM_OWNERS } from "../../src/trust/index.ts";
import { SHARED, tempDir } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { WASM_BYTES, readReg, runFledgeAsync } from "./helpers.ts";

setDefaultTimeout(60_000);

const DIR = join(SHARED, "fixtures", "manifests");
const HAVE_CORPUS = existsSync(join(DIR, "INDEX.tsv"));
if (!HAVE_CORPUS) console.log("real-corpus: ../shared/fixtures/manifests not found; the corpus install check is skipped (our own fixtures cover each case)");

interface Row {
  file: string;
  repo: string;
  cargo: boolean;
  packageJson: boolean;
}
const rows: Row[] = HAVE_CORPUS
  ? readFileSync(join(DIR, "INDEX.tsv"), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split("\t"))
      .map((c) => ({ file: c[0]!, repo: c[1]!, cargo: c[10] === "yes", packageJson: c[11] === "yes" }))
  : [];

const SHELL_OPS = ["&&", "||", "|", ";"];
let gh: GithubServer;
const tmp = tempDir("fledge-corpus-");
let n = 0;
const outcome: Record<string, number> = {};
const count = (k: string): void => void (outcome[k] = (outcome[k] ?? 0) + 1);
beforeAll(async () => {
  gh = await startGithubServer();
});
afterAll(() => {
  if (HAVE_CORPUS) console.log(`real-corpus: ${rows.length} manifests: ${Object.entries(outcome).map(([k, v]) => `${v} ${k}`).join(", ")}`);
  gh.stop();
  tmp.cleanup();
});

/**
 * A POSIX script that writes every declared binary where plugin.toml says. A native
 * binary is copied from an executable stub (cp creates it with the stub's mode):
 * `chmod +x` by path is refused inside a confined hook.
 */
function writerScript(binaries: { path: string; wasm: boolean }[], wasmFile: string, stubFile: string): string {
  const lines = ["#!/bin/sh", 'cd "${FLEDGE_PLUGIN_DIR:-.}"'];
  for (const b of binaries) {
    lines.push(`mkdir -p '${dirname(b.path)}'`);
    if (b.wasm) lines.push(`cp '${wasmFile}' '${b.path}'`);
    else lines.push(`cp '${stubFile}' '${b.path}'`);
  }
  return `${lines.join("\n")}\n`;
}

describe.skipIf(!HAVE_CORPUS)("every real manifest installs from the loopback GitHub, or says exactly what is missing", () => {
  for (const row of rows) {
    test(row.file, async () => {
      const text = readFileSync(join(DIR, row.file), "utf8");
      const parsed = parseManifest(text);
      const root = join(tmp.path, `c${++n}`);
      const src = join(root, "src");
      const fake = join(root, "fake-bin");
      mkdirSync(src, { recursive: true });
      mkdirSync(fake, { recursive: true });
      const wasmFile = join(root, "module.wasm");
      writeFileSync(wasmFile, WASM_BYTES);
      writeFileSync(join(src, "plugin.toml"), text);
      const m = parsed.manifest;
      const binaries = (m?.commands ?? []).map((c) => ({ path: c.binary, wasm: m?.runtime === "wasm" }));
      const stubFile = join(root, "stub");
      writeFileSync(stubFile, "#!/bin/sh\necho ok\n", { mode: 0o755 });
      const script = writerScript(binaries, wasmFile, stubFile);
      const build = m?.hooks.build?.trim();
      const write = (rel: string, body: string): void => {
        mkdirSync(dirname(join(src, rel)), { recursive: true });
        writeFileSync(join(src, rel), body);
        chmodSync(join(src, rel), 0o755);
      };
      if (build) {
        const words = build.split(/\s+/);
        const first = words[0]!;
        if (first.includes("/") || first.endsWith(".sh")) write(first, script);
        else {
          write(join("..", "fake-bin", first), script); // cargo, swift, bun, bash: a stand-in program
          if (first === "bash" && words[1]) write(words[1], script);
        }
      } else if (row.cargo) {
        write("Cargo.toml", "[package]\nname = 'x'\n");
        write(join("..", "fake-bin", "cargo"), script);
      } else if (row.packageJson) {
        write("package.json", "{}\n");
        write(join("..", "fake-bin", "npm"), script);
      } else {
        for (const b of binaries) b.wasm ? (mkdirSync(dirname(join(src, b.path)), { recursive: true }), writeFileSync(join(src, b.path), WASM_BYTES)) : write(b.path, "#!/bin/sh\necho ok\n");
      }
      const post = m?.hooks.post_install?.trim();
      if (post) {
        const words = post.split(/\s+/);
        if (words[0]!.includes("/") || words[0]!.endsWith(".sh")) write(words[0]!, "#!/bin/sh\nexit 0\n");
        else if (!existsSync(join(fake, words[0]!)) && words[0] !== "echo") write(join("..", "fake-bin", words[0]!), "#!/bin/sh\nexit 0\n");
        if (words[0] === "bash" && words[1]) write(words[1], "#!/bin/sh\nexit 0\n");
      }
      if (!existsSync(join(fake, "bash"))) {
        writeFileSync(join(fake, "bash"), '#!/bin/sh\nexec /bin/sh "$@"\n');
        chmodSync(join(fake, "bash"), 0o755);
      }

      const owner = row.repo.split("/")[0]!;
      const full = `${owner}/${row.repo.split("/")[1]!}`;
      gh.addRepo(full, { dir: src });
      const config = join(root, "config");
      const r = await runFledgeAsync(["plugins", "install", full, "--yes", "--trust-native", "--force"], {
        env: { FLEDGE_CONFIG_DIR: config, FLEDGE_GITHUB_API_URL: gh.url, PATH: `${fake}${delimiter}${process.env.PATH}` },
        cwd: root,
      });
      expect(r.stderr).not.toContain("internal error");
      const tierTrusted = OFFICIAL_OWNERS.includes(owner) || TEAM_OWNERS.includes(owner);
      const shellHook = [build, post].find((h) => h !== undefined && h.split(/\s+/).some((w) => SHELL_OPS.includes(w)));
      if (!m) {
        // Invalid: the message names the first problem validation found.
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("plugin.toml in the downloaded plugin is invalid");
        expect(r.stderr).toContain(parsed.errors[0]!.message.slice(0, 40));
        count("refused as invalid (naming the problem)");
      } else if (!tierTrusted && (m.capabilities.exec || m.capabilities.network)) {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/exec|network/);
        count("refused by the trust policy");
      } else if (shellHook) {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("uses the shell operator");
        expect(r.stderr).toContain("put these steps in a script");
        count("refused for a shell-syntax hook");
      } else {
        expect(r.stderr).toBe(r.code === 0 ? r.stderr : "(install should have succeeded)");
        expect(r.code).toBe(0);
        const e = readReg(config).plugins[0]!;
        expect(e.name).toBe(row.repo.split("/")[1]!);
        expect(e.commands).toEqual(m.commands.map((c) => c.name));
        expect(e.kind).toBe("downloaded");
        count(build ? "installed (build hook)" : row.cargo || row.packageJson ? "installed (automatic build)" : "installed (committed binaries)");
      }
      expect(readdirSync(join(config, "plugins")).filter((f) => f.startsWith(".staging"))).toEqual([]);
    });
  }
});
