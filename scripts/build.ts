/**
 * Build the single fledge binary: `bun run build` → dist/fledge.
 * The commit is baked in so `fledge --version` says what it was built from.
 */
import { $ } from "bun";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const outfile = process.argv[2] ?? join(root, "dist", "fledge");
const target = process.argv[3];
let commit = "unknown";
try {
  commit = (await $`git -C ${root} rev-parse --short=12 HEAD`.quiet().text()).trim();
  const dirty = (await $`git -C ${root} status --porcelain --untracked-files=no`.quiet().text()).trim();
  if (dirty) commit += "-dirty";
} catch {
  // Not a git checkout (e.g. an npm tarball): keep "unknown".
}
mkdirSync(join(outfile, ".."), { recursive: true });
const result = await Bun.build({
  // exec-worker.ts and http-worker.ts are loaded with `new Worker` by src/host/sync-worker.ts for
  // src/host/exec-sync.ts and src/host/http-sync.ts (wasm plugins' exec and http); a compiled binary only contains a
  // worker that is listed as an entrypoint.
  entrypoints: [join(root, "src", "main.ts"), join(root, "src", "host", "exec-worker.ts"), join(root, "src", "host", "http-worker.ts")],
  // fledge runs unconfined in folders plugins may write: the binary must not read a
  // `.env` (variables, even FLEDGE_CONFIG_DIR) or a `bunfig.toml` (`preload` runs code)
  // from wherever it is started (tests/dist.test.ts plants both).
  compile: { ...(target ? { target: target as never } : {}), outfile, autoloadDotenv: false, autoloadBunfig: false, autoloadTsconfig: false, autoloadPackageJson: false },
  minify: true,
  bytecode: true,
  format: "esm",
  splitting: true,
  define: { FLEDGE_BUILD_COMMIT: JSON.stringify(commit) },
});
if (!result.success) {
  for (const m of result.logs) console.error(m);
  process.exit(1);
}
console.error(`built ${outfile} (${commit})`);
