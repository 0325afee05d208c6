import { suggest } from "../core/suggest.ts";
import { KNOWN_KEYS } from "./schema.ts";
import { isTable, keySegment } from "./text.ts";
import type { Problem } from "./types.ts";

/**
 * For --strict: one warning per key fledge does not read, with a did-you-mean for
 * near misses. Only the tables fledge knows are searched; an unknown table is one
 * warning, not one per key inside it. `plugin.commands` (the old command form) has
 * its own warning in every mode, so it is not repeated here.
 */
export function unknownKeyWarnings(doc: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const check = (table: unknown, prefix: string, allowed: readonly string[], skip: readonly string[] = []): void => {
    if (!isTable(table)) return;
    for (const key of Object.keys(table)) {
      if (allowed.includes(key) || skip.includes(key)) continue;
      const path = `${prefix}${keySegment(key)}`;
      const ideas = suggest(key, allowed, 1);
      out.push({ path, message: `unknown key ${path} is ignored${ideas.length ? ` (did you mean ${ideas[0]}?)` : ""}` });
    }
  };
  check(doc, "", KNOWN_KEYS.root);
  check(doc.plugin, "plugin.", KNOWN_KEYS.plugin, ["commands"]);
  if (Array.isArray(doc.commands)) doc.commands.forEach((c, i) => check(c, `commands[${i}].`, KNOWN_KEYS.command));
  check(doc.hooks, "hooks.", KNOWN_KEYS.hooks);
  check(doc.capabilities, "capabilities.", KNOWN_KEYS.capabilities);
  return out;
}
