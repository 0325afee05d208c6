import { fstatSync, statSync } from "node:fs";
import { libc } from "./libc.ts";

/**
 * What poll_oneoff reports for an fd_read subscription on stdin: how many bytes wait
 * and whether the input has ended (EVENTRWFLAGS_FD_READWRITE_HANGUP), which wasi-libc
 * turns into POLLHUP. Programs that poll stdin (Node's own WASI tests do) expect
 * POLLIN|POLLHUP at end of input instead of waiting or reading forever.
 *
 * "Ended" means a read would return 0 now: the writer is gone AND nothing is left.
 * - no host fd (a plugin's empty stdin): always ended
 * - pipe, FIFO, socket: poll(2) says POLLHUP or POLLRDHUP and FIONREAD says 0 bytes
 *   (Linux also sets POLLHUP while data is still buffered after the writer closed)
 * - a regular file (`< file`): ended at its end (as wasmtime reports files), with the
 *   bytes left from the shared position (lseek)
 * - /dev/null: ended (every read is end of file)
 * - a terminal or anything else: never reported ended (end of input there is a key)
 * Without libc (libc.ts) only the empty stdin and /dev/null can be known.
 */

const POLLIN = 0x1;
const POLLHUP = 0x10;
const POLLRDHUP = 0x2000;
const FIONREAD = 0x541b;
const SEEK_CUR = 1;

export interface InputReadiness {
  nbytes: bigint;
  hangup: boolean;
}

let devNullRdev: bigint | null | undefined;
function isDevNull(rdev: bigint): boolean {
  if (devNullRdev === undefined) {
    try {
      devNullRdev = statSync("/dev/null", { bigint: true }).rdev;
    } catch {
      devNullRdev = null;
    }
  }
  return devNullRdev !== null && rdev === devNullRdev;
}

const pollfd = new Int32Array(2);
const count = new Int32Array(1);

export function stdinReadiness(hostFd: number | undefined): InputReadiness {
  if (hostFd === undefined) return { nbytes: 0n, hangup: true };
  let st;
  try {
    st = fstatSync(hostFd, { bigint: true });
  } catch {
    return { nbytes: 0n, hangup: false };
  }
  if (st.isCharacterDevice()) return { nbytes: 0n, hangup: isDevNull(st.rdev) };
  const c = libc();
  if (!c) return { nbytes: 0n, hangup: false };
  if (st.isFile()) {
    const pos = c.lseek(hostFd, 0n, SEEK_CUR);
    if (pos < 0n) return { nbytes: 0n, hangup: false };
    const left = st.size > pos ? st.size - pos : 0n;
    return { nbytes: left, hangup: left === 0n };
  }
  if (!st.isFIFO() && !st.isSocket()) return { nbytes: 0n, hangup: false };
  pollfd[0] = hostFd;
  pollfd[1] = POLLIN | POLLRDHUP; // events in the low half, revents come back in the high half
  if (c.poll(pollfd, 1, 0) < 0) return { nbytes: 0n, hangup: false };
  const revents = (pollfd[1]! >>> 16) & 0xffff;
  count[0] = 0;
  const pending = c.ioctlInt(hostFd, FIONREAD, count) === 0 ? count[0]! : -1;
  const nbytes = pending > 0 ? BigInt(pending) : 0n;
  return { nbytes, hangup: (revents & (POLLHUP | POLLRDHUP)) !== 0 && pending === 0 };
}
