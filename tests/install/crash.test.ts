/**
 * Issue 11 item 5: kill -9 at file-changing system calls of install, install --force,
 * update and remove, then run the next command (`plugins list`), and check that the
 * registry and the disk agree with either the old or the new state and that no
 * plugin data (state.json, data/) was lost.
 *
 * The kill comes from `strace -f -e inject=<syscalls>:signal=SIGKILL:when=N`: the N-th
 * call of each listed syscall (counted per syscall and per thread) is never executed
 * and the process dies there, with no change to fledge's code. For each operation and
 * each group of syscalls, N runs from 1 until the command completes.
 *
 * The default run sweeps every rename and unlink (where the data-loss bugs were) and
 * a sample of N over all file-changing syscalls together; FLEDGE_CRASH_SWEEP=full
 * sweeps every N of every group (minutes). Skipped where strace cannot trace.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, tempDir } from "../helpers/cli.ts";
import { startGithubServer, type GithubServer } from "../helpers/github-server.ts";
import { baseEnv, readReg, runFledgeAsync, wasmPlugin } from "./helpers.ts";
import { FAST_ONLY } from "../helpers/tier.ts";

const FULL = process.env.FLEDGE_CRASH_SWEEP === "full";
setDefaultTimeout(FULL ? 3_600_000 : 600_000);

const GROUPS: Record<string, string> = {
  rename: "rename,renameat,renameat2",
  unlink: "unlink,unlinkat,rmdir",
  mkdir: "mkdir,mkdirat",
  link: "symlink,symlinkat,link,linkat",
  sync: "fsync,fdatasync",
  write: "write,pwrite64,writev",
  open: "openat,creat",
};
const ALL = Object.values(GROUPS).join(",");

function straceWorks(): boolean {
  try {
    const r = Bun.spawnSync(["strace", "-f", "-o", "/dev/null", "-e", `inject=${ALL}:signal=SIGKILL:when=65000`, "true"]);
    return r.exitCode === 0;
  } catch {
    return false;
  }
}
const HAVE_STRACE = straceWorks();

let gh: GithubServer;
let tmp: { path: string; cleanup: () => void };
beforeAll(async () => {
  gh = await startGithubServer();
  tmp = tempDir("fledge-crash-");
});
afterAll(() => {
  gh?.stop();
  tmp?.cleanup();
});

const STATE = '{"counter":41}\n';
const DATA = "user data that must survive\n";

interface Scenario {
  name: string;
  /** The config dir each run starts from. */
  template: string;
  args: string[];
  /** The plugin the operation is about. */
  plugin: string;
  /** Its version before and after (null: not installed). */
  before: string | null;
  after: string | null;
  /** Whether the plugin's state.json/data/ must exist in the new state. */
  keepsDataAfter: boolean;
  /** When old and new have the same version: a file only the new tree has. */
  newMarker?: string;
  /** Called before each run (server set-up the run consumes). */
  prepare?: () => void;
}

function env(config: string): Record<string, string> {
  return { FLEDGE_CONFIG_DIR: config, FLEDGE_GITHUB_API_URL: gh.url, HOME: tmp.path };
}

async function fledge(config: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFledgeAsync(args, { env: env(config), cwd: tmp.path });
}

function giveData(config: string, name: string): void {
  writeFileSync(join(config, "plugins", name, "state.json"), STATE);
  mkdirSync(join(config, "plugins", name, "data"), { recursive: true });
  writeFileSync(join(config, "plugins", name, "data", "notes.txt"), DATA);
}

let scenarios: Scenario[] | undefined;
async function setup(): Promise<Scenario[]> {
  if (scenarios) return scenarios;
  const root = tmp.path;
  const v1 = wasmPlugin(join(root, "src-v1"), { name: "crashy", version: "1.0.0" });
  const v2 = wasmPlugin(join(root, "src-v2"), { name: "crashy", version: "2.0.0" });
  const other = wasmPlugin(join(root, "src-keeper"), { name: "keeper", version: "1.0.0" });

  // A bystander plugin with data in every template: recovery must never touch it.
  const base = join(root, "t-base");
  expect((await fledge(base, ["plugins", "install", other, "--copy", "--yes"])).code).toBe(0);
  giveData(base, "keeper");

  const installed = join(root, "t-installed");
  cpSync(base, installed, { recursive: true });
  expect((await fledge(installed, ["plugins", "install", v1, "--copy", "--yes"])).code).toBe(0);
  giveData(installed, "crashy");

  gh.addRepo("acme/crashy", { dir: v1 });
  const fromGithub = join(root, "t-github");
  cpSync(base, fromGithub, { recursive: true });
  expect((await fledge(fromGithub, ["plugins", "install", "acme/crashy", "--yes"])).code).toBe(0);
  giveData(fromGithub, "crashy");
  gh.addCommit("acme/crashy", { dir: v2 });

  // The same version again: `--force` writes a registry text equal to the one before
  // (same entry, same day), so "the registry holds the new text" cannot tell a finished
  // commit from one killed before its registry write.
  // Installed from the very folder it is then reinstalled from (the source is in the entry).
  const v1again = wasmPlugin(join(root, "src-v1-again"), { name: "crashy", version: "1.0.0" });
  const installedAgain = join(root, "t-installed-again");
  cpSync(base, installedAgain, { recursive: true });
  expect((await fledge(installedAgain, ["plugins", "install", v1again, "--copy", "--yes"])).code).toBe(0);
  giveData(installedAgain, "crashy");
  writeFileSync(join(v1again, "NEW-TREE"), "new\n");

  // An update whose registry text is byte-identical: the API's first answer for the
  // branch head differs from the installed commit (so the update runs), the download
  // then resolves the installed commit again.
  const same = wasmPlugin(join(root, "src-same"), { name: "same", version: "1.0.0" });
  const sameSha = gh.addRepo("acme/same", { dir: same });
  const sameInstalled = join(root, "t-same");
  cpSync(base, sameInstalled, { recursive: true });
  expect((await fledge(sameInstalled, ["plugins", "install", "acme/same", "--yes"])).code).toBe(0);
  giveData(sameInstalled, "same");
  const flipHead = (): void => {
    gh.clearFailures();
    gh.fail({ path: "/repos/acme/same/commits/", status: 200, body: JSON.stringify({ sha: "f".repeat(40) }), times: 1 });
  };
  // The scenario really is the identical-text one.
  const probe = join(root, "t-same-probe");
  cpSync(sameInstalled, probe, { recursive: true });
  const unstamped = (): string => readFileSync(join(probe, "plugins.toml"), "utf8").replace(/^# fledge-commit .*\n/m, "");
  const beforeText = unstamped();
  flipHead();
  expect((await fledge(probe, ["plugins", "update", "same", "--yes"])).code).toBe(0);
  expect(unstamped()).toBe(beforeText);
  expect(readReg(probe).plugins.find((p) => p.name === "same")?.commit).toBe(sameSha);
  gh.clearFailures();

  scenarios = [
    { name: "install", template: base, args: ["plugins", "install", v1, "--copy", "--yes"], plugin: "crashy", before: null, after: "1.0.0", keepsDataAfter: false },
    { name: "install --force", template: installed, args: ["plugins", "install", v2, "--copy", "--yes", "--force"], plugin: "crashy", before: "1.0.0", after: "2.0.0", keepsDataAfter: false },
    { name: "update", template: fromGithub, args: ["plugins", "update", "crashy", "--yes"], plugin: "crashy", before: "1.0.0", after: "2.0.0", keepsDataAfter: true },
    { name: "install --force, same version", template: installedAgain, args: ["plugins", "install", v1again, "--copy", "--yes", "--force"], plugin: "crashy", before: "1.0.0", after: "1.0.0", keepsDataAfter: false, newMarker: "NEW-TREE" },
    { name: "update, identical registry", template: sameInstalled, args: ["plugins", "update", "same", "--yes"], plugin: "same", before: "1.0.0", after: "1.0.0", keepsDataAfter: true, prepare: flipHead },
    { name: "remove", template: installed, args: ["plugins", "remove", "crashy"], plugin: "crashy", before: "1.0.0", after: null, keepsDataAfter: false },
  ];
  return scenarios;
}

/** Run the operation under strace, killed at the N-th call of `syscalls`. true = it completed. */
async function runKilled(s: Scenario, config: string, syscalls: string, n: number): Promise<boolean> {
  s.prepare?.();
  const proc = Bun.spawn(["strace", "-f", "-o", "/dev/null", "-e", `inject=${syscalls}:signal=SIGKILL:when=${n}`, process.execPath, MAIN, ...s.args], {
    env: baseEnv(env(config)),
    cwd: tmp.path,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    timeout: 120_000,
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code === 0) return true;
  // Anything but a SIGKILL from the injection is a real failure of the command.
  if (proc.signalCode !== "SIGKILL" && code !== 137) throw new Error(`${s.name} failed on its own (exit ${code}) at ${syscalls} #${n}:\n${stderr}`);
  return false;
}

/** What the next command must leave: one consistent state, nothing lost. */
async function checkConsistent(s: Scenario, config: string, where: string): Promise<"old" | "new"> {
  const next = await fledge(config, ["plugins", "list", "--json"]);
  expect(next.code, `${where}: next command failed:\n${next.stderr}`).toBe(0);
  const reg = readReg(config);
  const plugins = join(config, "plugins");
  const entry = reg.plugins.find((p) => p.name === s.plugin);
  const version = entry?.version ?? null;
  const which =
    s.newMarker !== undefined && version === s.before && version === s.after
      ? existsSync(join(config, "plugins", s.plugin, s.newMarker))
        ? "new"
        : "old"
      : version === s.before
        ? "old"
        : version === s.after
          ? "new"
          : undefined;
  expect(which, `${where}: registry shows ${s.plugin} at ${version}`).toBeDefined();
  // Every registered plugin has its folder, with the version the registry names, and its shims.
  for (const p of reg.plugins) {
    const toml = readFileSync(join(plugins, p.name, "plugin.toml"), "utf8");
    expect(toml, `${where}: ${p.name}'s folder does not hold the registered version`).toContain(`version = "${p.version}"`);
    for (const c of p.commands) expect(existsSync(join(plugins, "bin", `fledge-${c}`)), `${where}: shim ${c} missing`).toBe(true);
  }
  // Nothing else: no unregistered plugin folder, no stray shim, no staging dir, no journal.
  const names = readdirSync(plugins).filter((n) => n !== "bin").sort();
  expect(names, `${where}: folders on disk`).toEqual(reg.plugins.map((p) => p.name).sort());
  const shims = readdirSync(join(plugins, "bin")).sort();
  expect(shims, `${where}: shims`).toEqual(reg.plugins.flatMap((p) => p.commands.map((c) => `fledge-${c}`)).sort());
  expect(existsSync(join(config, "plugins.journal.json")), `${where}: journal left`).toBe(false);
  // No temp file of the dead process (a half-written shim would sit on PATH).
  expect(readdirSync(config).filter((n) => n.includes(".tmp")), `${where}: temp files`).toEqual([]);
  // The data: the bystander's always; the plugin's whenever its state keeps it.
  expect(readFileSync(join(plugins, "keeper", "state.json"), "utf8")).toBe(STATE);
  expect(readFileSync(join(plugins, "keeper", "data", "notes.txt"), "utf8")).toBe(DATA);
  const mustHaveData = (which === "old" && s.before !== null) || (which === "new" && s.keepsDataAfter);
  if (mustHaveData) {
    expect(readFileSync(join(plugins, s.plugin, "state.json"), "utf8"), `${where}: state.json lost`).toBe(STATE);
    expect(readFileSync(join(plugins, s.plugin, "data", "notes.txt"), "utf8"), `${where}: data/ lost`).toBe(DATA);
  }
  return which!;
}

/** The N values to try for a group: all of them, or a sample in the default run. */
function* counts(group: string): Generator<number> {
  if (FULL || group !== "all") {
    for (let n = 1; n < 65000; n++) yield n;
  } else {
    for (const n of [1, 40, 120, 200, 280, 360, 440]) yield n;
  }
}

const groupsToRun = FULL ? [...Object.keys(GROUPS), "all"] : ["rename", "unlink", "all"];

describe.skipIf(!HAVE_STRACE || FAST_ONLY)("kill -9 at file-changing syscalls: the next command recovers, nothing is lost", () => {
  for (const op of ["install", "install --force", "install --force, same version", "update", "update, identical registry", "remove"]) {
    test(op, async () => {
      const s = (await setup()).find((x) => x.name === op)!;
      const summary: string[] = [];
      for (const group of groupsToRun) {
        const syscalls = group === "all" ? ALL : GROUPS[group]!;
        let runs = 0;
        const seen = { old: 0, new: 0 };
        for (const n of counts(group)) {
          const config = join(tmp.path, `run-${op.replace(/\W+/g, "_")}-${group}-${n}`);
          cpSync(s.template, config, { recursive: true });
          const completed = await runKilled(s, config, syscalls, n);
          runs++;
          seen[await checkConsistent(s, config, `${op}, killed at ${group} #${n}`)]++;
          rmSync(config, { recursive: true, force: true });
          if (completed) break;
        }
        summary.push(`${group}: ${runs} runs (recovered to old ${seen.old}, new ${seen.new})`);
      }
      console.log(`[crash] ${op}: ${summary.join("; ")}`);
    });
  }
});
