import type { Problem } from "./types.ts";

/** Where the rules put what they find; every rule reports into one of these. */
export interface Findings {
  errors: Problem[];
  warnings: Problem[];
  err(path: string, message: string): void;
  warn(path: string, message: string): void;
}

export function findings(): Findings {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  return {
    errors,
    warnings,
    err: (path, message) => void errors.push({ path, message }),
    warn: (path, message) => void warnings.push({ path, message }),
  };
}

export function str(table: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = table?.[key];
  return typeof value === "string" ? value : undefined;
}
