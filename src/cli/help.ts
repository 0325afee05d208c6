/**
 * `--help` screens, laid out for the terminal they are shown on: descriptions wrap at
 * word boundaries to its width (80 columns on a pipe), in a column next to the names
 * when there is room and under them when there is not. Built from the same command
 * definitions the CLI dispatches on. (citty's own renderer pads every description to
 * the longest one, which wraps mid-word in a normal terminal.)
 */
import type { ArgsDef, CommandDef } from "citty";
import { paint, wrapText, displayWidth } from "../ui/table.ts";
import { GLOBAL_FLAGS, subCommandsOf } from "./framework.ts";

type AnyCommand = CommandDef<ArgsDef>;

async function value<T>(v: T | Promise<T> | (() => T) | (() => Promise<T>)): Promise<T> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

const listOf = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v ? [v] : []);

/** "What it does. Example: fledge x" → the text and the example (shown on a line of its own). */
export function splitExample(description: string): { text: string; example: string | undefined } {
  const at = description.search(/\s*\bExample: /);
  if (at < 0) return { text: description.trim(), example: undefined };
  return { text: description.slice(0, at).trim(), example: description.slice(at).replace(/^\s*Example: /, "").trim() };
}

/**
 * Two columns: names, then descriptions wrapped beside them. A name too long for the
 * name column (at most ~40% of the width) gets its description on the lines under it.
 */
function twoColumns(rows: { name: string; text: string }[], width: number, color: boolean): string[] {
  const cap = Math.min(30, Math.floor(width * 0.4)) - 4;
  const fitting = rows.map((r) => displayWidth(r.name)).filter((n) => n <= cap);
  const nameWidth = fitting.length ? Math.max(...fitting) : 0;
  const side = 2 + nameWidth + 2;
  const out: string[] = [];
  for (const r of rows) {
    const name = paint("cyan", r.name, color);
    const nw = displayWidth(r.name);
    if (nw <= nameWidth && width - side >= 20) {
      const lines = wrapText(r.text, width, " ".repeat(side));
      const first = (lines[0] ?? "").slice(side);
      out.push(`  ${name}${" ".repeat(nameWidth - nw)}  ${first}`.trimEnd(), ...lines.slice(1));
    } else {
      out.push(`  ${name}`);
      if (r.text) out.push(...wrapText(r.text, width, " ".repeat(Math.min(side, 8))));
    }
  }
  return out;
}

/** The help screen of `cmd`, reached through `path` (e.g. ["plugins", "install"]). */
export async function renderHelp(cmd: AnyCommand, path: readonly string[], width: number, color: boolean): Promise<string> {
  const w = Math.max(30, width);
  const meta = cmd.meta ? await value(cmd.meta) : undefined;
  const full = ["fledge", ...path].join(" ");
  const { text, example } = splitExample(meta?.description ?? "");
  const out: string[] = [];
  if (text) out.push(...wrapText(text, w));
  const aliases = listOf(meta?.alias);

  if (cmd.subCommands) {
    const subs = await subCommandsOf(cmd);
    out.push("", paint("bold", "Usage:", color), ...wrapText(`${full} <command> [options]`, w, "    ", "  "));
    const rows: { name: string; text: string }[] = [];
    for (const [name, sub] of Object.entries(subs)) {
      const m = sub.meta ? await value(sub.meta) : undefined;
      rows.push({ name, text: splitExample(m?.description ?? "").text });
    }
    out.push("", paint("bold", "Commands:", color), ...twoColumns(rows, w, color));
    const flags = [{ name: "-h, --help", text: "show help (also after a command)" }];
    if (path.length === 0) flags.push({ name: "-v, --version", text: "print the version and the commit it was built from" });
    flags.push({ name: GLOBAL_FLAGS.join(", "), text: "never prompt; anything that needs consent fails with the flag that grants it" });
    out.push("", paint("bold", "Options:", color), ...twoColumns(flags, w, color));
    if (aliases.length) out.push("", `Alias: ${aliases.map((a) => ["fledge", ...path.slice(0, -1), a].join(" ")).join(", ")}`);
    out.push("", ...wrapText(`Run '${full} <command> --help' for a command's arguments and an example.`, w));
    return `${out.join("\n")}\n`;
  }

  const args = cmd.args ? await value(cmd.args) : {};
  const positionals: { name: string; text: string }[] = [];
  const flags: { name: string; text: string }[] = [];
  let usage = full;
  for (const [name, def] of Object.entries(args)) {
    const desc = def.description ?? "";
    if (def.type === "positional") {
      const shown = `<${name}>`;
      const required = def.required !== false;
      usage += required ? ` ${shown}` : ` [${name}]`;
      positionals.push({ name: shown, text: `${desc}${required ? "" : " (optional)"}` });
      continue;
    }
    const spellings = [...listOf("alias" in def ? def.alias : undefined).map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), `--${name}`];
    const options = def.type === "enum" && "options" in def && Array.isArray(def.options) ? def.options.map(String) : undefined;
    const valueName = def.type === "string" ? " <value>" : options ? ` <${options.join("|")}>` : "";
    flags.push({ name: `${spellings.join(", ")}${valueName}`, text: desc });
  }
  // Long-only flags line up with the long spelling of flags that have a short one.
  if (flags.some((f) => /^-[^-]/.test(f.name))) for (const f of flags) if (f.name.startsWith("--")) f.name = `    ${f.name}`;
  if (flags.length) usage += " [options]";
  flags.push({ name: "-h, --help", text: "show this help" });
  out.push("", paint("bold", "Usage:", color), ...wrapText(usage, w, "    ", "  "));
  if (positionals.length) out.push("", paint("bold", "Arguments:", color), ...twoColumns(positionals, w, color));
  out.push("", paint("bold", "Options:", color), ...twoColumns(flags, w, color));
  if (example) out.push("", ...wrapText(`${paint("bold", "Example:", color)} ${example}`, w, "  ", ""));
  return `${out.join("\n")}\n`;
}
