/**
 * Reading a file whose path someone else may have planted: only a regular file, never
 * through a symlink at its last component, never blocking on a FIFO, never more than
 * a cap. Used for files fledge reads on a plugin's behalf and for its own cache files,
 * where a link, a FIFO or a huge file put in their place must be a miss, not a hang or
 * a read of something else.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** The file's bytes, or undefined if it is missing, not a regular file, over `maxBytes`, or changed size while read. */
export function readRegularFile(path: string, maxBytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > maxBytes) return undefined;
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) return undefined; // shrank while read: someone is replacing it
      off += n;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
