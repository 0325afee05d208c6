import { writeSync } from "node:fs";
import { FLEDGE_COMMIT, FLEDGE_VERSION } from "../version.ts";

/** `fledge --version`'s line. */
export function versionLine(): string {
  return `fledge ${FLEDGE_VERSION} (${FLEDGE_COMMIT})`;
}

/**
 * `fledge --version` on its own: the line written straight to fd 1, loading nothing
 * else of fledge (a closed stdout is exit 0, as everywhere). The text is fledge's
 * own (a version and a hex commit id), so it needs no sanitizing.
 */
export function printVersion(): number {
  let buf = Buffer.from(`${versionLine()}\n`);
  try {
    while (buf.length > 0) buf = buf.subarray(writeSync(1, buf));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EAGAIN") process.stdout.write(buf); // a non-blocking pipe that is full: the stream waits
    else if (code !== "EPIPE") throw e;
  }
  return 0;
}
