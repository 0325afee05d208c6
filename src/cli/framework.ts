import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { usageError } from "../core/index.ts";
import { setDebug, suggest } from "../ui/index.ts";
import { splitPassthrough, type PassthroughOptions } from "./passthrough.ts";

/**
 * A thin layer over citty: we walk the command tree ourselves so that we control
 * help, unknown commands and flags (did-you-mean, exit 2), global flags and the JSON
 * error envelope; citty parses each leaf's arguments.
 */

type AnyCommand = CommandDef<ArgsDef>;

// Passthrough commands and the rule that cuts their arguments: ./passthrough.ts.
export { splitPassthrough, type PassthroughOptions };

const passthrough = new WeakMap<object, PassthroughOptions>();
export function markPassthrough<T extends ArgsDef>(cmd: CommandDef<T>, opts: PassthroughOptions = {}): CommandDef<T> {
  passthrough.set(cmd, opts);
  return cmd;
}

/** What `runLeaf` hands a passthrough command in citty's `ctx.data`. */
interface LeafData {
  tail: readonly string[];
}

/** The guest's arguments of a passthrough command (empty for any other command). */
export function passthroughTail(data: unknown): string[] {
  const tail = (data as LeafData | undefined)?.tail;
  return Array.isArray(tail) ? [...tail] : [];
}

export const GLOBAL_FLAGS = ["--non-interactive", "--ni"] as const;

/** `--debug`: an unexpected error is reported with its stack (as FLEDGE_DEBUG=1). Fledge's own arguments only. */
export const DEBUG_FLAG = "--debug";

/** `--non-interactive` and its short alias `--ni` (the original's visible alias). */
function isNonInteractiveFlag(tok: string): boolean {
  return tok === "--non-interactive" || tok === "--ni";
}

export interface Resolved {
  cmd: AnyCommand;
  parent: AnyCommand | undefined;
  /** Names walked, e.g. ["plugins", "validate"]. */
  path: string[];
  /** Arguments for the leaf, global flags removed (for a passthrough leaf: the head only). */
  args: string[];
  /** A passthrough leaf's guest arguments, verbatim; empty for other commands. */
  tail: string[];
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

/**
 * Aliases a group declares for its sub-commands (alias -> canonical name). A group
 * that declares them is resolved by importing only the sub-command named on the
 * command line; without a declaration every sub-command is loaded to read its
 * meta.alias. The declaration must match the sub-commands' own meta.alias (a test
 * checks every group).
 */
const declaredAliases = new WeakMap<object, Readonly<Record<string, string>>>();
export function declareAliases<T extends ArgsDef>(cmd: CommandDef<T>, aliases: Readonly<Record<string, string>>): CommandDef<T> {
  declaredAliases.set(cmd, aliases);
  return cmd;
}

/** The names of a group's sub-commands, without loading any of them. */
export async function subCommandNames(cmd: AnyCommand): Promise<string[]> {
  return cmd.subCommands ? Object.keys(await resolveValue(cmd.subCommands)) : [];
}

/** One sub-command by canonical name, loading only that one. */
async function subCommand(cmd: AnyCommand, name: string): Promise<AnyCommand | undefined> {
  if (!cmd.subCommands) return undefined;
  const subs = await resolveValue(cmd.subCommands);
  if (!Object.hasOwn(subs, name)) return undefined;
  return (await resolveValue(subs[name])) as AnyCommand;
}

/** Sub-command names plus their aliases, mapped to the canonical name. */
export async function namesOf(cmd: AnyCommand): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const declared = declaredAliases.get(cmd);
  if (declared) {
    for (const name of await subCommandNames(cmd)) names.set(name, name);
    for (const [alias, name] of Object.entries(declared)) if (names.has(name)) names.set(alias, name);
    return names;
  }
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
export async function resolve(
  root: AnyCommand,
  argv: readonly string[],
  seen: { json: boolean } = { json: false },
): Promise<Resolved | { unknown: string; rest: string[]; nonInteractive: boolean }> {
  // `seen.json` tells the caller how to report an error thrown from here: only fledge's
  // own arguments count, never a guest's (narrowed below once the leaf is known).
  seen.json = argv.includes("--json");
  let cmd = root;
  let parent: AnyCommand | undefined;
  const path: string[] = [];
  let help = false;
  let nonInteractive = false;
  let groupJson = false;
  let i = 0;
  const pending: string[] = [];
  // Walk group levels: flags before the sub-command name are global/help only.
  while (cmd.subCommands) {
    const tok = argv[i];
    if (tok === undefined) break;
    if (tok === "--help" || tok === "-h") { help = true; i++; continue; }
    if (isNonInteractiveFlag(tok)) { nonInteractive = true; i++; continue; }
    if (tok === DEBUG_FLAG) { setDebug(true); i++; continue; }
    // `fledge plugins --json list`: as in the original, --json may come before the
    // sub-command of a group; it reaches the leaf if the leaf has a --json flag.
    if (tok === "--json" && cmd !== root) { groupJson = true; i++; continue; }
    if (tok.startsWith("-")) {
      if (cmd === root && (tok === "--version" || tok === "-v" || tok === "-V")) { pending.push(tok); i++; continue; }
      throw usageError(`unknown option '${tok}' for 'fledge${path.length ? ` ${path.join(" ")}` : ""}'`, "run with --help to see the options");
    }
    const names = await namesOf(cmd);
    const canonical = names.get(tok);
    if (!canonical) {
      if (cmd === root) {
        // A plugin command: all of its arguments are the plugin's.
        seen.json = false;
        return { unknown: tok, rest: argv.slice(i + 1) as string[], nonInteractive };
      }
      const ideas = suggest(tok, [...new Set(names.values())]);
      throw usageError(
        `unknown command 'fledge ${[...path, tok].join(" ")}'`,
        ideas.length ? `did you mean ${ideas.map((s) => `'fledge ${[...path, s].join(" ")}'`).join(" or ")}?` : `run 'fledge ${path.join(" ")} --help' to see the commands`,
      );
    }
    const next = await subCommand(cmd, canonical);
    parent = cmd;
    cmd = next!;
    path.push(canonical);
    i++;
  }
  let rest = argv.slice(i);
  let tail: string[] = [];
  const out: string[] = [...pending];
  let json = false;
  if (!cmd.subCommands) {
    const { known, takesValue } = await flagSpec(cmd);
    // A group-level --json goes to a leaf that has one (`run` has none: ignored, as the original does).
    if (groupJson && known.has("--json")) {
      json = true;
      out.push("--json");
    }
    const pass = passthrough.get(cmd);
    if (pass) {
      ({ head: rest, tail } = splitPassthrough(rest, takesValue, pass));
      seen.json = (groupJson && known.has("--json")) || rest.includes("--json");
    }
    for (let j = 0; j < rest.length; j++) {
      const tok = rest[j]!;
      if (tok === "--") { out.push(...rest.slice(j)); break; }
      if (!tok.startsWith("-") || tok === "-") { out.push(tok); continue; }
      const flag = tok.includes("=") ? tok.slice(0, tok.indexOf("=")) : tok;
      if (flag === "--help" || flag === "-h") { help = true; continue; }
      if (isNonInteractiveFlag(flag)) { nonInteractive = true; continue; }
      if (tok === DEBUG_FLAG) { setDebug(true); continue; }
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
  return { cmd, parent, path, args: out, tail, help, json, nonInteractive };
}

export async function usageOf(cmd: AnyCommand, parent?: AnyCommand): Promise<string> {
  return renderUsage(cmd, parent);
}

/** Run a leaf: citty parses `args` (fledge's own); a passthrough tail travels untouched in `data`. */
export async function runLeaf(cmd: AnyCommand, args: string[], tail: readonly string[] = []): Promise<unknown> {
  const data: LeafData = { tail };
  const { result } = await runCommand(cmd, { rawArgs: args, data });
  return result;
}
