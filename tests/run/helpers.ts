/**
 * Test plugins for the dispatch/run tests: a plugin folder under a temp
 * FLEDGE_CONFIG_DIR plus its registry entry, written through src/registry (the
 * installer is tested elsewhere). The registry entry is what grants; the plugin.toml
 * written into the folder may ask for something else on purpose.
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Capabilities, Runtime } from "../../src/manifest/types.ts";
import { NO_CAPABILITIES } from "../../src/manifest/types.ts";
import { updateRegistry } from "../../src/registry/index.ts";
import { ROOT, runFledge, runFledgeInProcess, tempDir, type RunOptions, type RunResult } from "../helpers/cli.ts";

export const COMPAT = join(ROOT, "tests", "fixtures", "compat");

export interface Home {
  root: string;
  config: string;
  project: string;
  env: Record<string, string>;
  cleanup: () => void;
  /** `fledge ...args` with this config dir, from the project dir, as a real child process. */
  fledge(args: string[], opts?: RunOptions): RunResult;
  /**
   * The same, as `main(argv)` in the test process (tests/helpers/inproc.ts): for a test
   * that checks only what fledge prints and its exit code.
   */
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
}

export function makeHome(prefix = "fledge-run-"): Home {
  const t = tempDir(prefix);
  const root = realpathSync(t.path);
  const config = join(root, "cfg");
  const project = join(root, "project");
  mkdirSync(config, { recursive: true });
  mkdirSync(project, { recursive: true });
  const env = { FLEDGE_CONFIG_DIR: config, HOME: root };
  return {
    root,
    config,
    project,
    env,
    cleanup: t.cleanup,
    fledge: (args, opts = {}) => runFledge(args, { cwd: project, ...opts, env: { ...env, ...(opts.env ?? {}) } }),
    run: (args, opts = {}) => runFledgeInProcess(args, { cwd: project, ...opts, env: { ...env, ...(opts.env ?? {}) } }),
  };
}

export interface PluginSpec {
  name: string;
  /** command name → file to copy in (its path inside the plugin is `bin/<basename>`), or inline text for a script. */
  commands: Record<string, { file: string } | { script: string }>;
  runtime: Runtime;
  /** GRANTED (registry). */
  granted?: Partial<Capabilities>;
  /** What plugin.toml asks for (default: the same as granted). */
  requested?: Partial<Capabilities>;
  protocol?: "fledge-v1" | undefined;
  /** Record sha256 integrity in the registry (default true). */
  integrity?: boolean;
  version?: string;
}

export function manifestText(spec: PluginSpec, binaries: Record<string, string>): string {
  const caps = { ...NO_CAPABILITIES, ...(spec.requested ?? spec.granted ?? {}) };
  const lines = [
    "[plugin]",
    `name = "${spec.name}"`,
    `version = "${spec.version ?? "1.0.0"}"`,
    `description = "test plugin"`,
    `author = "tests"`,
  ];
  if (spec.protocol) lines.push(`protocol = "${spec.protocol}"`);
  lines.push(`runtime = "${spec.runtime}"`, "");
  for (const [cmd, bin] of Object.entries(binaries)) lines.push("[[commands]]", `name = "${cmd}"`, `binary = "${bin}"`, "");
  lines.push(
    "[capabilities]",
    `exec = ${caps.exec}`,
    `store = ${caps.store}`,
    `metadata = ${caps.metadata}`,
    `filesystem = "${caps.filesystem}"`,
    `network = ${caps.network}`,
    "",
  );
  return lines.join("\n");
}

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Create the plugin folder and its registry entry; returns the plugin dir. */
export async function addPlugin(home: Home, spec: PluginSpec): Promise<string> {
  const dir = join(home.config, "plugins", spec.name);
  mkdirSync(join(dir, "bin"), { recursive: true });
  const binaries: Record<string, string> = {};
  const integrity: Record<string, string> = {};
  for (const [cmd, src] of Object.entries(spec.commands)) {
    const rel = "file" in src ? `bin/${src.file.split("/").pop()}` : `bin/${cmd}`;
    const dest = join(dir, rel);
    mkdirSync(dirname(dest), { recursive: true });
    if ("file" in src) copyFileSync(src.file, dest);
    else {
      writeFileSync(dest, src.script);
      chmodSync(dest, 0o755);
    }
    binaries[cmd] = rel;
    integrity[rel] = sha256(readFileSync(dest));
  }
  writeFileSync(join(dir, "plugin.toml"), manifestText(spec, binaries));
  await updateRegistry((reg) => {
    reg.plugins = reg.plugins.filter((p) => p.name !== spec.name);
    reg.plugins.push({
      name: spec.name,
      source: `/src/${spec.name}`,
      version: spec.version ?? "1.0.0",
      installed: "2026-01-01",
      commands: Object.keys(spec.commands),
      runtime: spec.runtime,
      capabilities: { ...NO_CAPABILITIES, ...(spec.granted ?? {}) },
      ...(spec.integrity === false ? {} : { integrity }),
    });
  }, home.env);
  return dir;
}

export const compat = (name: string): { file: string } => ({ file: join(COMPAT, `${name}.wasm`) });

/** The `response: <json>` values compat-send printed, in order. */
export function responses(stdout: string): unknown[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("response: "))
    .map((l) => (JSON.parse(l.slice("response: ".length)) as { value: unknown }).value);
}
