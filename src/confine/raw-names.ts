/**
 * Entry names as the bytes on disk, for the searches of places where code runs later
 * (runs-later.ts). A name that is not valid UTF-8 (`$'\xff'`) decodes to U+FFFD in a
 * string, and the path rebuilt from that string names nothing: a search through it
 * would find no `.git` below, and a rename of it would fail. Below such a name the
 * search goes on here with byte paths (Buffer), which the file calls take as given.
 */
import { lstatSync, readdirSync } from "node:fs";

/** Whether `name` survives decoding as UTF-8 and encoding back unchanged. */
function decodable(name: Buffer): boolean {
  return Buffer.from(name.toString("utf8"), "utf8").equals(name);
}

/** `dir` + "/" + `name`, as bytes. */
export function rawJoin(dir: string | Buffer, name: Buffer | string): Buffer {
  const d = typeof dir === "string" ? Buffer.from(dir, "utf8") : dir;
  return Buffer.concat([d, Buffer.from("/"), typeof name === "string" ? Buffer.from(name, "utf8") : name]);
}

export interface UndecodableSplit {
  /** The names (decoded) of the entries that are really there under that name. */
  decodable: ReadonlySet<string>;
  /** The entries whose name is not valid UTF-8, as byte paths. */
  raw: Buffer[];
}

/**
 * `dir`'s entries split into those a string names and those only bytes do; undefined
 * when the raw listing fails (the caller then counts the folder as not searched).
 */
export function splitUndecodable(dir: string): UndecodableSplit | undefined {
  let names: Buffer[];
  try {
    names = readdirSync(dir, { encoding: "buffer" });
  } catch {
    return undefined;
  }
  const ok = new Set<string>();
  const raw: Buffer[] = [];
  for (const n of names) {
    if (decodable(n)) ok.add(n.toString("utf8"));
    else raw.push(rawJoin(dir, n));
  }
  return { decodable: ok, raw };
}

/** What a byte-path search found: RUNS_LATER entries and git directories, and folders it did not look into. */
export interface RawScan {
  found: Buffer[];
  stopped: Buffer[];
}

/**
 * THE search below a folder whose path is only bytes: the same rules as scanRunsLater
 * (`isRunsLater` names, `isGitDirectory` folders, symlinked folders not entered), with
 * `depthLeft` levels and at most `budget.dirs` folders (shared with the caller's search).
 */
export function scanRaw(root: Buffer, depthLeft: number, budget: { dirs: number }, isRunsLater: (name: string) => boolean, isGitDirectory: (names: ReadonlySet<string>) => boolean): RawScan {
  const out: RawScan = { found: [], stopped: [] };
  const stack: [Buffer, number][] = [[root, depthLeft]];
  while (stack.length > 0) {
    const [dir, left] = stack.pop()!;
    let names: Buffer[];
    try {
      names = readdirSync(dir, { encoding: "buffer" });
    } catch {
      out.stopped.push(dir);
      continue;
    }
    if (isGitDirectory(new Set(names.map((n) => n.toString("utf8"))))) out.found.push(dir);
    for (const n of names) {
      const p = rawJoin(dir, n);
      if (decodable(n) && isRunsLater(n.toString("utf8"))) {
        out.found.push(p);
        continue;
      }
      let folder: boolean;
      try {
        folder = lstatSync(p).isDirectory();
      } catch {
        out.stopped.push(p); // listed, then not there: unseen, never "gone"
        continue;
      }
      if (!folder) continue;
      if (left <= 0 || --budget.dirs < 0) {
        out.stopped.push(p);
        continue;
      }
      stack.push([p, left - 1]);
    }
  }
  return out;
}

/** A byte path as text for messages: what a string can hold of it (U+FFFD for the rest). */
export function showRaw(p: Buffer): string {
  return p.toString("utf8");
}

/** A byte path as one word for a POSIX shell with $'...' quoting (bash, zsh, ksh; POSIX sh since 2024): every byte outside printable ASCII as \xNN. */
export function shellQuoteRaw(p: Buffer): string {
  let s = "$'";
  for (const b of p) {
    if (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `${s}'`;
}

/** A byte path as a key that compares equal exactly when the bytes do. */
export function rawKey(p: Buffer): string {
  return p.toString("hex");
}
