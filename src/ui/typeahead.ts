/**
 * Discarding typeahead before a consent question, like sudo does: keys typed before
 * the question was on screen (a `y<Enter>` meant for something else, or pasted/queued
 * by whatever feeds the terminal) must never be taken as the answer.
 *
 * tcflush(fd, TCIFLUSH) drops what the terminal has received but fledge has not read,
 * in the kernel's line discipline, whether it was typed in cooked or raw mode. It is
 * reached through bun:ffi (node has no binding); loaded lazily and once. Where it
 * cannot be loaded (another OS, no libc found) `discardTypeahead` returns false and the
 * caller still drops whatever its stream had already buffered.
 */

type Tcflush = (fd: number, queue: number) => number;
let loaded: Tcflush | null | undefined;

/** TCIFLUSH: 0 on Linux, 1 on macOS and the BSDs. */
const TCIFLUSH = process.platform === "linux" ? 0 : 1;

function load(): Tcflush | null {
  if (process.platform !== "linux" && process.platform !== "darwin" && process.platform !== "freebsd") return null;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const symbols = { tcflush: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } } as const;
    const names =
      process.platform === "linux"
        ? ["libc.so.6", `libc.musl-${process.arch === "x64" ? "x86_64" : "aarch64"}.so.1`, "libc.so"]
        : process.platform === "darwin"
          ? ["/usr/lib/libSystem.B.dylib", "libc.dylib"]
          : ["libc.so.7", "libc.so"];
    for (const name of names) {
      try {
        const s = dlopen(name, symbols).symbols;
        return (fd, queue) => s.tcflush(fd, queue);
      } catch {
        // try the next name
      }
    }
  } catch {
    // no bun:ffi in this runtime
  }
  return null;
}

/** Drop the terminal input fledge has not read yet. true when the kernel queue was flushed. */
export function discardTypeahead(fd: number): boolean {
  if (loaded === undefined) loaded = load();
  if (loaded === null) return false;
  try {
    return loaded(fd, TCIFLUSH) === 0;
  } catch {
    return false;
  }
}
