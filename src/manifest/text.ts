/**
 * Small text helpers for validation messages. plugin.toml is untrusted input (it may
 * come from an archive we have not installed yet), so every value we echo back is
 * escaped and shortened: a manifest must not be able to write terminal escape
 * sequences or megabytes of text through `fledge plugins validate`.
 */

import { renderUntrusted } from "../ui/sanitize.ts";

const MAX_SHOWN = 80;

/** A value from the manifest, safe to print: shown by the one untrusted-text renderer, long text cut. */
export function show(value: string): string {
  return renderUntrusted(value, MAX_SHOWN);
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** One segment of a key path, quoted like TOML when it is not a bare key. */
export function keySegment(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(show(key));
}

/** `["commands", 1, "binary"]` → `commands[1].binary`. */
export function keyPath(parts: readonly (string | number)[]): string {
  let out = "";
  for (const p of parts) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? keySegment(p) : `.${keySegment(p)}`;
  }
  return out;
}

/** The TOML type of a parsed value, for "must be a string, got integer". */
export function tomlType(value: unknown): string {
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "number") return "a float"; // integers are parsed as BigInt
  if (typeof value === "bigint") return "an integer";
  if (Array.isArray(value)) return value.length > 0 && value.every(isTable) ? "an array of tables" : "an array";
  if (value instanceof Date || (typeof value === "object" && value !== null && value.constructor?.name === "TomlDate")) return "a date/time";
  if (isTable(value)) return "a table";
  return "an unknown value";
}

export function isTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}
