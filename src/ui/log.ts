import { createConsola, type ConsolaInstance } from "consola";
import { useColor } from "./env.ts";

/**
 * The one logger. consola writes to stderr only, so stdout stays clean for results
 * and plugin output. Colour follows NO_COLOR and whether stderr is a TTY.
 */
export const log: ConsolaInstance = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  formatOptions: { colors: useColor(process.stderr), date: false, compact: true },
});
