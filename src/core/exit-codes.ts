/**
 * fledge's own exit codes. When a plugin or `wasm run` module ran to completion (or
 * called exit), its own code is used instead. The limit codes sit high so they are
 * unlikely to be mistaken for a program's ordinary failures; 124 matches timeout(1).
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  trap: 121,
  fuelExhausted: 122,
  memoryLimit: 123,
  timeLimit: 124,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
