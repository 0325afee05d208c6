/**
 * THE way fledge reads a module file (`wasm run`, `wasm prepare`, plugin runs, install's
 * prepare step): the file is opened once, the open file is fstat'ed, and a file that is
 * not regular or is over the module size cap is refused before a byte is read. Then
 * exactly the size fstat gave is read, so a file that grows while it is read cannot push
 * past the cap. Reading first and checking after let a 3 GiB (sparse) file take 3 GiB of
 * memory, twice that with a copy, before the 64 MiB cap refused it, and for a plugin run
 * before the memory guard was even armed.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from "node:fs";
import { capError, MODULE_CAPS } from "./caps.ts";
import { sourceBuffer } from "./validate-async.ts";

/** A module file opened and checked: `read` gives its bytes. The caller closes `fd`. */
export interface OpenModule {
  fd: number;
  /** fstat of the open file, before reading. */
  stat: BigIntStats;
  /** The file's bytes: exactly `stat.size` of them at most (fewer if it shrank meanwhile). */
  read(): Uint8Array;
}

/**
 * THE decision whether a module file may be read: it must be a regular file (a FIFO or
 * a device has no size to check) of at most {@link MODULE_CAPS.moduleBytes}. Throws the
 * module size cap's own error, or an ENOTFILE error for a file that is not regular.
 */
export function checkModuleFileStat(path: string, st: BigIntStats): void {
  if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "ENOTFILE" });
  if (st.size > BigInt(MODULE_CAPS.moduleBytes)) throw capError("moduleBytes", Number(st.size), "bytes");
}

/** Opens `path` for reading its module (O_NONBLOCK: a FIFO named as the module cannot hang fledge) and checks it. */
export function openModuleFile(path: string): OpenModule {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stat = fstatSync(fd, { bigint: true });
    checkModuleFileStat(path, stat);
    return { fd, stat, read: () => readExactly(fd, Number(stat.size)) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The bytes of the module file at `path`, checked as {@link openModuleFile} does. */
export function readModuleFile(path: string): Uint8Array {
  const m = openModuleFile(path);
  try {
    return m.read();
  } finally {
    closeSync(m.fd);
  }
}

/** Reads at most `size` bytes from the start of `fd` into one fresh buffer (no second copy, none for the validating worker either). */
function readExactly(fd: number, size: number): Uint8Array {
  const buf = sourceBuffer(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}
