// Runs one WASI preview1 module under the `node:wasi` of whichever runtime executes
// this file (Node or Bun), with a command line shaped like `fledge wasm run`:
//
//   node wasi-runner.mjs [--stub-missing] [--dir HOST[::GUEST]]... [--env K=V]... <file.wasm> [args...]
//
// --stub-missing fills preview1 functions the host does not provide (Bun has no
// sock_accept) with stubs returning ENOSYS, so a module that merely imports them can
// still link and the rest of its behaviour can be measured. Off by default: without it
// we measure the host exactly as shipped.
//
// It exists so scripts/compare-wasi.ts can run the same guests under other JS WASI
// hosts and compare them with fledge. It is plain JavaScript (not TypeScript) because
// Node 20 cannot run .ts files. Exit code: the guest's; 70 if the module could not be
// instantiated (e.g. a missing import); 71 if the guest trapped or the host threw.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { WASI } from "node:wasi";

// The 46 functions of wasi_snapshot_preview1; only these are ever stubbed (an import
// such as WasmEdge's sock_open is not preview1 and must still fail to link).
const PREVIEW1 = new Set(
  "args_get args_sizes_get environ_get environ_sizes_get clock_res_get clock_time_get fd_advise fd_allocate fd_close fd_datasync fd_fdstat_get fd_fdstat_set_flags fd_fdstat_set_rights fd_filestat_get fd_filestat_set_size fd_filestat_set_times fd_pread fd_prestat_get fd_prestat_dir_name fd_pwrite fd_read fd_readdir fd_renumber fd_seek fd_sync fd_tell fd_write path_create_directory path_filestat_get path_filestat_set_times path_link path_open path_readlink path_remove_directory path_rename path_symlink path_unlink_file poll_oneoff proc_exit proc_raise sched_yield random_get sock_accept sock_recv sock_send sock_shutdown".split(" "),
);

const argv = process.argv.slice(2);
const preopens = {};
const env = {};
let stubMissing = false;
let i = 0;
for (; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--stub-missing") {
    stubMissing = true;
  } else if (a === "--dir") {
    let spec = argv[++i] ?? "";
    // node:wasi has no read-only preopens: mount read-write and say so, so the
    // comparison measures what this host actually does with such a grant.
    if (spec.endsWith(":ro")) {
      spec = spec.slice(0, -3);
      process.stderr.write(`wasi-runner: node:wasi cannot mount read-only; ${spec} is mounted read-write\n`);
    }
    const sep = spec.indexOf("::");
    const host = sep >= 0 ? spec.slice(0, sep) : spec;
    const guest = sep >= 0 ? spec.slice(sep + 2) : "/" + basename(host);
    preopens[guest] = host;
  } else if (a === "--env") {
    const kv = argv[++i] ?? "";
    const eq = kv.indexOf("=");
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else if (a === "--") {
    i++;
    break;
  } else {
    break;
  }
}
const file = argv[i];
if (!file) {
  process.stderr.write("usage: wasi-runner.mjs [--dir HOST[::GUEST]]... [--env K=V]... <file.wasm> [args...]\n");
  process.exit(2);
}
const args = [basename(file), ...argv.slice(i + 1)];

const wasi = new WASI({ version: "preview1", args, env, preopens, returnOnExit: true });
// Node has getImportObject(); Bun's node:wasi only exposes `wasiImport`.
const imports =
  typeof wasi.getImportObject === "function" ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport };

let instance;
try {
  const module = await WebAssembly.compile(readFileSync(file));
  if (stubMissing) {
    const ns = imports.wasi_snapshot_preview1;
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.module === "wasi_snapshot_preview1" && imp.kind === "function" && PREVIEW1.has(imp.name) && typeof ns[imp.name] !== "function") {
        process.stderr.write(`wasi-runner: stubbing missing import ${imp.name} (returns ENOSYS)\n`);
        ns[imp.name] = () => 52; // errno ENOSYS
      }
    }
  }
  instance = await WebAssembly.instantiate(module, imports);
} catch (err) {
  process.stderr.write(`wasi-runner: instantiate failed: ${err && err.message ? err.message : err}\n`);
  process.exit(70);
}
try {
  const code = wasi.start(instance);
  process.exitCode = typeof code === "number" ? code : 0;
} catch (err) {
  process.stderr.write(`wasi-runner: trap: ${err && err.message ? err.message : err}\n`);
  process.exitCode = 71;
}
