/**
 * A real C program (tests/fixtures/realprog/fstool.c) under fledge's WASI host.
 *
 * The same scripted sequence of file operations runs on two identical trees: once
 * with the native build (cc, cwd = the tree) and once as wasm under
 * `fledge wasm run --dir <tree>::/work`. Every step's exit code, stdout and fstool's
 * error lines must match, and so must the resulting trees (names, types, sizes,
 * contents, link targets, link counts, and the mtimes the script pins).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runFledge, tempDir } from "../helpers/cli.ts";
import {
  FSTOOL_C,
  FSTOOL_WASM,
  GUEST_ROOT,
  nativeBuildCommand,
  normalizeOutput,
  SEQUENCE,
  seedTree,
  snapshotTree,
  substituteRoot,
} from "./realprog-lib.ts";
import { describeSlow } from "../helpers/tier.ts";

// The tests start fledge and wasm guests as child processes: seconds under load.
setDefaultTimeout(60_000);

interface Outcome {
  code: number;
  stdout: string;
  /** Only fstool's own "fstool: ..." lines; the host may log other things. */
  errors: string;
}

function fstoolErrors(stderr: string): string {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("fstool:"))
    .join("\n");
}

const CC = Bun.which("cc") ?? Bun.which("gcc");

describeSlow("fstool: native vs fledge wasm run", () => {
  const tmp = tempDir("fledge-realprog-");
  const nativeTree = join(tmp.path, "native", "tree");
  const wasmTree = join(tmp.path, "wasm", "tree");
  // A private copy, so nothing fledge might write beside the module lands in the repo.
  const wasm = join(tmp.path, "bin", "fstool.wasm");
  const nativeBin = join(tmp.path, "bin", "fstool");
  const native: Outcome[] = [];
  const guest: Outcome[] = [];
  let skipReason = "";

  beforeAll(() => {
    mkdirSync(join(tmp.path, "bin"));
    copyFileSync(FSTOOL_WASM, wasm);
    if (!CC) {
      skipReason = "no C compiler (cc/gcc) on PATH, so there is no native reference";
      console.log(`skipping native comparison: ${skipReason}`);
      return;
    }
    const build = Bun.spawnSync(nativeBuildCommand(CC, nativeBin, FSTOOL_C), { stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) throw new Error(`native build failed:\n${build.stderr.toString()}`);

    for (const t of [nativeTree, wasmTree]) {
      mkdirSync(t, { recursive: true });
      seedTree(t);
    }
    // Run the whole sequence up front (steps depend on each other), then assert per step.
    for (const step of SEQUENCE) {
      const n = Bun.spawnSync([nativeBin, ...substituteRoot(step.args, nativeTree)], {
        cwd: nativeTree,
        env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
        stdin: step.stdin === undefined ? "ignore" : new TextEncoder().encode(step.stdin),
        stdout: "pipe",
        stderr: "pipe",
        timeout: 30_000,
      });
      native.push({
        code: n.exitCode ?? -1,
        stdout: normalizeOutput(n.stdout.toString(), nativeTree),
        errors: fstoolErrors(normalizeOutput(n.stderr.toString(), nativeTree)),
      });
      const w = runFledge(["wasm", "run", "--dir", `${wasmTree}::${GUEST_ROOT}`, wasm, ...substituteRoot(step.args, GUEST_ROOT)], {
        cwd: tmp.path,
        env: { FLEDGE_CONFIG_DIR: join(tmp.path, "config") },
        ...(step.stdin === undefined ? {} : { stdin: step.stdin }),
      });
      guest.push({
        code: w.code,
        stdout: normalizeOutput(w.stdout, GUEST_ROOT),
        errors: fstoolErrors(normalizeOutput(w.stderr, GUEST_ROOT)),
      });
    }
  }, 300_000);

  afterAll(() => tmp.cleanup());

  test("the native run itself behaves as the script expects", () => {
    if (skipReason) return;
    // Sanity-check the reference, so a broken script cannot make both sides agree on garbage.
    const byName = new Map(SEQUENCE.map((s, i) => [s.name, native[i]!]));
    expect(byName.get("pwd-after-chdir")?.stdout).toBe("{R}\n");
    expect(byName.get("mkdir-exists")).toEqual({ code: 1, stdout: "", errors: "fstool: mkdir: {R}/out/a: EEXIST" });
    expect(byName.get("rmdir-not-empty")?.errors).toBe("fstool: rmdir: {R}/out/a: ENOTEMPTY");
    expect(byName.get("cat-stdin")?.stdout).toBe("piped input\nline two\n");
    expect(byName.get("stat-hardlink")?.stdout).toContain("nlink=2");
    expect(byName.get("stat-preserved")?.stdout).toContain("mtime=1700000000");
    expect(byName.get("ls-many")?.stdout.split("\n").filter(Boolean).length).toBe(250);
    expect(byName.get("unpack-refuses-dotdot")?.errors).toBe("fstool: unpack: ../escape: unsafe name refused");
    expect(byName.get("find-deep")?.stdout).toContain("level-29/leaf.txt");
    // The sha256 implementation agrees with an independent one.
    const blob = readFileSync(join(nativeTree, "data/nested/deep/blob.bin"));
    const want = new Bun.CryptoHasher("sha256").update(blob).digest("hex");
    expect(byName.get("sha256-blob")?.stdout).toContain(`${want}  {R}/data/nested/deep/blob.bin`);
  });

  for (const [i, step] of SEQUENCE.entries()) {
    test(`step ${i + 1} ${step.name}: same exit code, stdout and errors`, () => {
      if (skipReason) return;
      expect({ step: step.name, ...guest[i] }).toEqual({ step: step.name, ...native[i]! });
    });
  }

  test("the resulting trees match", () => {
    if (skipReason) return;
    expect(snapshotTree(wasmTree)).toEqual(snapshotTree(nativeTree));
  });
});
