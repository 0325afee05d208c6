/**
 * Thrown by `proc_exit` (and reusable by the plugin ABI's `exit`) to end the run.
 * Only the runner catches it; guests cannot, because modules using exception
 * handling are refused before they run. Never calls process.exit.
 */
export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`guest exited with code ${code}`);
    this.name = "WasiExit";
  }
}
