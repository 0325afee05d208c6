/**
 * The archive extractor refuses every hostile tarball before
 * anything escapes the destination. Each test extracts into `<tmp>/stage/tree` and
 * checks that nothing was written outside `<tmp>/stage`.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extractTarGz, type ExtractLimits } from "../../src/install/archive.ts";
import { FledgeError } from "../../src/ui/index.ts";
import { tempDir } from "../helpers/cli.ts";
import { gzip, makeTar, type TarEntry } from "../helpers/github-server.ts";
import { listAll } from "./helpers.ts";

let tmp: { path: string; cleanup: () => void };
let dest: string;
beforeEach(() => {
  tmp = tempDir("fledge-archive-");
  dest = join(tmp.path, "tree");
  // A file outside the tree that attacks try to reach or overwrite.
  writeFileSync(join(tmp.path, "victim.txt"), "original");
});
afterEach(() => tmp.cleanup());

const TOP = "acme-plugin-1234567";
const tgz = (entries: TarEntry[], opts?: { globalComment?: string }): Uint8Array => gzip(makeTar([{ name: `${TOP}/`, type: "5" }, ...entries], opts));

async function refused(data: Uint8Array | AsyncIterable<Uint8Array>, pattern: RegExp, limits?: ExtractLimits): Promise<void> {
  let err: unknown;
  try {
    await extractTarGz(data, dest, limits);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FledgeError);
  expect((err as FledgeError).code).toBe("unsafe_archive");
  expect((err as Error).message).toMatch(pattern);
  // Nothing changed outside the destination.
  expect(readFileSync(join(tmp.path, "victim.txt"), "utf8")).toBe("original");
  expect(listAll(tmp.path).filter((p) => p !== "victim.txt" && p !== "tree" && !p.startsWith("tree/"))).toEqual([]);
  rmSync(dest, { recursive: true, force: true }); // the installer removes its staging dir the same way
}

describe("a well-formed GitHub tarball", () => {
  test("extracts with the top directory stripped, exec bits kept, setuid dropped", async () => {
    await extractTarGz(
      tgz(
        [
          { name: `${TOP}/plugin.toml`, data: "x = 1\n" },
          { name: `${TOP}/bin/`, type: "5" },
          { name: `${TOP}/bin/run`, data: "#!/bin/sh\n", mode: 0o4755 },
          { name: `${TOP}/bin/alias`, type: "2", linkname: "run" },
          { name: `${TOP}/bin/copy`, type: "1", linkname: `${TOP}/bin/run` },
          { name: `${TOP}/${"d/".repeat(60)}deep.txt`, data: "deep" },
        ],
        { globalComment: "0123456789abcdef0123456789abcdef01234567" },
      ),
      dest,
    );
    expect(readFileSync(join(dest, "plugin.toml"), "utf8")).toBe("x = 1\n");
    expect(statSync(join(dest, "bin/run")).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(dest, "bin/alias"))).toBe("run");
    // A hard link becomes an independent copy.
    expect(lstatSync(join(dest, "bin/copy")).nlink).toBe(1);
    expect(readFileSync(join(dest, "bin/copy"), "utf8")).toBe("#!/bin/sh\n");
    expect(readFileSync(join(dest, `${"d/".repeat(60)}deep.txt`), "utf8")).toBe("deep");
    expect(existsSync(join(dest, TOP))).toBe(false);
  });
});

describe("H.2 hostile archives are refused", () => {
  test("absolute path", async () => {
    await refused(gzip(makeTar([{ name: `${tmp.path}/victim.txt`, data: "pwned" }])), /absolute path/);
  });

  test("'..' entries", async () => {
    await refused(tgz([{ name: `${TOP}/../victim.txt`, data: "pwned" }]), /'\.\.' path component/);
    await refused(tgz([{ name: `${TOP}/a/../../../victim.txt`, data: "pwned" }]), /'\.\.'/);
  });

  test("a symlink to /etc/passwd", async () => {
    await refused(tgz([{ name: `${TOP}/passwd`, type: "2", linkname: "/etc/passwd" }]), /absolute path '\/etc\/passwd'/);
  });

  test("a relative symlink out of the tree", async () => {
    await refused(tgz([{ name: `${TOP}/up`, type: "2", linkname: "../victim.txt" }]), /points outside/);
  });

  test("a symlink, then a file written through it", async () => {
    // The link itself is lexically inside (to a dir that is also inside); the write
    // through it must still be refused, as must a link chain that escapes for real.
    await refused(
      tgz([
        { name: `${TOP}/real/`, type: "5" },
        { name: `${TOP}/link`, type: "2", linkname: "real" },
        { name: `${TOP}/link/evil.txt`, data: "through the link" },
      ]),
      /symlink, and a later entry would be written through it/,
    );
  });

  test("symlink chains that escape only when resolved (L1 -> ., up -> L1/..)", async () => {
    await refused(
      tgz([
        { name: `${TOP}/L1`, type: "2", linkname: "." },
        { name: `${TOP}/up`, type: "2", linkname: "L1/.." },
      ]),
      /resolves outside/,
    );
  });

  test("a hard link to something outside the archive", async () => {
    await refused(tgz([{ name: `${TOP}/h`, type: "1", linkname: "/etc/passwd" }]), /absolute path/);
    await refused(tgz([{ name: `${TOP}/h`, type: "1", linkname: `${TOP}/../victim.txt` }]), /'\.\.'/);
    await refused(tgz([{ name: `${TOP}/h`, type: "1", linkname: `${TOP}/not-there` }]), /not a file earlier in the archive/);
  });

  test("device and FIFO entries", async () => {
    await refused(tgz([{ name: `${TOP}/null`, type: "3" }]), /device file/);
    await refused(tgz([{ name: `${TOP}/disk`, type: "4" }]), /device file/);
    await refused(tgz([{ name: `${TOP}/pipe`, type: "6" }]), /FIFO/);
  });

  test("a gzip bomb stops at the inflated-size cap", async () => {
    // 300 MiB of zeros in one entry: ~300 KiB compressed, over the default 256 MiB cap.
    const size = 300 * 1024 * 1024;
    const header = makeTar([{ name: `${TOP}/zeros`, data: "", size }]).subarray(0, 512);
    const body = Buffer.alloc(size);
    const bomb = gzip(Buffer.concat([makeTar([{ name: `${TOP}/`, type: "5" }]).subarray(0, 512), header, body]));
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    await refused(bomb, /inflates (to more than 256 MiB|more than 200 times)/);
    // With the ratio rule off, the absolute cap still stops it.
    await refused(bomb, /inflates to more than 256 MiB/, { maxBytes: 256 * 1024 * 1024, maxEntries: 20_000, maxRatio: Number.POSITIVE_INFINITY });
  });

  test("thousands of entries stop at the entry cap", async () => {
    // Header-only entries (empty GNU long names) write nothing, so the default cap is cheap to hit.
    const many: TarEntry[] = [];
    for (let i = 0; i < 20_001; i++) many.push({ name: "././@LongLink", type: "L" });
    await refused(tgz(many), /more than 20000 entries/);
    // And real files under a lower cap: refused before the 51st is created.
    const files: TarEntry[] = [];
    for (let i = 0; i < 60; i++) files.push({ name: `${TOP}/f${i}`, data: "" });
    await refused(tgz(files), /more than 50 entries/, { maxBytes: 1024 * 1024, maxEntries: 50 });
  });

  test("an entry named like fledge's staging directory", async () => {
    await refused(tgz([{ name: `${TOP}/.staging-1-abcdef/x`, data: "x" }]), /staging directory/);
  });

  test("two top-level directories (not a GitHub tarball)", async () => {
    await refused(gzip(makeTar([{ name: "a/x", data: "1" }, { name: "b/y", data: "2" }])), /different top-level directories/);
  });

  test("an entry appearing twice", async () => {
    await refused(tgz([{ name: `${TOP}/x`, data: "1" }, { name: `${TOP}/x`, data: "2" }]), /appears twice/);
  });

  test("a truncated archive and non-gzip data", async () => {
    const good = makeTar([{ name: `${TOP}/`, type: "5" }, { name: `${TOP}/big`, data: "y".repeat(5000) }]);
    await refused(gzip(good.subarray(0, 1536)), /truncated|ends in the middle/);
    await refused(new TextEncoder().encode("not a tarball at all"), /not a valid \.tar\.gz/);
  });

  test("a bad header checksum", async () => {
    const t = makeTar([{ name: `${TOP}/x`, data: "1" }]);
    t[0] = t[0]! ^ 1;
    await refused(gzip(t), /checksum/);
  });
});

/**
 * Issue 11 item 6: refusals from a STREAM (how the installer reads its download) used
 * to hang: the feeder waited for 'drain' on a gunzip the consumer had destroyed. Each
 * case here is fed in 64 KiB chunks like a file read, must settle (no hang: the test
 * timeout is the only clock), and reports its time and memory for the record.
 */
describe("pax records are read as GNU tar and bsdtar read them", () => {
  test("pax size wins over the ustar size: an entry hidden in another's body is seen and judged", async () => {
    const hidden = makeTar([{ name: `${TOP}/../victim.txt`, data: "pwned" }]).subarray(0, 1024);
    await refused(tgz([{ name: `${TOP}/a`, data: hidden, pax: { size: "0" } }]), /'\.\.' path component/);
    // And a body longer than the ustar header claims is read to its pax size.
    await extractTarGz(tgz([{ name: `${TOP}/b`, data: "hello", size: 0, pax: { size: "5" } }]), dest);
    expect(readFileSync(join(dest, "b"), "utf8")).toBe("hello");
  });

  test("pax path and linkpath (UTF-8, byte-counted lengths) are honoured and judged", async () => {
    await extractTarGz(tgz([{ name: `${TOP}/x`, data: "u", pax: { path: `${TOP}/é.txt` } }, { name: `${TOP}/y`, type: "2", linkname: "zzz", pax: { linkpath: "é.txt" } }]), dest);
    expect(readFileSync(join(dest, "é.txt"), "utf8")).toBe("u");
    expect(readlinkSync(join(dest, "y"))).toBe("é.txt");
    rmSync(dest, { recursive: true, force: true });
    await refused(tgz([{ name: `${TOP}/ok`, data: "x", pax: { path: `${TOP}/../victim.txt` } }]), /'\.\.' path component/);
    await refused(tgz([{ name: `${TOP}/l`, type: "2", linkname: "ok", pax: { linkpath: "/etc/passwd" } }]), /absolute path/);
  });

  test("pax records fledge does not implement, malformed ones, and global overrides are refused", async () => {
    await refused(tgz([{ name: `${TOP}/s`, data: "x", pax: { "GNU.sparse.size": "100" } }]), /'GNU\.sparse\.size', which fledge does not implement/);
    await refused(tgz([{ name: `${TOP}/s`, data: "x", pax: { size: "-1" } }]), /malformed size/);
    await refused(tgz([{ name: "pax_global_header", type: "g", data: "15 path=evil/x\n" }, { name: `${TOP}/s`, data: "x" }]), /global header sets 'path'/);
    await refused(tgz([{ name: "PaxHeader", type: "x", data: "99 path=x\n" }, { name: `${TOP}/s`, data: "x" }]), /malformed pax extended header/);
    const g = { name: "pax_global_header", type: "g", data: "12 comment=\n" };
    await refused(gzip(makeTar([g, g, { name: `${TOP}/`, type: "5" }])), /more than one pax global header/);
  });

  test("data after the end marker (a lone zero block, then an entry) is refused", async () => {
    const tail = makeTar([{ name: `${TOP}/../../evil`, data: "pwned" }]);
    await refused(gzip(Buffer.concat([makeTar([{ name: `${TOP}/`, type: "5" }, { name: `${TOP}/a`, data: "x" }]), tail])), /data after the end-of-archive marker/);
    const lone = makeTar([{ name: `${TOP}/`, type: "5" }]);
    await refused(gzip(Buffer.concat([lone.subarray(0, lone.length - 512), tail])), /data after the end-of-archive marker/);
  });
});

describe("refusals from a stream settle promptly and in bounded memory", () => {
  async function* chunks(data: Uint8Array): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
  }
  const rnd = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
    return b;
  };
  async function measured(name: string, run: () => Promise<void>): Promise<void> {
    const t = performance.now();
    await run();
    console.log(`[archive] ${name}: settled in ${Math.round(performance.now() - t)} ms, rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB`);
  }
  /** A gzip bomb as concatenated gzip members: 1 GiB of zeros from ~1 MiB, built cheaply. */
  function multiMemberBomb(): Uint8Array {
    const head = Buffer.concat([makeTar([{ name: `${TOP}/`, type: "5" }]).subarray(0, 512), makeTar([{ name: `${TOP}/zeros`, data: "", size: 1024 ** 3 }]).subarray(0, 512)]);
    const z = gzip(new Uint8Array(1 << 24));
    return Buffer.concat([gzip(head), ...Array.from({ length: 64 }, () => z)]);
  }

  test("a gzip bomb (1 GiB of zeros) is refused", async () => {
    await measured("gzip bomb", () => refused(chunks(multiMemberBomb()), /gzip bomb/));
  }, 30_000);

  test("a gzip bomb under the absolute cap only (ratio rule off) is refused at the cap", async () => {
    await measured("gzip bomb, absolute cap", () => refused(chunks(multiMemberBomb()), /more than 64 MiB/, { maxBytes: 64 * 1024 * 1024, maxEntries: 100, maxRatio: Number.POSITIVE_INFINITY }));
  }, 30_000);

  test("a tar bomb (entries past the cap, each with data) is refused", async () => {
    const many: TarEntry[] = [];
    for (let i = 0; i < 2_100; i++) many.push({ name: `${TOP}/d${i % 50}/f${i}`, data: "x".repeat(100) });
    await measured("tar bomb", () => refused(chunks(tgz(many)), /more than 2000 entries/, { maxBytes: 256 * 1024 * 1024, maxEntries: 2_000 }));
  }, 30_000);

  test("a refused entry followed by 1 MiB of data (archive over 64 KiB compressed)", async () => {
    const data = tgz([{ name: `${TOP}/../escape`, data: "" }, { name: `${TOP}/big`, data: rnd(1 << 20) }]);
    expect(data.length).toBeGreaterThan(64 * 1024);
    await measured("'..' then 1 MiB", () => refused(chunks(data), /'\.\.' path component/));
  }, 30_000);

  test("a refused entry late in a large archive", async () => {
    const data = tgz([{ name: `${TOP}/big`, data: rnd(2 << 20) }, { name: `${TOP}/dev`, type: "3" }, { name: `${TOP}/big2`, data: rnd(1 << 20) }]);
    await measured("device after 2 MiB", () => refused(chunks(data), /device file/));
  }, 30_000);

  test("a path name past the length cap is refused", async () => {
    await refused(chunks(tgz([{ name: `${TOP}/${"a/".repeat(2100)}x`, data: "" }])), /longer than 4096/);
  }, 30_000);

  test("1 MiB of zeros after the end marker (record padding) extracts; 1 MiB of other bytes is refused", async () => {
    const data = gzip(Buffer.concat([makeTar([{ name: `${TOP}/`, type: "5" }, { name: `${TOP}/a`, data: "x" }]), new Uint8Array(1 << 20)]));
    await measured("trailing zeros", () => extractTarGz(chunks(data), dest).then(() => undefined));
    expect(readFileSync(join(dest, "a"), "utf8")).toBe("x");
    rmSync(dest, { recursive: true, force: true });
    const junk = gzip(Buffer.concat([makeTar([{ name: `${TOP}/`, type: "5" }, { name: `${TOP}/a`, data: "x" }]), rnd(1 << 20)]));
    await measured("trailing bytes", () => refused(chunks(junk), /data after the end-of-archive marker/));
  }, 30_000);

  test("a source stream that fails mid-way is an archive error, not a hang", async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      const data = tgz([{ name: `${TOP}/big`, data: rnd(1 << 20) }]);
      yield data.subarray(0, 100_000);
      throw new Error("connection reset");
    }
    await refused(broken(), /connection reset/);
  }, 30_000);
});
