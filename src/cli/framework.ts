import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { usageError, suggest } from "../ui/index.ts";

/**
 * A thin layer over citty: we walk the command tree ourselves so that we control
 * help, unknown commands and flags (did-you-mean, exit 2), global flags and the JSON
 * error envelope; citty parses each leaf's arguments.
 */

type AnyCommand = CommandDef<ArgsDef>;

/** Commands whose arguments after the first positional belong to someone else (a guest, a plugin). */
const passthrough = new WeakSet<object>();
export function markPassthrough<T extends ArgsDef>(cmd: CommandDef<T>): CommandDef<T> {
  passthrough.add(cmd);
  return cmd;
}

export const GLOBAL_FLAGS = ["--non-interactive"] as const;

export interface Resolved {
  cmd: AnyCommand;
  parent: AnyCommand | undefined;
  /** Names walked, e.g. ["plugins", "validate"]. */
  path: string[];
  /** Arguments for the leaf, global flags removed. */
  args: string[];
  help: boolean;
  json: boolean;
  nonInteractive: boolean;
}

async function resolveValue<T>(v: T | Promise<T> | (() => T) | (() => Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

export async function subCommandsOf(cmd: AnyCommand): Promise<Record<string, AnyCommand>> {
  if (!cmd.subCommands) return {};
  const subs = await resolveValue(cmd.subCommands);
  const out: Record<string, AnyCommand> = {};
  for (const [name, def] of Object.entries(subs)) out[name] = (await resolveValue(def)) as AnyCommand;
  return out;
}

/** Sub-command names plus their aliases, mapped to the canonical name. */
async function namesOf(cmd: AnyCommand): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const [name, def] of Object.entries(await subCommandsOf(cmd))) {
    names.set(name, name);
    const meta = def.meta ? await resolveValue(def.meta) : undefined;
    const alias = meta?.alias;
    for (const a of Array.isArray(alias) ? alias : alias ? [alias] : []) names.set(a, name);
  }
  return names;
}

/** Flag names (with dashes) a leaf accepts, including aliases and `--no-` forms of booleans. */
async function flagSpec(cmd: AnyCommand): Promise<{ known: Set<string>; takesValue: Set<string> }> {
  const defs = cmd.args ? await resolveValue(cmd.args) : {};
  const known = new Set<string>(["--help", "-h"]);
  const takesValue = new Set<string>();
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") continue;
    const alias = "alias" in def ? def.alias : undefined;
    const aliases = Array.isArray(alias) ? alias : alias ? [alias] : [];
    for (const n of [name, ...aliases]) {
      const flag = n.length === 1 ? `-${n}` : `--${n}`;
      known.add(flag);
      if (def.type === "string" || def.type === "enum") takesValue.add(flag);
      if (def.type === "boolean" && n.length > 1) known.add(`--no-${n}`);
    }
  }
  return { known, takesValue };
}

/**
 * Walk argv down the command tree. Unknown sub-commands of a group and unknown flags
 * of a leaf are usage errors with suggestions. Returns undefined for the root's
 * positional when it names no built-in (the caller may dispatch it to a plugin).
 */
export async function resolve(root: AnyCommand, argv: readonly string[]): Promise<Resolved | { unknown: string; rest: string[]; nonInteractive: boolean }> {
  let cmd = root;
  let parent: AnyCommand | undefined;
  const path: string[] = [];
  let help = false;
  let nonInteractive = false;
  let i = 0;
  const pending: string[] = [];
  // Walk group levels: flags before the sub-command name are global/help only.
  while (cmd.subCommands) {
    const tok = argv[i];
    if (tok === undefined) break;
    if (tok === "--help" || tok === "-h") { help = true; i++; continue; }
    if (tok === "--non-interactive") { nonInteractive = true; i++; continue; }
    if (tok.startsWith("-")) {
      if (cmd === root && (tok === "--version" || tok === "-v" || tok === "-V")) { pending.push(tok); i++; continue; }
      throw usageError(`unknown option '${tok}' for 'fledge${path.length ? ` ${path.join(" ")}` : ""}'`, "run with --help to see the options");
    }
    const names = await namesOf(cmd);
    const canonical = names.get(tok);
    if (!canonical) {
      if (cmd === root) return { unknown: tok, rest: argv.slice(i + 1) as string[], nonInteractive };
      const ideas = suggest(tok, [...new Set(names.values())]);
      throw usageError(
        `unknown command 'fledge ${[...path, tok].join(" ")}'`,
        ideas.length ? `did you mean ${ideas.map((s) => `'fledge ${[...path, s].join(" ")}'`).join(" or ")}?` : `run 'fledge ${path.join(" ")} --help' to see the commands`,
      );
    }
    const subs = await subCommandsOf(cmd);
    parent = cmd;
    cmd = subs[canonical]!;
    path.push(canonical);
    i++;
  }
  const rest = argv.slice(i);
  const out: string[] = [...pending];
  let json = false;
  if (!cmd.subCommands) {
    const { known, takesValue } = await flagSpec(cmd);
    const isPassthrough = passthrough.has(cmd);
    for (let j = 0; j < rest.length; j++) {
      const tok = rest[j]!;
      if (tok === "--") { out.push(...rest.slice(j)); break; }
      if (!tok.startsWith("-") || tok === "-") {
        if (isPassthrough) { out.push(...rest.slice(j)); break; }
        out.push(tok);
        continue;
      }
      const flag = tok.includes("=") ? tok.slice(0, tok.indexOf("=")) : tok;
      if (flag === "--help" || flag === "-h") { help = true; continue; }
      if (flag === "--non-interactive") { nonInteractive = true; continue; }
      if (!known.has(flag)) {
        const ideas = suggest(flag, [...known].filter((k) => k.startsWith("--")));
        throw usageError(
          `unknown option '${flag}' for 'fledge ${path.join(" ")}'`,
          ideas.length ? `did you mean ${ideas.map((s) => `'${s}'`).join(" or ")}?` : `run 'fledge ${path.join(" ")} --help' to see the options`,
        );
      }
      if (flag === "--json") json = true;
      out.push(tok);
      if (takesValue.has(flag) && !tok.includes("=")) {
        const value = rest[j + 1];
        if (value === undefined) throw usageError(`option '${flag}' needs a value`, `run 'fledge ${path.join(" ")} --help' to see the options`);
        out.push(value);
        j++;
      }
    }
  } else {
    out.push(...rest);
  }
  return { cmd, parent, path, args: out, help, json, nonInteractive };
}

export async function usageOf(cmd: AnyCommand, parent?: AnyCommand): Promise<string> {
  return renderUsage(cmd, parent);
}

export async function runLeaf(cmd: AnyCommand, args: string[]): Promise<unknown> {
  const { result } = await runCommand(cmd, { rawArgs: args });
  return result;
}
