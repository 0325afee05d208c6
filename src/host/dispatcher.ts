/**
 * The one place a plugin-to-host message is handled, shared by the native runner and
 * the wasm imports so both behave identically.
 *
 * {@link planMessage} makes every decision (capability gates, not-granted answers,
 * store limits, metadata) synchronously and returns what is left to do: nothing, a
 * reply, or an effect that needs waiting (running an exec, asking the user). The two
 * front ends differ only in how they wait for those effects: {@link dispatchMessage}
 * awaits them (native runner), {@link dispatchMessageSync} blocks (wasm imports,
 * called from inside a running guest).
 */
import type { Capabilities, GrantedConfinement } from "../manifest/types.ts";
import { pluginConfinement } from "../confine/index.ts";
import { isFledgeError } from "../core/index.ts";
import type { PluginConsole } from "./console.ts";
import { gateOf, granted, NOT_GRANTED_EXEC } from "./capabilities.ts";
import { runExec, type ExecContext, type ExecRequest } from "./exec.ts";
import { runExecSync } from "./exec-sync.ts";
import type { PluginMessage, RequestId } from "./messages.ts";
import { collectMetadata } from "./metadata.ts";
import { answerInteractive, answerInteractiveSync, type InteractiveMessage } from "./prompts.ts";
import { storeGet, storeSet } from "./store.ts";

export interface HostContext {
  plugin: { name: string; dir: string };
  /** The plugin's `state.json` (registry `fledgePaths().stateFile(name)`). */
  stateFile: string;
  /** Bounds exec's cwd and roots metadata. */
  projectRoot: string;
  /** GRANTED capabilities, from the registry, never the manifest. */
  capabilities: Capabilities;
  console: PluginConsole;
  /** Aborted on user interrupt (or when the plugin is gone): kills a running exec's group, closes an open prompt. */
  signal?: AbortSignal | undefined;
  /** Environment for `metadata.env` (filtered) and exec (confined: allowlisted); default process.env. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** GRANTED confinement (registry): an exec runs confined like a native plugin. */
  confinement?: GrantedConfinement | undefined;
  /**
   * Synchronous runs (wasm): wait until host fd `fd` is readable, or stop the run at
   * its deadline (the run's gate; see src/wasi/wait.ts). A prompt's terminal read
   * waits through it, so no host call outlives the deadline.
   */
  waitReadable?: ((fd: number) => void) | undefined;
  /** Synchronous runs: milliseconds left before the run's deadline (bounds the store lock wait). */
  timeLeftMs?: (() => number) | undefined;
}

/** A reply to deliver to the plugin for request `id`. */
export interface Reply {
  id: RequestId;
  value: unknown;
}

export { NOT_GRANTED_EXEC };

export type Plan =
  | { kind: "none" }
  | { kind: "reply"; reply: Reply }
  | { kind: "exec"; id: RequestId; request: ExecRequest }
  | { kind: "interactive"; id: RequestId; message: InteractiveMessage };

/**
 * THE capability gate and message handler. Side effects that complete at once
 * (printing, storing, loading, metadata) happen here; exec and prompts are returned
 * for the caller to perform. Store errors are warned about and never end the run.
 */
export function planMessage(msg: PluginMessage, ctx: HostContext): Plan {
  const con = ctx.console;
  // The capability gate, from the one table (capabilities.ts): refused before anything runs.
  const gate = gateOf(msg.type);
  if (gate && !granted(ctx.capabilities, gate)) {
    con.warn(`${msg.type} blocked — capability not granted${gate.denied === undefined ? " (message dropped)" : ""}`);
    if (gate.denied === undefined) return { kind: "none" };
    // Every request with a denied reply carries an id (messages.ts schemas).
    return reply((msg as Extract<PluginMessage, { id: RequestId }>).id, structuredClone(gate.denied));
  }
  switch (msg.type) {
    case "output":
      con.output(msg.text);
      return { kind: "none" };
    case "log":
      con.log(msg.level, msg.message);
      return { kind: "none" };
    case "progress":
      con.progress(msg);
      return { kind: "none" };
    case "prompt":
    case "confirm":
    case "select":
    case "multi_select":
      con.clearProgress();
      return { kind: "interactive", id: msg.id, message: msg };
    case "store":
      try {
        storeSet(ctx.stateFile, msg.key, msg.value, ctx.timeLeftMs?.());
      } catch (e) {
        con.warn(`store rejected: ${errorText(e)}`);
      }
      return { kind: "none" };
    case "load":
      try {
        return reply(msg.id, storeGet(ctx.stateFile, msg.key));
      } catch (e) {
        con.warn(`load failed: ${errorText(e)}`);
        return reply(msg.id, null);
      }
    case "exec":
      return { kind: "exec", id: msg.id, request: { command: msg.command, cwd: msg.cwd, timeout: msg.timeout } };
    case "metadata":
      return reply(msg.id, collectMetadata(msg.keys, { projectRoot: ctx.projectRoot, env: ctx.env }));
  }
}

function reply(id: RequestId, value: unknown): Plan {
  return { kind: "reply", reply: { id, value } };
}

function errorText(e: unknown): string {
  return isFledgeError(e) || e instanceof Error ? e.message : String(e);
}

/** Native runner front end: performs exec and prompts asynchronously. Prompt failures throw. */
export async function dispatchMessage(msg: PluginMessage, ctx: HostContext): Promise<Reply | undefined> {
  const plan = planMessage(msg, ctx);
  switch (plan.kind) {
    case "none":
      return undefined;
    case "reply":
      return plan.reply;
    case "exec":
      return { id: plan.id, value: await runExec(plan.request, execContext(ctx)) };
    case "interactive":
      return { id: plan.id, value: await answerInteractive(plan.message, ctx.projectRoot, ctx.signal) };
  }
}

/** wasm front end: the same, blocking the calling thread until exec or the user answers. */
export function dispatchMessageSync(msg: PluginMessage, ctx: HostContext): Reply | undefined {
  const plan = planMessage(msg, ctx);
  switch (plan.kind) {
    case "none":
      return undefined;
    case "reply":
      return plan.reply;
    case "exec":
      return { id: plan.id, value: runExecSync(plan.request, execContext(ctx)) };
    case "interactive":
      return { id: plan.id, value: answerInteractiveSync(plan.message, ctx.projectRoot, ctx.waitReadable) };
  }
}

function execContext(ctx: HostContext): ExecContext {
  return {
    projectRoot: ctx.projectRoot,
    pluginDir: ctx.plugin.dir,
    signal: ctx.signal,
    env: ctx.env,
    confinement: pluginConfinement({ name: ctx.plugin.name, pluginDir: ctx.plugin.dir, projectRoot: ctx.projectRoot, capabilities: ctx.capabilities, granted: ctx.confinement }),
  };
}
