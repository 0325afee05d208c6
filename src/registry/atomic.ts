/**
 * Atomic file replacement: write a uniquely named temp file in the target's own
 * directory (same filesystem, so rename is atomic), fsync it, then rename it over the
 * target. Readers see the old file or the new one, never a torn mix; a crash or error
 * before the rename leaves the old file untouched and the temp file removed.
 */
import { hostTag, randomBytes } from "../core/index.ts";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { chmod, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode for the result. Default: keep the existing file's mode, else 0o644. */
  mode?: number;
  /**
   * Fault-injection seam for tests: called after the temp file is written and synced,
   * just before the rename. Throwing here simulates a crash between write and rename.
   */
  beforeRename?: (tempPath: string) => void;
}

/** `.<name>.tmp.<pid>.<host tag>.<random>` next to the target: unique per process, host and call. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp.${process.pid}.${hostTag()}.${randomBytes(6).toString("hex")}`);
}

const DEFAULT_MODE = 0o644;

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

// Windows refuses to rename over a file another process has open; retry briefly as the
// original did (20 x 10 ms). POSIX rename never fails this way, so no retry there.
const RETRYABLE_RENAME = new Set(["EPERM", "EACCES", "EBUSY"]);
const RENAME_RETRIES = process.platform === "win32" ? 20 : 0;

export async function atomicWrite(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const mode = opts.mode ?? (await stat(path).then((s) => s.mode & 0o7777, () => DEFAULT_MODE));
  const temp = tempPathFor(path);
  try {
    // "wx": never follow or reuse an existing path at the temp name.
    const fh = await open(temp, "wx", mode);
    try {
      await fh.writeFile(toBytes(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(temp, mode); // open's mode is filtered by umask; the caller asked for this one
    opts.beforeRename?.(temp);
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(temp, path);
        break;
      } catch (e) {
        if (attempt >= RENAME_RETRIES || !RETRYABLE_RENAME.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
        await Bun.sleep(10);
      }
    }
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

export function atomicWriteSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  let mode = opts.mode;
  if (mode === undefined) {
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      mode = DEFAULT_MODE;
    }
  }
  const temp = tempPathFor(path);
  try {
    const fd = openSync(temp, "wx", mode);
    try {
      const bytes = toBytes(data);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temp, mode);
    opts.beforeRename?.(temp);
    for (let attempt = 0; ; attempt++) {
      try {
        renameSync(temp, path);
        break;
      } catch (e) {
        if (attempt >= RENAME_RETRIES || !RETRYABLE_RENAME.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
        Bun.sleepSync(10);
      }
    }
  } catch (e) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone (or never created)
    }
    throw e;
  }
  syncDirSync(dir);
}

// fsync the directory so the rename itself survives a power cut. Best effort: Windows
// cannot open directories this way, and some filesystems refuse; the write is still atomic.
async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

function syncDirSync(dir: string): void {
  if (process.platform === "win32") return;
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
