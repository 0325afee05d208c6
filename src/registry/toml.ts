/** Reading TOML files with errors that point at the exact spot and say what to do. */
import { readFileSync } from "node:fs";
import { parse, TomlError } from "smol-toml";
import * as v from "valibot";
import { FledgeError } from "../core/index.ts";

/** File text, or undefined when the file does not exist (any other read error is fatal). */
export function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FledgeError(`Cannot read ${file}: ${(e as Error).message}`, {
      cause: e,
      code: "io_error",
      hint: "Check the file's permissions.",
    });
  }
}

/** Parse TOML text; a syntax error names file, line and column and keeps the file untouched. */
export function parseTomlText(text: string, file: string, code: string, what: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0] ?? e.message;
      throw new FledgeError(`${what} ${file} is not valid TOML at line ${e.line}, column ${e.column}: ${first}`, {
        code,
        hint: `Fix the syntax at ${file}:${e.line}:${e.column} by hand; fledge will not overwrite it.`,
        details: { file, line: e.line, column: e.column },
      });
    }
    throw e;
  }
}

/** A valibot issue's location as `a.b[0].c`, for messages. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Describe what a value actually is, for "expected X, got Y" messages. */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "object") return "a table";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}
