/**
 * Host-side bounds inside the WASI functions (issue 10, item 4): fd_readdir looks up
 * inodes only for the entries it hands out, yet every entry it hands out is exact;
 * paths are length-capped before the host copies them.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERRNO } from "../../../src/wasi/errno.ts";
import { FILETYPE, LIMITS } from "../../../src/wasi/types.ts";
import { Guest, makeTree } from "./harness.ts";

let tree: ReturnType<typeof makeTree>;
let g: Guest;
beforeEach(() => {
  tree = makeTree();
  g = new Guest([{ hostPath: tree.root, guestPath: "/p", readOnly: false }]);
});
afterEach(() => {
  g.close();
  tree.cleanup();
});

interface Dirent {
  next: bigint;
  ino: bigint;
  type: number;
  name: string;
}

/** Read a whole directory through fd_readdir with a small buffer, resuming from each last complete entry's d_next. */
function listAll(fd: number, bufLen: number): Dirent[] {
  const buf = g.alloc(bufLen);
  const ret = g.alloc(4);
  const out: Dirent[] = [];
  let cookie = 0n;
  for (let round = 0; round < 10_000; round++) {
    expect(g.call("fd_readdir", fd, buf, bufLen, cookie, ret)).toBe(0);
    const used = g.u32(ret);
    const dv = new DataView(g.memory.buffer);
    let o = 0;
    let got = 0;
    while (o + 24 <= used) {
      const len = dv.getUint32(buf + o + 16, true);
      if (o + 24 + len > used) break;
      out.push({ next: dv.getBigUint64(buf + o, true), ino: dv.getBigUint64(buf + o + 8, true), type: dv.getUint8(buf + o + 20), name: new TextDecoder().decode(g.bytes(buf + o + 24, len)) });
      cookie = dv.getBigUint64(buf + o, true);
      o += 24 + len;
      got++;
    }
    if (used < bufLen) break;
    expect(got).toBeGreaterThan(0);
  }
  return out;
}

describe("fd_readdir resolves lazily, exactly", () => {
  test("every entry handed out has its real inode and type, across resumed small reads on two interleaved fds", () => {
    const d = join(tree.root, "mix");
    mkdirSync(d);
    for (let i = 0; i < 40; i++) writeFileSync(join(d, `file${i}`), "");
    mkdirSync(join(d, "sub"));
    symlinkSync("file0", join(d, "link"));
    const [e1, a] = g.open(3, "mix", { rights: BigInt(1 << 14) });
    const [e2, b] = g.open(3, "mix", { rights: BigInt(1 << 14) });
    expect([e1, e2]).toEqual([0, 0]);
    const first = listAll(a, 100);
    const second = listAll(b, 64);
    for (const list of [first, second]) {
      expect(list.length).toBe(44);
      for (const x of list) {
        if (x.name === "." || x.name === "..") continue;
        const st = lstatSync(join(d, x.name), { bigint: true });
        expect(x.ino).toBe(st.ino);
        const want = x.name === "sub" ? FILETYPE.directory : x.name === "link" ? FILETYPE.symbolic_link : FILETYPE.regular_file;
        expect(x.type).toBe(want);
      }
    }
    expect(second.map((x) => x.name).sort()).toEqual(first.map((x) => x.name).sort());
  });
});

describe("paths are capped before they are copied", () => {
  test(`a path of ${LIMITS.maxPathBytes + 1} bytes is ENAMETOOLONG; a length past guest memory stays EFAULT`, () => {
    const [p] = g.put("x".repeat(LIMITS.maxPathBytes + 1));
    const ret = g.alloc(4);
    expect(g.call("path_open", 3, 0, p, LIMITS.maxPathBytes + 1, 0, 2n, 0n, 0, ret)).toBe(ERRNO.nametoolong);
    expect(g.call("path_open", 3, 0, p, 0xffffffff, 0, 2n, 0n, 0, ret)).toBe(ERRNO.fault);
    const [t] = g.put("y".repeat(LIMITS.maxPathBytes + 1));
    const [n, nl] = g.put("newlink");
    expect(g.call("path_symlink", t, LIMITS.maxPathBytes + 1, 3, n, nl)).toBe(ERRNO.nametoolong);
  });
});
