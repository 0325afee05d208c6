/**
 * Safe extraction of a .tar.gz (a GitHub tarball) into a fresh directory.
 *
 * Why our own streaming tar reader over node:zlib instead of Bun.Archive (present in
 * Bun 1.4.5): we tried it. `Bun.Archive#files()` silently drops symlinks and hard
 * links and exposes no entry types or modes (the executable bit of a command binary
 * is lost), and it inflates the whole archive in memory first, so a gzip bomb is
 * only noticed after it has been expanded. `extract()` gives no per-entry veto at
 * all. A tar reader is ~250 lines, lets us refuse every hostile entry (links,
 * devices, absolute or `..` paths, fledge's own names) by type and name before a byte is written, and counts inflated bytes as they
 * stream so a bomb stops at the cap.
 *
 * Policy (the one place that decides what an archive may create):
 * - names: relative, no `..`, no backslash, no NUL, no component named like our
 *   staging dirs; the single top-level directory (GitHub's `owner-repo-sha/`) is
 *   stripped and must be the same for every entry;
 * - regular files and directories only, plus symlinks whose target is relative and
 *   resolves inside the tree (checked again, for real, after extraction: chains like
 *   `L1 -> .` + `up -> L1/..` are caught then), and hard links to a regular file
 *   extracted earlier (materialized as a copy, so no link to anything outside exists);
 * - never write through a symlink: every parent must be a real directory, files are
 *   created with O_EXCL|O_NOFOLLOW, and an entry appearing twice is refused;
 * - no devices, FIFOs, sparse or unknown entry types;
 * - caps on inflated bytes, entries, and header sizes; modes reduced to 0644/0755;
 * - read as GNU tar and bsdtar read it, so no other reader sees other entries: pax
 *   path/linkpath/size are honoured (the pax size wins over the ustar size), pax keys
 *   fledge does not implement are refused (checkPaxRecords), and after the first
 *   all-zero block only zeros may follow (GNU tar reads on after a lone zero block).
 * On refusal the caller removes the destination (it lives in the staging dir).
 */
import { closeSync, constants as fs, copyFileSync, lstatSync, mkdirSync, openSync, symlinkSync, writeSync, chmodSync } from "node:fs";
import { isAbsolute, join, posix } from "node:path";
import type * as Zlib from "node:zlib";
import { resolveInside } from "../manifest/index.ts";
import { FledgeError } from "../core/index.ts";
import { STAGING_PREFIX } from "./staging.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

export interface ExtractLimits {
  /** Total inflated bytes (tar stream, headers included). */
  maxBytes: number;
  maxEntries: number;
  /** Inflated bytes per compressed byte, checked past RATIO_FLOOR_BYTES. */
  maxRatio?: number;
}

/** The archive's own claims: the single top folder (`owner-repo-<sha7>` from GitHub) and the pax global comment (the commit). */
export interface ArchiveIdentity {
  top: string;
  comment?: string;
}

/**
 * The one check that a GitHub tarball is of the commit the API resolved. GitHub's
 * tarballs are made by `git archive`, which always writes a pax global header whose
 * comment is the full commit id: it is required and must equal the resolved sha, and
 * the top folder must also end in the commit's first 7 hex digits, as GitHub names it.
 * A server (or a cache, or a redirect target) that serves another commit's tarball, or
 * one with the header stripped, is refused.
 */
export function checkTarballCommit(id: ArchiveIdentity, sha: string, what: string): void {
  const want = sha.toLowerCase();
  const comment = id.comment?.trim().toLowerCase();
  if (comment === undefined || comment === "") {
    throw archiveError(`it has no pax global header naming its commit (GitHub's tarballs always carry one), so it cannot be checked against commit ${want}, which GitHub resolved ${what} to`, "the downloaded tarball");
  }
  if (comment !== want) {
    throw archiveError(`its pax header says it is commit ${showName(comment.slice(0, 40))}, but GitHub resolved ${what} to ${want}`, "the downloaded tarball");
  }
  if (!id.top.toLowerCase().endsWith(`-${want.slice(0, 7)}`)) {
    throw archiveError(`its top folder '${showName(id.top)}' does not name commit ${want.slice(0, 7)}, which GitHub resolved ${what} to`, "the downloaded tarball");
  }
}

/** Archive-supplied text in a message: printable ASCII only, bounded. */
function showName(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);
}

export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({ maxBytes: 256 * 1024 * 1024, maxEntries: 20_000, maxRatio: 200 });
/** Below this much inflated output the ratio is not judged (tiny archives have odd ratios). */
const RATIO_FLOOR_BYTES = 32 * 1024 * 1024;

/** Pax and GNU long-name headers are small; a huge one is an attack on memory. */
const MAX_META_BYTES = 1024 * 1024;
const MAX_PATH = 4096;
const BLOCK = 512;

export function archiveError(message: string, what = "the plugin archive"): FledgeError {
  return new FledgeError(`refusing ${what}: ${message}`, {
    code: "unsafe_archive",
    hint: "the archive was not extracted and nothing was installed; report this to the plugin's author if the repository is yours to trust",
  });
}

interface Header {
  name: string;
  mode: number;
  size: number;
  type: string;
  linkname: string;
}

function cstr(buf: Uint8Array, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return Buffer.from(nul === -1 ? slice : slice.subarray(0, nul)).toString("utf8");
}

function octal(buf: Uint8Array, start: number, len: number, what: string): number {
  const first = buf[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256: only sizes up to 2^53 make sense, and the cap rejects big ones anyway.
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + (buf[start + i] ?? 0);
    return n;
  }
  const text = cstr(buf, start, len).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw archiveError(`malformed ${what} field in a tar header`);
  return parseInt(text, 8);
}

function parseHeader(block: Uint8Array): Header | null {
  if (block.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
  if (sum !== octal(block, 148, 8, "checksum")) throw archiveError("a tar header has a bad checksum (corrupt or not a tar archive)");
  const magic = cstr(block, 257, 6);
  const prefix = magic.startsWith("ustar") ? cstr(block, 345, 155) : "";
  const name = cstr(block, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    mode: octal(block, 100, 8, "mode"),
    size: octal(block, 124, 12, "size"),
    type: String.fromCharCode(block[156] ?? 0),
    linkname: cstr(block, 157, 100),
  };
}

/**
 * Parse pax records `"<len> key=value\n"` (len counts bytes, the record included).
 * Anything malformed is refused: a lenient parser here would see other entries than
 * GNU tar and bsdtar do.
 */
function parsePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const buf = Buffer.from(data);
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0 && buf.subarray(i).every((b) => b === 0)) break; // NUL padding at the end
    const sp = buf.indexOf(0x20, i);
    const lenText = sp === -1 ? "" : buf.subarray(i, sp).toString("latin1");
    const len = /^[1-9][0-9]{0,7}$/.test(lenText) ? Number(lenText) : NaN;
    if (!Number.isFinite(len) || i + len > buf.length || buf[i + len - 1] !== 0x0a) throw archiveError("malformed pax extended header");
    const record = buf.subarray(sp + 1, i + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw archiveError("malformed pax extended header");
    out.set(record.subarray(0, eq).toString("utf8"), record.subarray(eq + 1).toString("utf8"));
    i += len;
  }
  return out;
}

/**
 * Pax keys fledge honours (path, linkpath, size: what decides which entries exist and
 * where) or may safely ignore (times and owners: fledge sets its own modes and never
 * chowns). Any other key (GNU.sparse.*, SCHILY.*, hdrcharset, ...) changes how other
 * readers interpret the entry, so the archive is refused instead of guessed at.
 */
const PAX_HONOURED = new Set(["path", "linkpath", "size"]);
const PAX_IGNORED = new Set(["mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "comment"]);

/** The one pax policy: which records an extended (`x`) or global (`g`) header may carry. */
export function checkPaxRecords(records: Map<string, string>, global: boolean): void {
  for (const [key, value] of records) {
    const honoured = PAX_HONOURED.has(key);
    if (!honoured && !PAX_IGNORED.has(key)) throw archiveError(`a pax header carries '${renderUntrusted(key)}', which fledge does not implement`);
    if (honoured && global) throw archiveError(`the pax global header sets '${renderUntrusted(key)}' for every entry (not something git archive writes)`);
    if (key === "size" && !/^[0-9]{1,15}$/.test(value)) throw archiveError(`a pax header has a malformed size '${renderUntrusted(value.slice(0, 40))}'`);
  }
}

/**
 * Check one entry name and return its path inside the tree (top dir stripped), or
 * null for the top directory itself.
 */
function entryPath(raw: string, state: { top: string | undefined }): string | null {
  if (raw.length > MAX_PATH) throw archiveError(`an entry name is longer than ${MAX_PATH} bytes`);
  if (raw.includes("\0")) throw archiveError("an entry name contains a NUL byte");
  if (raw.includes("\\")) throw archiveError(`entry '${renderUntrusted(raw)}' contains a backslash (a path separator on Windows)`);
  if (raw.startsWith("/") || isAbsolute(raw) || /^[A-Za-z]:/.test(raw)) throw archiveError(`entry '${renderUntrusted(raw)}' has an absolute path`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw archiveError(`entry '${renderUntrusted(raw)}' has a '..' path component`);
  if (parts.some((p) => p.startsWith(STAGING_PREFIX))) throw archiveError(`entry '${renderUntrusted(raw)}' is named like fledge's staging directory`);
  if (parts.length === 0) throw archiveError(`entry '${renderUntrusted(raw)}' has an empty name`);
  const [top, ...rest] = parts as [string, ...string[]];
  if (state.top === undefined) state.top = top;
  else if (state.top !== top) throw archiveError(`entries '${renderUntrusted(state.top)}/…' and '${renderUntrusted(top)}/…' have different top-level directories (expected one, as in a GitHub tarball)`);
  return rest.length === 0 ? null : rest.join("/");
}

/** Streaming reader state for one archive. */
class Extractor {
  private readonly made = new Set<string>(); // paths (relative) created so far
  private readonly symlinks: string[] = [];
  private readonly names = { top: undefined as string | undefined };
  private entries = 0;
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  private header: Header | undefined;
  private remaining = 0; // body bytes left for the current entry
  private padding = 0; // bytes to skip after the body
  private fd: number | undefined;
  private meta: Uint8Array[] | undefined; // collecting a pax/GNU long-name body
  private pax = new Map<string, string>();
  private sawGlobal = false;
  /** Past the first all-zero block: only zeros may follow (GNU tar reads on after a lone zero block). */
  private ended = false;
  private longName: string | undefined;
  private longLink: string | undefined;
  globalComment: string | undefined;

  constructor(private readonly dest: string, private readonly limits: ExtractLimits) {}

  push(chunk: Uint8Array): void {
    if (this.ended) {
      if (!chunk.every((b) => b === 0)) throw archiveError("it has data after the end-of-archive marker (other tar readers would see entries fledge did not check)");
      return;
    }
    let off = 0;
    while (off < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - off);
        this.body(chunk.subarray(off, off + n));
        this.remaining -= n;
        off += n;
        if (this.remaining === 0) this.endEntry();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - off);
        this.padding -= n;
        off += n;
        continue;
      }
      const need = BLOCK - this.pendingLen;
      const n = Math.min(need, chunk.length - off);
      this.pending.push(chunk.subarray(off, off + n));
      this.pendingLen += n;
      off += n;
      if (this.pendingLen === BLOCK) {
        const block = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingLen = 0;
        this.startEntry(block);
      }
    }
    if (this.ended && off < chunk.length) this.push(chunk.subarray(off));
  }

  private startEntry(block: Uint8Array): void {
    const h = parseHeader(block);
    if (h === null) {
      if (this.header || this.meta || this.pax.size > 0 || this.longName !== undefined || this.longLink !== undefined) throw archiveError("the archive ends right after an extended header");
      this.ended = true; // end-of-archive marker: the rest must be zeros (checked in push)
      return;
    }
    if (h.type !== "x" && h.type !== "g" && h.type !== "L" && h.type !== "K") {
      const size = this.pax.get("size");
      if (size !== undefined) h.size = Number(size); // as GNU tar and bsdtar do: the pax size wins
    }
    if (++this.entries > this.limits.maxEntries) throw archiveError(`more than ${this.limits.maxEntries} entries`);
    this.header = h;
    this.remaining = h.size;
    this.padding = (BLOCK - (h.size % BLOCK)) % BLOCK;
    switch (h.type) {
      case "x":
      case "g":
      case "L":
      case "K":
        if (h.size > MAX_META_BYTES) throw archiveError(`a tar extended header is larger than ${MAX_META_BYTES} bytes`);
        this.meta = [];
        break;
      default:
        this.begin(h);
    }
    if (this.remaining === 0) this.endEntry();
  }

  private body(data: Uint8Array): void {
    if (this.meta) this.meta.push(data);
    else if (this.fd !== undefined) {
      let written = 0;
      while (written < data.length) written += writeSync(this.fd, data, written);
    }
  }

  private endEntry(): void {
    const h = this.header;
    if (!h) return;
    if (this.meta) {
      const data = Buffer.concat(this.meta);
      this.meta = undefined;
      if (h.type === "x") {
        if (this.pax.size > 0) throw archiveError("two pax extended headers in a row for one entry");
        this.pax = parsePax(data);
        checkPaxRecords(this.pax, false);
      }
      else if (h.type === "L") this.longName = cstr(data, 0, data.length);
      else if (h.type === "K") this.longLink = cstr(data, 0, data.length);
      // "g": GitHub's pax_global_header, whose comment is the commit the tarball is of.
      else if (h.type === "g") {
        if (this.sawGlobal) throw archiveError("it has more than one pax global header");
        this.sawGlobal = true;
        const records = parsePax(data);
        checkPaxRecords(records, true);
        const c = records.get("comment");
        if (c !== undefined) this.globalComment = c;
      }
    } else if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.header = undefined;
  }

  /** Create the entry described by `h` (with any pax/GNU overrides). */
  private begin(h: Header): void {
    const rawName = this.pax.get("path") ?? this.longName ?? h.name;
    const rawLink = this.pax.get("linkpath") ?? this.longLink ?? h.linkname;
    this.pax = new Map();
    this.longName = undefined;
    this.longLink = undefined;
    const rel = entryPath(rawName, this.names);
    const type = h.type === "\0" ? "0" : h.type;
    if (rel === null) {
      if (type !== "5") throw archiveError(`top-level entry '${renderUntrusted(rawName)}' is not a directory`);
      return;
    }
    if (this.made.has(rel)) throw archiveError(`entry '${renderUntrusted(rawName)}' appears twice`);
    const target = join(this.dest, rel);
    switch (type) {
      case "0":
      case "7": {
        this.parents(rel);
        const mode = h.mode & 0o111 ? 0o755 : 0o644;
        try {
          this.fd = openSync(target, fs.O_WRONLY | fs.O_CREAT | fs.O_EXCL | (fs.O_NOFOLLOW ?? 0), mode);
        } catch (e) {
          throw archiveError(`cannot create '${renderUntrusted(rel)}': ${renderUntrusted((e as Error).message)}`);
        }
        chmodSync(target, mode); // the umask must not decide whether a binary is executable
        break;
      }
      case "5":
        this.parents(rel);
        this.mkdir(rel);
        break;
      case "2":
        this.parents(rel);
        this.symlink(rel, rawLink, rawName);
        break;
      case "1": {
        this.parents(rel);
        const from = entryPath(rawLink, this.names);
        if (from === null || !this.made.has(from)) throw archiveError(`hard link '${renderUntrusted(rawName)}' points at '${renderUntrusted(rawLink)}', which is not a file earlier in the archive`);
        const st = lstatSync(join(this.dest, from));
        if (!st.isFile()) throw archiveError(`hard link '${renderUntrusted(rawName)}' points at '${renderUntrusted(rawLink)}', which is not a regular file`);
        // A copy, not a link: the tree then holds no hard link to anything, inside or out.
        copyFileSync(join(this.dest, from), target, fs.COPYFILE_EXCL);
        break;
      }
      case "3":
      case "4":
        throw archiveError(`entry '${renderUntrusted(rawName)}' is a device file`);
      case "6":
        throw archiveError(`entry '${renderUntrusted(rawName)}' is a FIFO`);
      default:
        throw archiveError(`entry '${renderUntrusted(rawName)}' has unsupported type '${renderUntrusted(type)}'`);
    }
    this.made.add(rel);
    if (type !== "0" && type !== "7" && h.size > 0 && type !== "5") {
      // Link entries have no body; a size here would desynchronize a careless reader.
      throw archiveError(`entry '${renderUntrusted(rawName)}' is a link with a body`);
    }
  }

  /** Every parent of `rel` must be a real directory we made (or make now): never a symlink. */
  private parents(rel: string): void {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (this.made.has(dir) && this.isDir(dir)) continue;
      this.mkdir(dir);
      this.made.add(dir);
    }
  }

  private isDir(rel: string): boolean {
    const st = lstatSync(join(this.dest, rel), { throwIfNoEntry: false });
    return st !== undefined && st.isDirectory() && !st.isSymbolicLink();
  }

  private mkdir(rel: string): void {
    const path = join(this.dest, rel);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined) {
      mkdirSync(path, { mode: 0o755 });
      return;
    }
    if (st.isSymbolicLink()) throw archiveError(`'${renderUntrusted(rel)}' is a symlink, and a later entry would be written through it`);
    if (!st.isDirectory()) throw archiveError(`'${renderUntrusted(rel)}' is a file, and a later entry treats it as a directory`);
  }

  private symlink(rel: string, target: string, rawName: string): void {
    if (target === "" || target.includes("\0")) throw archiveError(`symlink '${renderUntrusted(rawName)}' has an empty target`);
    if (target.startsWith("/") || isAbsolute(target) || /^[A-Za-z]:/.test(target) || target.includes("\\")) {
      throw archiveError(`symlink '${renderUntrusted(rawName)}' points at the absolute path '${renderUntrusted(target)}'`);
    }
    // Lexical check first (cheap, and catches `../../etc/passwd`); the real
    // resolution after extraction catches chains through other links.
    const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
    if (resolved === ".." || resolved.startsWith("../")) throw archiveError(`symlink '${renderUntrusted(rawName)}' points outside the plugin ('${renderUntrusted(target)}')`);
    symlinkSync(target, join(this.dest, rel));
    this.symlinks.push(rel);
  }

  /** After the last entry: every symlink must really resolve inside the tree. */
  finish(): void {
    if (this.fd !== undefined || this.remaining > 0 || this.meta) throw archiveError("the archive ends in the middle of an entry (truncated download?)");
    if (this.names.top === undefined) throw archiveError("the archive is empty");
    for (const rel of this.symlinks) {
      const r = resolveInside(this.dest, rel);
      if ("loop" in r) throw archiveError(`symlink '${renderUntrusted(rel)}' is part of a loop`);
      if ("escapes" in r) throw archiveError(`symlink '${renderUntrusted(rel)}' resolves outside the plugin`);
    }
  }

  /** What the archive says about itself: its top folder and pax global comment. */
  identity(): ArchiveIdentity {
    return { top: this.names.top ?? "", ...(this.globalComment !== undefined ? { comment: this.globalComment } : {}) };
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/**
 * Extract `gz` (a gzip-compressed tar stream) into `dest`, which must be an empty
 * directory fledge just created. Throws FledgeError `unsafe_archive` on anything the
 * policy above refuses, or when the inflated size, the inflation ratio or the entry
 * count exceeds `limits`.
 *
 * Lifecycle (why refusals take bounded time): the feeder writes compressed chunks and,
 * when gunzip pushes back, waits for 'drain' OR 'close' (a destroyed stream never
 * drains, which is what used to hang every refusal); the consumer is a 'data' handler
 * that checks and writes each inflated chunk synchronously and, on refusal or at the
 * end-of-archive marker, sets `stop` and destroys gunzip. Both sides look at `stop`
 * before any further work, so nothing keeps inflating (or spinning) after a refusal.
 */
export async function extractTarGz(gz: AsyncIterable<Uint8Array> | Uint8Array, dest: string, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): Promise<ArchiveIdentity> {
  mkdirSync(dest, { mode: 0o755 }); // must not exist yet: nothing else may be in the tree
  const ex = new Extractor(dest, limits);
  // Loaded here, not at start: node:zlib costs every command that merely links this
  // module (install from a local folder, update, list's recovery) about 5 ms of start-up.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createGunzip } = require("node:zlib") as typeof Zlib;
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const maxRatio = limits.maxRatio ?? DEFAULT_EXTRACT_LIMITS.maxRatio!;
  let inflated = 0;
  let compressed = 0;
  let stop = false;
  let failure: unknown;
  const halt = (e?: unknown): void => {
    if (stop) return;
    stop = true;
    failure = e;
    gunzip.destroy();
  };
  const finished = new Promise<void>((resolve) => {
    gunzip.on("data", (chunk: Buffer) => {
      if (stop) return;
      try {
        inflated += chunk.length;
        checkInflation(inflated, compressed, limits.maxBytes, maxRatio);
        ex.push(chunk);
        // Past the end marker the rest is still read (bounded by the caps): non-zero data there is refused.
      } catch (e) {
        halt(e);
      }
    });
    gunzip.on("error", (e) => {
      if (!stop) halt(archiveError(`it is not a valid .tar.gz (${e.message})`));
      resolve();
    });
    gunzip.on("end", () => resolve());
    gunzip.on("close", () => resolve());
  });
  const waitDrain = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        gunzip.off("drain", done);
        gunzip.off("close", done);
        resolve();
      };
      gunzip.on("drain", done);
      gunzip.on("close", done);
    });
  try {
    if (gz instanceof Uint8Array) {
      compressed = gz.length;
      gunzip.end(gz);
    } else {
      try {
        for await (const chunk of gz) {
          if (stop || gunzip.destroyed) break; // leaving the loop closes the source too
          compressed += chunk.length;
          if (!gunzip.write(chunk) && !stop && !gunzip.destroyed) await waitDrain();
        }
        if (!stop && !gunzip.destroyed) gunzip.end();
      } catch (e) {
        halt(archiveError(`reading it failed (${(e as Error).message})`));
      }
    }
    await finished;
    if (failure !== undefined) throw failure;
    ex.finish();
    return ex.identity();
  } catch (e) {
    if (e instanceof FledgeError) throw e;
    throw archiveError(`it is not a valid .tar.gz (${(e as Error).message})`);
  } finally {
    stop = true;
    ex.close();
    gunzip.destroy();
  }
}

/**
 * The one bomb rule: refuse when the inflated stream exceeds the absolute cap, or
 * when, past a floor, it inflates more than `maxRatio` times the compressed bytes
 * read so far (source code compresses 3-20x; a bomb 1000x), so a small bomb is
 * refused after tens of MiB, not hundreds.
 */
export function checkInflation(inflated: number, compressed: number, maxBytes: number, maxRatio: number): void {
  if (inflated > maxBytes) throw archiveError(`it inflates to more than ${Math.round(maxBytes / 1024 / 1024)} MiB (a gzip bomb?)`);
  if (inflated > RATIO_FLOOR_BYTES && inflated > maxRatio * Math.max(compressed, 1)) {
    throw archiveError(`it inflates more than ${maxRatio} times its compressed size (${Math.round(inflated / 1024 / 1024)} MiB from ${Math.max(1, Math.round(compressed / 1024))} KiB; a gzip bomb?)`);
  }
}
