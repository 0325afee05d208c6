/**
 * The type layer of plugin.toml: which keys hold which TOML types. Only types live
 * here; what the values mean (names, versions, paths, runtimes) is checked in
 * ./rules.ts. Objects are loose because real manifests carry keys we do not read
 * (license, keywords, args, ...): those are ignored, and listed by --strict.
 *
 * Each schema's message is the expected type in words; `typeProblems` turns every
 * issue into "<key path> must be <expected>, got <actual>", all at once.
 */
import * as v from "valibot";
import type { Problem } from "./types.ts";
import { isTable, keyPath, tomlType } from "./text.ts";

const str = v.optional(v.string("a string"));

/**
 * valibot's object schemas accept arrays and other objects (a TOML date is one), so
 * a table is first checked to be a plain table: `[[hooks]]` must not pass as `[hooks]`.
 */
function tableOf<E extends v.ObjectEntries>(entries: E, expected: string) {
  return v.pipe(
    v.custom<Record<string, unknown>>((input) => isTable(input), expected),
    v.looseObject(entries, expected),
  );
}
const bool = v.optional(v.boolean("a boolean (true or false)"));

const pluginTable = tableOf(
  {
    name: str,
    version: str,
    description: str,
    author: str,
    protocol: str,
    runtime: str,
  },
  "a table ([plugin])",
);

const commandTable = tableOf(
  {
    name: str,
    description: str,
    binary: str,
  },
  "a table (one [[commands]] entry)",
);

const hooksTable = tableOf(
  {
    build: str,
    post_install: str,
    post_remove: str,
    pre_init: str,
    post_work_start: str,
    pre_push: str,
  },
  "a table ([hooks], not [[hooks]])",
);

const capabilitiesTable = tableOf(
  {
    exec: bool,
    store: bool,
    metadata: bool,
    filesystem: str,
    network: bool,
    hosts: v.optional(v.array(v.string("a string"), "an array of strings like [\"api.example.com\", \"127.0.0.1:8080\"]")),
  },
  "a table ([capabilities])",
);

const confinementTable = tableOf(
  {
    read: v.optional(v.array(v.string("a string"), "an array of paths")),
    write: v.optional(v.array(v.string("a string"), "an array of paths")),
    env: v.optional(v.array(v.string("a string"), "an array of variable names")),
  },
  "a table ([confinement])",
);

export const manifestSchema = v.looseObject({
  plugin: v.optional(pluginTable),
  commands: v.optional(v.array(commandTable, "an array of tables (write [[commands]], with double brackets)")),
  hooks: v.optional(hooksTable),
  capabilities: v.optional(capabilitiesTable),
  confinement: v.optional(confinementTable),
});

/** Every wrong-typed field of a parsed TOML document, each with its key path. */
export function typeProblems(doc: unknown): Problem[] {
  const result = v.safeParse(manifestSchema, doc, { abortEarly: false });
  if (result.success) return [];
  return result.issues.map((issue) => {
    const parts = (issue.path ?? []).map((item) => (typeof item.key === "number" ? item.key : String(item.key)));
    const path = keyPath(parts);
    return { path, message: `${path} must be ${issue.message}, got ${tomlType(issue.input)}` };
  });
}

/** The keys each known table reads; anything else is "unknown" (reported by --strict). */
export const KNOWN_KEYS = {
  root: ["plugin", "commands", "hooks", "capabilities", "confinement"],
  plugin: Object.keys(pluginTable.pipe[1].entries),
  command: Object.keys(commandTable.pipe[1].entries),
  hooks: Object.keys(hooksTable.pipe[1].entries),
  capabilities: Object.keys(capabilitiesTable.pipe[1].entries),
  confinement: Object.keys(confinementTable.pipe[1].entries),
} as const;
