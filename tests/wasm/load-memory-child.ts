/**
 * Child process of tests/wasm/load-bounds.test.ts: instruments the module at argv[2]
 * and prints, as JSON, the output's size and how far the process's peak resident set
 * rose above where it stood just before (the peak is reset first, so reading the
 * module does not count).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { instrument } from "../../src/wasm/instrument.ts";

const status = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
const bytes = new Uint8Array(readFileSync(process.argv[2]!));
Bun.gc(true);
writeFileSync("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
const before = status("VmRSS");
const out = instrument(bytes, { fuel: true, maxMemoryBytes: null, validate: false }).bytes;
console.log(JSON.stringify({ output: out.length, rise: status("VmHWM") - before }));
