import { mkdirSync, openSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createWasi, type Preopen, type Wasi } from "../../../src/wasi/index.ts";
import { O_DIR_NOFOLLOW, closeQuietly, type DirHandle } from "../../../src/wasi/hostfs.ts";
import { tempDir } from "../../helpers/cli.ts";

/**
 * A temp tree for containment tests:
 *   <tmp>/outside/secret.txt, <tmp>/secret.txt   (must never be reachable)
 *   <tmp>/root/  (the preopen) with file.txt, dir/nested/file, a/b/c
 */
export function makeTree(): { tmp: string; root: string; cleanup: () => void } {
  const t = tempDir("fledge-wasi-unit-");
  const root = join(t.path, "root");
  mkdirSync(join(t.path, "outside"));
  writeFileSync(join(t.path, "outside", "secret.txt"), "OUTSIDE");
  writeFileSync(join(t.path, "secret.txt"), "PARENT");
  mkdirSync(join(root, "dir", "nested"), { recursive: true });
  mkdirSync(join(root, "a", "b", "c"), { recursive: true });
  writeFileSync(join(root, "file.txt"), "inside");
  writeFileSync(join(root, "dir", "nested", "file"), "nested");
  writeFileSync(join(root, "a", "red.txt"), "red");
  return { tmp: t.path, root, cleanup: t.cleanup };
}

export function link(target: string, at: string): void {
  symlinkSync(target, at);
}

export function openDir(path: string): DirHandle {
  return { fd: openSync(path, O_DIR_NOFOLLOW), path };
}

export function hostPathOf(h: DirHandle): string {
  return readlinkSync(`/proc/self/fd/${h.fd}`);
}

export { closeQuietly };

/**
 * A WASI instance bound to a plain memory, with helpers to put strings in guest
 * memory and call imports directly (no wasm module needed).
 */
export class Guest {
  readonly wasi: Wasi;
  readonly memory = new WebAssembly.Memory({ initial: 2, maximum: 16 });
  private next = 1024;

  constructor(preopens: Preopen[], extra: { maxFds?: number; args?: string[]; env?: [string, string][]; deadline?: number } = {}) {
    this.wasi = createWasi({ args: extra.args ?? ["test"], env: extra.env ?? [], preopens, maxFds: extra.maxFds, deadline: extra.deadline });
    this.wasi.bindMemory(this.memory);
  }

  fn(name: string): (...args: (number | bigint)[]) => number {
    return this.wasi.imports[name] as (...args: (number | bigint)[]) => number;
  }

  call(name: string, ...args: (number | bigint)[]): number {
    return this.fn(name)(...args);
  }

  /** Copy bytes into guest memory; returns [ptr, len]. */
  put(data: string | Uint8Array): [number, number] {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (this.next + bytes.length > 120_000) this.next = 1024; // scratch space wraps; tests hold pointers briefly
    const ptr = this.next;
    new Uint8Array(this.memory.buffer).set(bytes, ptr);
    this.next += bytes.length + 8 - (bytes.length % 8);
    return [ptr, bytes.length];
  }

  alloc(n: number): number {
    if (this.next + n > 120_000) this.next = 1024;
    const ptr = this.next;
    this.next += n + 8 - (n % 8);
    new Uint8Array(this.memory.buffer, ptr, n).fill(0);
    return ptr;
  }

  u32(ptr: number): number {
    return new DataView(this.memory.buffer).getUint32(ptr, true);
  }

  u64(ptr: number): bigint {
    return new DataView(this.memory.buffer).getBigUint64(ptr, true);
  }

  bytes(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, len).slice();
  }

  /** path_open relative to dirfd; returns [errno, fd]. */
  open(dirfd: number, path: string | Uint8Array, o: { oflags?: number; rights?: bigint; follow?: boolean; fdflags?: number } = {}): [number, number] {
    const [p, l] = this.put(path);
    const ret = this.alloc(4);
    const rights = o.rights ?? 0x1fffffffn;
    const err = this.call("path_open", dirfd, o.follow ? 1 : 0, p, l, o.oflags ?? 0, rights, rights, o.fdflags ?? 0, ret);
    return [err, err === 0 ? this.u32(ret) : -1];
  }

  /** Call a (fd, ptr, len) path function. */
  path(name: string, dirfd: number, path: string): number {
    const [p, l] = this.put(path);
    return this.call(name, dirfd, p, l);
  }

  write(fd: number, data: string): [number, number] {
    const [p, l] = this.put(data);
    const iov = this.alloc(8);
    const dv = new DataView(this.memory.buffer);
    dv.setUint32(iov, p, true);
    dv.setUint32(iov + 4, l, true);
    const ret = this.alloc(4);
    const err = this.call("fd_write", fd, iov, 1, ret);
    return [err, this.u32(ret)];
  }

  read(fd: number, n: number): [number, string] {
    const buf = this.alloc(n);
    const iov = this.alloc(8);
    const dv = new DataView(this.memory.buffer);
    dv.setUint32(iov, buf, true);
    dv.setUint32(iov + 4, n, true);
    const ret = this.alloc(4);
    const err = this.call("fd_read", fd, iov, 1, ret);
    return [err, new TextDecoder().decode(this.bytes(buf, this.u32(ret)))];
  }

  close(): void {
    this.wasi.closeAll();
  }
}
