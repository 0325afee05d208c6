/**
 * Thrown by `proc_exit` (and reusable by the plugin ABI's `exit`) to end the run.
 * A guest with exception handling can catch it (`catch_all`), so the import wrapper
 * reports it to the runner first (WasiOptions.onRunEnding), which halts the guest and
 * keeps this as the outcome. Never calls process.exit.
 */
export class WasiExit extends Error {
  constructor(readonly code: number) {
    super(`guest exited with code ${code}`);
    this.name = "WasiExit";
  }
}
