/**
 * One way the confinement tests run a hostile native plugin: `script` becomes the
 * shell plugin `evil` in `pluginDir`, run through the real native runner
 * (tests/fixtures/host/run-native.ts, legacy mode: argv, inherited stdio) with the
 * grants given.
 */
import { chmodSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GrantedConfinement } from "../../src/manifest/types.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";

export const HARNESS = join(ROOT, "tests", "fixtures", "host", "run-native.ts");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface AttackOptions {
  network?: boolean;
  filesystem?: "none" | "project";
  confinement?: Partial<GrantedConfinement>;
  projectRoot?: string;
  /** "fledge-v1": the script speaks the protocol (reads init on stdin); default: legacy mode. */
  protocol?: string;
  /** `[capabilities] exec = true` (a protocol plugin may ask fledge to run commands). */
  exec?: boolean;
  /** A command fledge runs under (e.g. a user namespace that allows no more namespaces), before bun. */
  wrap?: string[];
  /** Added to (and overriding) fledge's environment. */
  env?: Record<string, string>;
}

export interface AttackScene {
  home: string;
  project: string;
  pluginDir: string;
}

/** A scene in a fresh temp folder, and what every red-team file needs in it. */
export interface SceneDir extends AttackScene {
  /** The temp folder, its real path (home, project and pluginDir are below it). */
  base: string;
  cleanup: () => void;
}

/**
 * The home, project and plugin folder the attacks run in: `home` with the plugin at
 * `~/.config/fledge/plugins/evil`, a project with `src/` and a README, and, given a
 * `secret`, an SSH key (0600) and AWS credentials in home that carry it, so a test can
 * look for it in whatever the plugin printed or wrote.
 */
export function attackScene(prefix: string, secret?: string): SceneDir {
  const dir = tempDir(prefix);
  const base = realpathSync(dir.path);
  const home = join(base, "home");
  const project = join(base, "project");
  const pluginDir = join(home, ".config", "fledge", "plugins", "evil");
  for (const d of [pluginDir, join(project, "src")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(project, "README.md"), "project readme\n");
  if (secret !== undefined) {
    for (const d of [".ssh", ".aws"]) mkdirSync(join(home, d), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), `${secret}-ssh\n`);
    chmodSync(join(home, ".ssh", "id_ed25519"), 0o600);
    writeFileSync(join(home, ".aws", "credentials"), `${secret}-aws\n`);
  }
  return { base, home, project, pluginDir, cleanup: dir.cleanup };
}

/** The attack's command line (fledge's native runner), and the folder and environment to run it in. */
export function attackCommand(scene: AttackScene, script: string, o: AttackOptions = {}): { argv: string[]; cwd: string; env: Record<string, string> } {
  const bin = join(scene.pluginDir, "attack.sh");
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  const env = { PATH: "/usr/bin:/bin", HOME: scene.home, LANG: "C", FLEDGE_CONFIG_DIR: join(scene.home, ".config", "fledge"), ...o.env };
  const cwd = o.projectRoot ?? scene.project;
  const opts = {
    entry: {
      name: "evil",
      dir: scene.pluginDir,
      version: "1.0.0",
      protocol: o.protocol,
      capabilities: { exec: o.exec ?? false, store: false, metadata: false, filesystem: o.filesystem ?? "none", network: o.network ?? false },
      confinement: { unconfined: false, read: [], write: [], env: [], ...o.confinement },
    },
    binaryPath: bin,
    args: [],
    projectRoot: cwd,
    stateFile: join(scene.pluginDir, "state.json"),
    env,
    cwd,
  };
  return { argv: [...(o.wrap ?? []), process.execPath, HARNESS, JSON.stringify(opts)], cwd, env: { ...env, NO_COLOR: "1" } };
}

/** Start the attack and hand back the process running fledge's native runner (runAttack waits for it). */
export function spawnAttack(scene: AttackScene, script: string, o: AttackOptions = {}): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  const { argv, cwd, env } = attackCommand(scene, script, o);
  return Bun.spawn(argv, { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
}

export async function runAttack(scene: AttackScene, script: string, o: AttackOptions = {}): Promise<Run> {
  const p = spawnAttack(scene, script, o);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The python3 the probe tests run (they skip with one line where it is missing). */
export const PYTHON = "/usr/bin/python3";

/** Write a python3 probe into `pluginDir` and return the shell line that runs it inside the plugin. */
export function pythonProbe(pluginDir: string, name: string, source: string): string {
  const file = join(pluginDir, name);
  writeFileSync(file, source);
  return `${PYTHON} ${file}`;
}
