import { defineCommand, type ArgsDef, type CommandDef } from "citty";
import { readRegistry } from "../registry/index.ts";
import { EXIT, usageError } from "../core/index.ts";
import { printResult, writeStdout } from "../ui/index.ts";
import { GLOBAL_FLAGS, namesOf, subCommandsOf } from "./framework.ts";

/**
 * `fledge completion bash|zsh|fish` prints a completion script.
 *
 * Built-in commands, sub-commands and flags are generated from the real command tree
 * (the same one the CLI dispatches on), so the script cannot drift from the binary
 * that printed it; loading it with `eval "$(fledge completion bash)"` in a shell's rc
 * file regenerates it on every new shell, so upgrades are picked up too.
 *
 * Installed plugins change more often than fledge does, so their names are NOT baked
 * in: at TAB time the script runs `fledge completion --list-commands` (plugin commands)
 * or `--list-plugins` (plugin names, for remove/update/verify), which read the registry.
 */

type AnyCommand = CommandDef<ArgsDef>;

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What to offer for a positional argument or a flag's value. */
type Kind = { files: true } | { words: string[] } | { dynamic: "commands" | "plugins" };

interface FlagSpec {
  /** Every spelling: `--json`, `-y`, `--yes`. */
  names: string[];
  description: string;
  value?: Kind;
}

export interface CompletionNode {
  /** Canonical names from the root, e.g. ["plugins", "validate"]; [] is the root. */
  path: string[];
  description: string;
  aliases: string[];
  children: CompletionNode[];
  flags: FlagSpec[];
  positionals: Kind[];
}

/**
 * Positionals whose values are installed things, keyed by "<path> <arg name>". Everything
 * else completes file names, which is right for the paths most positionals take.
 */
const DYNAMIC_POSITIONALS: Record<string, Kind> = {
  "plugins remove name": { dynamic: "plugins" },
  "plugins update name": { dynamic: "plugins" },
  "plugins verify name": { dynamic: "plugins" },
  "plugins run command": { dynamic: "commands" },
  "completion shell": { words: [...SHELLS] },
  // Spelled with dashes on the command line, as the help says. Literal words (a test
  // checks them against LIFECYCLE_EVENTS) keep the install code out of TAB-time loads.
  "hooks run event": { words: ["pre-init", "post-work-start", "pre-push"] },
};

/**
 * String flags that take one of a fixed set of words (checked by the command itself,
 * case-insensitively, so they are not citty enums), keyed by "<path> <flag name>".
 * Enum flags need no entry: their options are read from the definition.
 */
const FLAG_VALUES: Record<string, Kind> = {
  "plugins create lang": { words: ["rust", "c"] }, // = SCAFFOLD_LANGS (checked by a test)
};

async function value<T>(v: T | Promise<T> | (() => T) | (() => Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

function listOf(v: string | string[] | undefined): string[] {
  return Array.isArray(v) ? v : v ? [v] : [];
}

function oneLine(s: string | undefined): string {
  // First sentence-ish line only: completion menus are one row per entry.
  const text = (s ?? "").replace(/\s+/g, " ").trim();
  const cut = text.search(/\. (Example|e\.g\.)/);
  return (cut > 0 ? text.slice(0, cut) : text).slice(0, 100);
}

/** Walk the command tree with framework.ts's resolver, exactly as the CLI sees it. */
export async function commandTree(cmd: AnyCommand, path: string[] = []): Promise<CompletionNode> {
  const meta = cmd.meta ? await value(cmd.meta) : undefined;
  const node: CompletionNode = { path, description: oneLine(meta?.description), aliases: listOf(meta?.alias), children: [], flags: [], positionals: [] };
  if (cmd.subCommands) {
    for (const [name, sub] of Object.entries(await subCommandsOf(cmd))) node.children.push(await commandTree(sub, [...path, name]));
    node.flags.push({ names: ["--help", "-h"], description: "show help" });
    if (path.length === 0) node.flags.push({ names: ["--version", "-v"], description: "print the version and commit" });
    node.flags.push({ names: [...GLOBAL_FLAGS], description: "never prompt" });
    return node;
  }
  const args = cmd.args ? await value(cmd.args) : {};
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") {
      node.positionals.push(DYNAMIC_POSITIONALS[[...path, name].join(" ")] ?? { files: true });
      continue;
    }
    const names: string[] = [];
    for (const n of [name, ...listOf("alias" in def ? def.alias : undefined)]) names.push(n.length === 1 ? `-${n}` : `--${n}`);
    // Long spellings first: they are what the menu should show.
    names.sort((a, b) => Number(!a.startsWith("--")) - Number(!b.startsWith("--")));
    const flag: FlagSpec = { names, description: oneLine(def.description) };
    if (def.type === "enum" && "options" in def && Array.isArray(def.options)) flag.value = { words: def.options.map(String) };
    else if (def.type === "string") flag.value = FLAG_VALUES[[...path, name].join(" ")] ?? { files: true };
    node.flags.push(flag);
  }
  node.flags.push({ names: ["--help", "-h"], description: "show help" });
  node.flags.push({ names: [...GLOBAL_FLAGS], description: "never prompt" });
  return node;
}

function* walk(node: CompletionNode): Generator<CompletionNode> {
  yield node;
  for (const c of node.children) yield* walk(c);
}

/** Plugin commands, minus any a built-in shadows (a built-in always wins over a plugin command of the same name). */
export function pluginCommands(builtins: Iterable<string>, env: NodeJS.ProcessEnv = process.env): string[] {
  const taken = new Set(builtins);
  const out = new Set<string>();
  for (const p of readRegistry(env).plugins) for (const c of p.commands) if (!taken.has(c)) out.add(c);
  return [...out].sort();
}

export function pluginNames(env: NodeJS.ProcessEnv = process.env): string[] {
  return readRegistry(env).plugins.map((p) => p.name).sort();
}

// ---------------------------------------------------------------------------------------
// Shell text. Names are [A-Za-z0-9._-] (commands, flags) so they need no quoting; only
// descriptions do, and they go inside single quotes.

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const key = (n: CompletionNode) => n.path.join(" ");

function kindWord(k: Kind): string {
  if ("dynamic" in k) return k.dynamic;
  if ("words" in k) return `w:${k.words.join(",")}`;
  return "files";
}

/** The tree as one `case` function, valid in both bash and zsh. */
function shSpec(tree: CompletionNode): string {
  const lines = ["_fledge_spec() {", '  _fl_subs=""; _fl_alias=""; _fl_flags=""; _fl_vflags=""; _fl_pos=""', '  case "$1" in'];
  for (const n of walk(tree)) {
    const parts: string[] = [];
    if (n.children.length) parts.push(`_fl_subs="${n.children.map((c) => c.path.at(-1)).join(" ")}"`);
    const aliases = n.children.flatMap((c) => c.aliases.map((a) => `${a}:${c.path.at(-1)}`));
    if (aliases.length) parts.push(`_fl_alias="${aliases.join(" ")}"`);
    parts.push(`_fl_flags="${n.flags.flatMap((f) => f.names).join(" ")}"`);
    const vflags = n.flags.filter((f) => f.value).flatMap((f) => f.names);
    if (vflags.length) parts.push(`_fl_vflags="${vflags.join(" ")}"`);
    if (n.positionals.length) parts.push(`_fl_pos="${n.positionals.map(kindWord).join(" ")}"`);
    lines.push(`    ${sq(key(n))}) ${parts.join("; ")} ;;`);
  }
  lines.push("    *) return 1 ;;", "  esac", "}", "_fledge_values() {", '  case "$1|$2" in');
  for (const n of walk(tree)) {
    for (const f of n.flags) {
      if (!f.value || !("words" in f.value)) continue;
      lines.push(`    ${f.names.map((name) => sq(`${key(n)}|${name}`)).join("|")}) echo "${f.value.words.join(" ")}" ;;`);
    }
  }
  lines.push("  esac", "}");
  return lines.join("\n");
}

const HEADER = (shell: Shell) =>
  `# fledge ${shell} completion, generated by 'fledge completion ${shell}' from fledge's command tree.\n` +
  `# Installed plugin commands are read at completion time (fledge completion --list-commands).\n`;

export function bashScript(tree: CompletionNode): string {
  return `${HEADER("bash")}# Load it from ~/.bashrc:  eval "$(fledge completion bash)"
${shSpec(tree)}
_fledge_canon() {
  local s
  for s in $_fl_subs; do [ "$s" = "$1" ] && { echo "$s"; return 0; }; done
  for s in $_fl_alias; do [ "\${s%%:*}" = "$1" ] && { echo "\${s#*:}"; return 0; }; done
  return 1
}
# Ask the fledge being completed (as typed, e.g. ./dist/fledge) for installed things.
_fledge_dyn() {
  local bin="\${COMP_WORDS[0]}"
  bin="\${bin/#\\~/$HOME}"
  "$bin" completion --list-"$1" 2>/dev/null </dev/null
}
_fledge() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" i=1 w canon npos=0 mode="" kind list
  COMPREPLY=()
  while [ "$i" -lt "$COMP_CWORD" ]; do
    w="\${COMP_WORDS[i]}"
    _fledge_spec "$cmdpath" || { mode=files; break; }
    if [ -n "$_fl_subs" ]; then
      case "$w" in
        -*) ;;
        *) if canon="$(_fledge_canon "$w")"; then cmdpath="\${cmdpath:+$cmdpath }$canon"; else mode=plugin; break; fi ;;
      esac
    else
      case "$w" in
        --) mode=files; break ;;
        -*=*) ;;
        -*) case " $_fl_vflags " in *" $w "*) i=$((i + 1)) ;; esac ;;
        *) npos=$((npos + 1)) ;;
      esac
    fi
    i=$((i + 1))
  done
  # A flag that takes a value was the previous word: complete its value.
  if [ -z "$mode" ] && [ "$i" -gt "$COMP_CWORD" ]; then
    list="$(_fledge_values "$cmdpath" "\${COMP_WORDS[COMP_CWORD-1]}")"
    [ -n "$list" ] && COMPREPLY=($(compgen -W "$list" -- "$cur"))
    return 0
  fi
  # A plugin's own arguments, or after --: leave it to file-name completion.
  [ -n "$mode" ] && return 0
  _fledge_spec "$cmdpath"
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$_fl_flags" -- "$cur")); return 0 ;;
  esac
  if [ -n "$_fl_subs" ]; then
    list="$_fl_subs"
    [ -z "$cmdpath" ] && list="$list $(_fledge_dyn commands)"
    COMPREPLY=($(compgen -W "$list" -- "$cur"))
    return 0
  fi
  set -- $_fl_pos
  kind=""
  [ "$npos" -lt "$#" ] && shift "$npos" && kind="$1"
  case "$kind" in
    commands|plugins) COMPREPLY=($(compgen -W "$(_fledge_dyn "$kind")" -- "$cur")) ;;
    w:*) list="\${kind#w:}"; COMPREPLY=($(compgen -W "\${list//,/ }" -- "$cur")) ;;
  esac
  return 0
}
complete -o default -F _fledge fledge
`;
}

function zshDescribe(n: CompletionNode): string {
  const subs = n.children.map((c) => sq(`${c.path.at(-1)}:${c.description.replace(/:/g, "\\:")}`));
  const flags = n.flags.flatMap((f) => f.names.map((name) => sq(`${name}:${f.description.replace(/:/g, "\\:")}`)));
  return `    ${sq(key(n))}) _fl_sdesc=(${subs.join(" ")}); _fl_fdesc=(${flags.join(" ")}) ;;`;
}

export function zshScript(tree: CompletionNode): string {
  return `#compdef fledge
${HEADER("zsh")}# Load it from ~/.zshrc (after compinit):  eval "$(fledge completion zsh)"
# or save it as _fledge in a directory on $fpath.
${shSpec(tree)}
_fledge_desc() {
  _fl_sdesc=(); _fl_fdesc=()
  case "$1" in
${[...walk(tree)].map(zshDescribe).join("\n")}
  esac
}
_fledge_canon() {
  local s
  for s in \${=_fl_subs}; do [[ "$s" == "$1" ]] && { print -r -- "$s"; return 0; }; done
  for s in \${=_fl_alias}; do [[ "\${s%%:*}" == "$1" ]] && { print -r -- "\${s#*:}"; return 0; }; done
  return 1
}
_fledge_dyn() {
  local bin="\${~words[1]}"
  "$bin" completion --list-"$1" 2>/dev/null </dev/null
}
_fledge() {
  local cur="\${words[CURRENT]}" cmdpath="" w canon mode="" kind list
  local -a _fl_sdesc _fl_fdesc dyn pos
  integer i=2 npos=0
  while (( i < CURRENT )); do
    w="\${words[i]}"
    _fledge_spec "$cmdpath" || { mode=files; break; }
    if [[ -n "$_fl_subs" ]]; then
      if [[ "$w" != -* ]]; then
        if canon="$(_fledge_canon "$w")"; then cmdpath="\${cmdpath:+$cmdpath }$canon"; else mode=plugin; break; fi
      fi
    else
      case "$w" in
        --) mode=files; break ;;
        -*=*) ;;
        -*) [[ " $_fl_vflags " == *" $w "* ]] && (( i++ )) ;;
        *) (( npos++ )) ;;
      esac
    fi
    (( i++ ))
  done
  if [[ -z "$mode" ]] && (( i > CURRENT )); then
    list="$(_fledge_values "$cmdpath" "\${words[CURRENT-1]}")"
    if [[ -n "$list" ]]; then compadd -- \${=list}; else _files; fi
    return
  fi
  if [[ -n "$mode" ]]; then _files; return; fi
  _fledge_spec "$cmdpath"
  _fledge_desc "$cmdpath"
  if [[ "$cur" == -* ]]; then
    _describe -t options 'option' _fl_fdesc
    return
  fi
  if [[ -n "$_fl_subs" ]]; then
    _describe -t commands 'fledge command' _fl_sdesc
    if [[ -z "$cmdpath" ]]; then
      dyn=(\${(f)"$(_fledge_dyn commands)"})
      (( \${#dyn} )) && compadd -X 'plugin commands' -- "\${dyn[@]}"
    fi
    return
  fi
  pos=(\${=_fl_pos})
  kind="\${pos[npos+1]}"
  case "$kind" in
    commands|plugins) dyn=(\${(f)"$(_fledge_dyn "$kind")"}); (( \${#dyn} )) && compadd -- "\${dyn[@]}" ;;
    w:*) list="\${kind#w:}"; compadd -- \${(s:,:)list} ;;
    *) _files ;;
  esac
}
if [[ "\${funcstack[1]}" == "_fledge" ]]; then
  _fledge "$@"
else
  compdef _fledge fledge
fi
`;
}

function fishQuote(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function fishFlag(at: string, f: FlagSpec): string {
  const parts = [`complete -c fledge -n ${fishQuote(`__fledge_at ${fishQuote(at)}`)}`];
  for (const name of f.names) parts.push(name.startsWith("--") ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`);
  if (f.value && "words" in f.value) parts.push(`-x -a ${fishQuote(f.value.words.join(" "))}`);
  else if (f.value) parts.push("-r -F");
  parts.push(`-d ${fishQuote(f.description)}`);
  return parts.join(" ");
}

export function fishScript(tree: CompletionNode): string {
  const lines: string[] = [
    HEADER("fish").trimEnd(),
    "# Load it from ~/.config/fish/config.fish:  fledge completion fish | source",
    "# or save it as ~/.config/fish/completions/fledge.fish.",
    "",
    "# The canonical sub-command of group $argv[1] named $argv[2] (an alias maps to its command).",
    "function __fledge_child",
    '    switch "$argv[1]|$argv[2]"',
  ];
  for (const n of walk(tree)) {
    for (const c of n.children) {
      const name = c.path.at(-1)!;
      lines.push(`        case ${[name, ...c.aliases].map((a) => fishQuote(`${key(n)}|${a}`)).join(" ")}`, `            echo ${name}`);
    }
  }
  lines.push(
    "        case '*'",
    "            return 1",
    "    end",
    "end",
    "",
    "# The command path typed so far: '' (root), 'plugins', 'plugins validate', or '!plugin'.",
    "function __fledge_path",
    "    set -l toks (commandline -opc)",
    "    set -e toks[1]",
    "    set -l cmdpath ''",
    "    for t in $toks",
    "        string match -q -- '-*' $t; and continue",
    "        set -l c (__fledge_child $cmdpath $t)",
    "        or begin",
    "            # A leaf's positional, or a plugin command at the root.",
    "            test -z \"$cmdpath\"; and echo '!plugin'; or echo $cmdpath",
    "            return",
    "        end",
    "        set cmdpath (string trim -- \"$cmdpath $c\")",
    "    end",
    "    echo $cmdpath",
    "end",
    "",
    "function __fledge_at",
    "    set -l p (__fledge_path)",
    '    test "$p" = "$argv[1]"',
    "end",
    "",
    "function __fledge_dyn",
    "    set -l bin (commandline -opc)[1]",
    "    $bin completion --list-$argv[1] 2>/dev/null </dev/null",
    "end",
    "",
  );
  for (const n of walk(tree)) {
    const at = key(n);
    const cond = fishQuote(`__fledge_at ${fishQuote(at)}`);
    if (n.children.length) {
      lines.push(`complete -c fledge -n ${cond} -f`);
      for (const c of n.children) lines.push(`complete -c fledge -n ${cond} -a ${c.path.at(-1)} -d ${fishQuote(c.description)}`);
      if (n.path.length === 0) lines.push(`complete -c fledge -n ${cond} -a '(__fledge_dyn commands)' -d 'plugin command'`);
    } else {
      const first = n.positionals[0];
      if (first && "dynamic" in first) lines.push(`complete -c fledge -n ${cond} -f -a '(__fledge_dyn ${first.dynamic})'`);
      else if (first && "words" in first) lines.push(`complete -c fledge -n ${cond} -f -a ${fishQuote(first.words.join(" "))}`);
    }
    for (const f of n.flags) lines.push(fishFlag(at, f));
  }
  return `${lines.join("\n")}\n`;
}

export async function completionScript(shell: Shell, root: AnyCommand): Promise<string> {
  const tree = await commandTree(root);
  return shell === "bash" ? bashScript(tree) : shell === "zsh" ? zshScript(tree) : fishScript(tree);
}

export default defineCommand({
  meta: {
    name: "completion",
    description: "Print a shell completion script (bash, zsh or fish). Example: eval \"$(fledge completion bash)\" in ~/.bashrc",
  },
  args: {
    shell: { type: "positional", required: false, description: "bash, zsh or fish" },
    "list-commands": { type: "boolean", description: "print the installed plugin commands, one per line (used by the scripts at TAB time)" },
    "list-plugins": { type: "boolean", description: "print the installed plugin names, one per line (used by the scripts at TAB time)" },
  },
  async run({ args }) {
    // Imported here, not at the top: index.ts loads this module lazily and we need its tree.
    const { root } = await import("./index.ts");
    if (args["list-commands"]) {
      // Names and declared aliases only: TAB must not load every sub-command.
      const names = [...(await namesOf(root)).keys()];
      const cmds = pluginCommands(names);
      if (cmds.length) printResult(cmds.join("\n"));
      return EXIT.ok;
    }
    if (args["list-plugins"]) {
      const names = pluginNames();
      if (names.length) printResult(names.join("\n"));
      return EXIT.ok;
    }
    const shell = args.shell === undefined ? undefined : String(args.shell);
    if (!shell || !(SHELLS as readonly string[]).includes(shell)) {
      throw usageError(
        shell ? `unknown shell '${shell}': fledge completion supports bash, zsh and fish` : "fledge completion needs a shell: bash, zsh or fish",
        'e.g. eval "$(fledge completion bash)" in ~/.bashrc',
      );
    }
    writeStdout(await completionScript(shell as Shell, root));
    return EXIT.ok;
  },
});
