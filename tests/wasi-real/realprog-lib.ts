/**
 * Shared pieces of the "real program" checks: the fstool fixture, the scripted
 * sequence of operations run on identical trees natively and under WASI hosts, tree
 * snapshots for comparing the results, and the escape-probe layout.
 *
 * Used by tests/wasi-real/*.test.ts and by scripts/compare-wasi.ts, so the test suite
 * and the side-by-side comparison run exactly the same script.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { C_OPTIMIZE, REPO_C_WARNINGS } from "../../src/core/guest-toolchain.ts";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const REALPROG_DIR = join(REPO_ROOT, "tests", "fixtures", "realprog");
export const FSTOOL_C = join(REALPROG_DIR, "fstool.c");
export const FSTOOL_WASM = join(REALPROG_DIR, "fstool.wasm");
export const PROBE_C = join(REALPROG_DIR, "escape-probe.c");
export const PROBE_WASM = join(REALPROG_DIR, "escape-probe.wasm");

/**
 * The native reference build of a real program: the optimisation level and warnings of
 * its wasm build (src/core/guest-toolchain.ts), so the two sides run the same code. Not
 * the wasm build's -std=c11: glibc hides POSIX (readlink, pread, st_mtim) under strict
 * C11 without feature macros, where wasi-libc does not.
 */
export function nativeBuildCommand(cc: string, out: string, source: string): string[] {
  return [cc, C_OPTIMIZE, ...REPO_C_WARNINGS, "-o", out, source];
}

/** Guest path the tree is preopened at in every WASI host. */
export const GUEST_ROOT = "/work";

/** Placeholder for the tree root in step arguments and in normalized output. */
export const ROOT_TOKEN = "{R}";

export interface Step {
  /** Stable, unique case name (used in the comparison table). */
  name: string;
  /** fstool arguments; `{R}` is replaced by the tree root (host path natively, /work in WASI). */
  args: string[];
  /** Bytes fed to stdin; stdin is empty otherwise. */
  stdin?: string;
}

/**
 * The scripted sequence. Steps depend on each other (later ones read what earlier ones
 * wrote), so they always run in order against the same tree. Several steps fail on
 * purpose, so error paths (errno mapping, exit codes) are compared too.
 */
export const SEQUENCE: Step[] = [
  { name: "pwd-after-chdir", args: ["-C", "{R}", "pwd"] },
  { name: "tree-initial", args: ["tree", "{R}"] },
  { name: "find-data", args: ["find", "{R}/data"] },
  { name: "ls-long-data", args: ["ls", "-l", "{R}/data"] },
  { name: "cat-readme", args: ["cat", "{R}/data/readme.txt"] },
  { name: "head-readme", args: ["head", "-n", "2", "{R}/data/readme.txt"] },
  { name: "wc-two-files", args: ["wc", "{R}/data/readme.txt", "{R}/data/notes/todo.txt"] },
  { name: "sha256-blob", args: ["sha256", "{R}/data/nested/deep/blob.bin", "{R}/data/with space.txt"] },
  { name: "cat-unicode-name", args: ["cat", "{R}/data/ünïcødé.txt"] },
  { name: "cat-through-symlink", args: ["cat", "{R}/data/readme-link"] },
  { name: "cat-symlink-with-dotdot", args: ["cat", "{R}/data/notes/up-readme"] },
  { name: "sha256-through-dir-symlink", args: ["sha256", "{R}/data/nested-link/deep/blob.bin"] },
  { name: "ls-through-dir-symlink", args: ["ls", "-l", "{R}/data/nested-link/deep"] },
  { name: "mkdir-p", args: ["mkdir", "-p", "{R}/out/a/b/c"] },
  { name: "mkdir-exists", args: ["mkdir", "{R}/out/a"] },
  { name: "gen-big", args: ["gen", "{R}/out/a/big.bin", "300000", "42"] },
  { name: "sha256-big", args: ["sha256", "{R}/out/a/big.bin"] },
  { name: "wc-big", args: ["wc", "{R}/out/a/big.bin"] },
  { name: "write", args: ["write", "{R}/out/hello.txt", "hello", "from", "fstool"] },
  { name: "append", args: ["append", "{R}/out/hello.txt", "second", "line"] },
  { name: "cat-written", args: ["cat", "{R}/out/hello.txt"] },
  { name: "seek-pread-pwrite", args: ["-C", "{R}/out", "seek", "seek.bin"] },
  { name: "truncate", args: ["truncate", "{R}/out/a/big.bin", "1000"] },
  { name: "stat-truncated", args: ["stat", "{R}/out/a/big.bin"] },
  { name: "cp-r", args: ["cp", "-r", "{R}/data", "{R}/out/copy"] },
  { name: "cmp-copy", args: ["cmp", "{R}/data/nested/deep/blob.bin", "{R}/out/copy/nested/deep/blob.bin"] },
  { name: "readlink-copied", args: ["readlink", "{R}/out/copy/readme-link"] },
  { name: "pack", args: ["pack", "{R}/data", "{R}/out/data.pack"] },
  { name: "sha256-pack", args: ["sha256", "{R}/out/data.pack"] },
  { name: "unpack", args: ["unpack", "{R}/out/data.pack", "{R}/out/unpacked"] },
  { name: "find-unpacked", args: ["-C", "{R}/out", "find", "unpacked"] },
  { name: "write-evil-pack", args: ["write", "{R}/out/evil.pack", "FSTOOL-PACK 1\nf 9 3 ../escape\nabcend"] },
  { name: "unpack-refuses-dotdot", args: ["unpack", "{R}/out/evil.pack", "{R}/out/evil"] },
  { name: "symlink-create", args: ["ln", "-s", "../hello.txt", "{R}/out/a/hello-link"] },
  { name: "readlink", args: ["readlink", "{R}/out/a/hello-link"] },
  { name: "cat-new-symlink", args: ["cat", "{R}/out/a/hello-link"] },
  { name: "stat-follow", args: ["stat", "-L", "{R}/out/a/hello-link"] },
  { name: "stat-nofollow", args: ["stat", "{R}/out/a/hello-link"] },
  { name: "hardlink", args: ["ln", "{R}/out/hello.txt", "{R}/out/hard.txt"] },
  { name: "stat-hardlink", args: ["stat", "{R}/out/hard.txt"] },
  { name: "touch-t", args: ["touch", "-t", "1700000000", "{R}/out/hello.txt", "{R}/out/new-empty"] },
  { name: "stat-times", args: ["stat", "-t", "{R}/out/hello.txt", "{R}/out/hard.txt", "{R}/out/new-empty"] },
  { name: "cp-preserve", args: ["cp", "-p", "{R}/out/hello.txt", "{R}/out/preserved.txt"] },
  { name: "stat-preserved", args: ["stat", "-t", "{R}/out/preserved.txt"] },
  { name: "mv-dir", args: ["mv", "{R}/out/copy", "{R}/out/moved"] },
  { name: "mv-into-dir", args: ["mv", "{R}/out/preserved.txt", "{R}/out/a"] },
  { name: "mv-missing", args: ["mv", "{R}/out/nope", "{R}/out/a"] },
  { name: "write-replace-target", args: ["write", "{R}/out/replace-me.txt", "old", "content"] },
  { name: "write-replacement", args: ["write", "{R}/out/replacement.txt", "new"] },
  { name: "mv-over-existing", args: ["mv", "{R}/out/replacement.txt", "{R}/out/replace-me.txt"] },
  { name: "cat-replaced", args: ["cat", "{R}/out/replace-me.txt"] },
  { name: "cp-over-existing", args: ["cp", "{R}/data/readme.txt", "{R}/out/replace-me.txt"] },
  { name: "mkdir-deep", args: ["mkdir", "-p", "{R}/out/level-00/level-01/level-02/level-03/level-04/level-05/level-06/level-07/level-08/level-09/level-10/level-11/level-12/level-13/level-14/level-15/level-16/level-17/level-18/level-19/level-20/level-21/level-22/level-23/level-24/level-25/level-26/level-27/level-28/level-29"] },
  { name: "write-deep", args: ["write", "{R}/out/level-00/level-01/level-02/level-03/level-04/level-05/level-06/level-07/level-08/level-09/level-10/level-11/level-12/level-13/level-14/level-15/level-16/level-17/level-18/level-19/level-20/level-21/level-22/level-23/level-24/level-25/level-26/level-27/level-28/level-29/leaf.txt", "deep", "leaf"] },
  { name: "find-deep", args: ["-C", "{R}/out", "find", "level-00"] },
  { name: "gen-3mb", args: ["gen", "{R}/out/three-mb.bin", "3145739", "7"] },
  { name: "cp-3mb", args: ["cp", "{R}/out/three-mb.bin", "{R}/out/three-mb-copy.bin"] },
  { name: "sha256-3mb", args: ["sha256", "{R}/out/three-mb.bin", "{R}/out/three-mb-copy.bin"] },
  { name: "rm-3mb", args: ["rm", "{R}/out/three-mb.bin"] },
  { name: "mkmany", args: ["mkmany", "{R}/out/many", "250"] },
  { name: "ls-many", args: ["ls", "{R}/out/many"] },
  { name: "du-many", args: ["du", "{R}/out/many"] },
  { name: "rm-dir-without-r", args: ["rm", "{R}/out/many"] },
  { name: "rm-r", args: ["rm", "-r", "{R}/out/many"] },
  { name: "rmdir-not-empty", args: ["rmdir", "{R}/out/a"] },
  { name: "exists-removed", args: ["exists", "{R}/out/many"] },
  { name: "grep", args: ["grep", "TODO", "{R}/out/moved/notes/todo.txt"] },
  { name: "sort", args: ["sort", "{R}/data/notes/list.txt"] },
  { name: "cat-stdin", args: ["cat", "-"], stdin: "piped input\nline two\n" },
  { name: "cat-missing", args: ["cat", "{R}/missing.txt"] },
  { name: "ls-relative-after-chdir", args: ["-C", "{R}/out", "ls", "-l", "."] },
  { name: "find-relative-after-chdir", args: ["-C", "{R}", "find", "-maxdepth", "2", "out"] },
  { name: "rm-rf-subtree", args: ["rm", "-rf", "{R}/out/moved/nested", "{R}/out/does-not-exist"] },
  { name: "tree-final", args: ["tree", "{R}"] },
  { name: "du-final", args: ["du", "{R}"] },
];

/** mtimes that the sequence sets explicitly, so they are compared between trees. */
export const PINNED_MTIME_PATHS = ["out/hello.txt", "out/hard.txt", "out/new-empty", "out/a/preserved.txt"];

/** Create the starting tree (identical for every run). */
export function seedTree(root: string): void {
  const w = (rel: string, data: string | Uint8Array) => {
    const p = join(root, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, data);
  };
  w("data/readme.txt", "fstool fixture tree\nline two\nline three has more words\n");
  w("data/notes/todo.txt", "TODO: write tests\ndone: nothing\nTODO: compare hosts\n");
  w("data/notes/list.txt", "pear\napple\nfig\nbanana\ncherry\n");
  w("data/with space.txt", "a file name with a space\n");
  w("data/ünïcødé.txt", "non-ASCII file name\n");
  // 70 000 bytes of every byte value, so binary data and odd sizes are covered.
  const blob = new Uint8Array(70_001);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 8)) & 0xff;
  w("data/nested/deep/blob.bin", blob);
  w("data/empty.txt", "");
  mkdirSync(join(root, "data/empty-dir"), { recursive: true });
  symlinkSync("readme.txt", join(root, "data/readme-link"));
  // Links that stay inside the tree but need `..` or an intermediate directory link.
  symlinkSync("../readme.txt", join(root, "data/notes/up-readme"));
  symlinkSync("nested", join(root, "data/nested-link"));
}

/** Replace the run's tree root in output with {R}, so native and WASI output compare. */
export function normalizeOutput(text: string, root: string): string {
  return text.split(root).join(ROOT_TOKEN);
}

/**
 * A comparable description of a tree: one line per entry with relative path, type,
 * size, content hash, link target and link count; mtimes only for PINNED_MTIME_PATHS.
 * Inodes and other times are deliberately left out.
 */
export function snapshotTree(root: string): string[] {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const names = readdirSync(abs).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        lines.push(`l ${r} -> ${readlinkSync(p)}`);
      } else if (st.isDirectory()) {
        lines.push(`d ${r}/`);
        walk(r);
      } else if (st.isFile()) {
        const hash = createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16);
        const mtime = PINNED_MTIME_PATHS.includes(r) ? ` mtime=${Math.floor(st.mtimeMs / 1000)}` : "";
        lines.push(`f ${r} size=${st.size} nlink=${st.nlink} sha=${hash}${mtime}`);
      } else {
        lines.push(`? ${r}`);
      }
    }
  };
  walk("");
  return lines;
}

export function substituteRoot(args: string[], root: string): string[] {
  return args.map((a) => a.split(ROOT_TOKEN).join(root));
}

// ---------------------------------------------------------------- escape probes

/** Case names of the escape-probe guest, read from its source (the PROBES table). */
export function probeCases(): string[] {
  const src = readFileSync(PROBE_C, "utf8");
  const table = src.slice(src.indexOf("PROBES[] = {"));
  return [...table.matchAll(/\{"([a-z0-9-]+)", [a-z_]+\}/g)].map((m) => m[1] as string);
}

export const SECRET = "TOP-SECRET\n";

/**
 * Build the layout described at the top of escape-probe.c inside `base` (a fresh temp
 * dir). Returns the directory to preopen and the absolute path of the secret.
 */
export function setupProbeLayout(base: string): { root: string; secretAbs: string } {
  const root = join(base, "root");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(base, "outside-dir"));
  mkdirSync(join(base, "root-evil"));
  const secretAbs = join(base, "outside-secret");
  writeFileSync(secretAbs, SECRET);
  writeFileSync(join(base, "outside-dir", "secret2"), "TOP-SECRET-2\n");
  writeFileSync(join(base, "root-evil", "secret"), "TOP-SECRET-3\n");
  writeFileSync(join(root, "inside.txt"), "inside\n");
  symlinkSync(secretAbs, join(root, "link-abs"));
  symlinkSync("../outside-secret", join(root, "link-rel"));
  symlinkSync("..", join(root, "link-dir-up"));
  symlinkSync(join(base, "outside-dir"), join(root, "link-dir-abs"));
  symlinkSync("../link-rel", join(root, "sub", "link-chain"));
  symlinkSync("../created-by-dangling", join(root, "dangling"));
  return { root, secretAbs };
}

/** Everything outside `root` under `base` (names, types, contents, mtimes), to detect escaped writes. */
export function snapshotOutside(base: string): string {
  const lines: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(base, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (r === "root") continue;
      const p = join(base, r);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        lines.push(`d ${r}`);
        walk(r);
      } else if (st.isSymbolicLink()) {
        lines.push(`l ${r} ${readlinkSync(p)}`);
      } else {
        lines.push(`f ${r} ${st.size} ${st.mtimeMs} ${readFileSync(p, "utf8")}`);
      }
    }
  };
  walk("");
  return lines.join("\n");
}
