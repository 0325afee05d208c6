/**
 * Shared pieces for installer tests. `runFledgeAsync` exists because the fake GitHub
 * server runs in the test process: a synchronous spawn would block the event loop
 * the server needs to answer.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseRegistry, type Registry } from "../../src/registry/index.ts";
import { MAIN, ROOT, tempDir, type RunResult } from "../helpers/cli.ts";
import { canRunInProcess, runMainInProcess } from "../helpers/inproc.ts";

export const HELLO_WASM = join(ROOT, "tests", "fixtures", "plugins", "hello-wasm");
export const HELLO_NATIVE = join(ROOT, "tests", "fixtures", "plugins", "hello-native");
export const FIXTURES = join(ROOT, "tests", "fixtures", "install");
export const WASM_BYTES = readFileSync(join(HELLO_WASM, "hello.wasm"));

export interface AsyncRunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Run a real child process instead of main(argv) in this one. */
  spawn?: boolean;
}

export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * fledge with these arguments, checked by its output and exit code. By default
 * main(argv) runs in this process (tests/helpers/inproc.ts: same environment, cwd and
 * non-terminal stdin as a child); `spawn: true` runs a real `bun src/main.ts` child,
 * for a test that needs one (signals, a kill, timing, concurrent fledge processes).
 */
export async function runFledgeAsync(args: string[], opts: AsyncRunOptions = {}): Promise<RunResult> {
  if (!opts.spawn && canRunInProcess()) return runMainInProcess(args, { env: baseEnv(opts.env), cwd: opts.cwd ?? ROOT });
  return spawnFledge(args, opts);
}

/** fledge as a real child process (`bun src/main.ts`). */
export async function spawnFledge(args: string[], opts: AsyncRunOptions = {}): Promise<RunResult> {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    env: baseEnv(opts.env),
    cwd: opts.cwd ?? ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 60_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** A temp dir with its own fledge config dir; `env` points fledge at both. */
export function sandbox(extraEnv: Record<string, string> = {}): { root: string; config: string; env: Record<string, string>; cleanup: () => void } {
  const t = tempDir("fledge-install-");
  const config = join(t.path, "config");
  return { root: t.path, config, env: { FLEDGE_CONFIG_DIR: config, ...extraEnv }, cleanup: t.cleanup };
}

export type FileSpec = string | Uint8Array | { data: string | Uint8Array; mode?: number } | { symlink: string };

/** Write a plugin folder from a map of relative path → content. */
export function writeTree(dir: string, files: Record<string, FileSpec>): string {
  mkdirSync(dir, { recursive: true });
  for (const [rel, spec] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    if (typeof spec === "object" && "symlink" in spec) symlinkSync(spec.symlink, path);
    else if (typeof spec === "string" || spec instanceof Uint8Array) writeFileSync(path, spec);
    else {
      writeFileSync(path, spec.data);
      if (spec.mode !== undefined) chmodSync(path, spec.mode);
    }
  }
  return dir;
}

export interface TomlOptions {
  name: string;
  version?: string;
  runtime?: "wasm" | "native";
  protocol?: boolean;
  commands?: { name: string; binary: string }[];
  hooks?: Record<string, string>;
  caps?: Partial<{ exec: boolean; store: boolean; metadata: boolean; filesystem: string; network: boolean }>;
  /** `[confinement]` extras (a confined hook writing a marker outside its folder must ask). */
  confinement?: Partial<{ read: string[]; write: string[]; env: string[] }>;
}

export function pluginToml(o: TomlOptions): string {
  const runtime = o.runtime ?? "wasm";
  const lines = ["[plugin]", `name = ${JSON.stringify(o.name)}`, `version = ${JSON.stringify(o.version ?? "1.0.0")}`, 'description = "test plugin"', 'author = "tests"'];
  if (o.protocol ?? runtime === "wasm") lines.push('protocol = "fledge-v1"');
  lines.push(`runtime = "${runtime}"`, "");
  for (const c of o.commands ?? [{ name: o.name, binary: runtime === "wasm" ? "hello.wasm" : "bin/run" }]) {
    lines.push("[[commands]]", `name = ${JSON.stringify(c.name)}`, `binary = ${JSON.stringify(c.binary)}`, "");
  }
  if (o.hooks) {
    lines.push("[hooks]");
    for (const [k, v] of Object.entries(o.hooks)) lines.push(`${k} = ${JSON.stringify(v)}`);
    lines.push("");
  }
  if (o.caps) {
    lines.push("[capabilities]");
    for (const [k, v] of Object.entries(o.caps)) lines.push(`${k} = ${JSON.stringify(v)}`);
    lines.push("");
  }
  if (o.confinement) {
    lines.push("[confinement]");
    for (const [k, v] of Object.entries(o.confinement)) lines.push(`${k} = ${JSON.stringify(v)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A complete wasm plugin folder (prebuilt hello.wasm) with the given manifest options. */
export function wasmPlugin(dir: string, o: TomlOptions, extra: Record<string, FileSpec> = {}): string {
  return writeTree(dir, { "plugin.toml": pluginToml(o), "hello.wasm": WASM_BYTES, ...extra });
}

/** A native plugin folder whose command prints a line. */
export function nativePlugin(dir: string, o: Omit<TomlOptions, "runtime">, extra: Record<string, FileSpec> = {}): string {
  return writeTree(dir, { "plugin.toml": pluginToml({ ...o, runtime: "native" }), "bin/run": { data: "#!/bin/sh\necho native-run\n", mode: 0o755 }, ...extra });
}

export function readReg(config: string): Registry {
  try {
    return parseRegistry(readFileSync(join(config, "plugins.toml"), "utf8"), "plugins.toml");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { plugins: [] };
    throw e;
  }
}

/** Every path under `dir` (relative, sorted), symlinks not followed: for "nothing left behind" checks. */
export function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(rel ? join(dir, rel) : dir);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      const st = lstatSync(join(dir, r));
      if (st.isDirectory() && !st.isSymbolicLink()) walk(r);
    }
  };
  walk("");
  return out;
}

/** What an installed config dir holds apart from lock/registry files. */
export function pluginsState(config: string): string[] {
  return listAll(join(config, "plugins"));
}
