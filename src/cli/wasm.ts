import { defineCommand } from "citty";
import { resolve } from "node:path";
import { FledgeError, isFledgeError } from "../core/index.ts";
import { log, printJson, printResult } from "../ui/index.ts";
import { preparedForFile } from "../wasm/prepare.ts";
import { holdRunMemory, memoryGuardError } from "../wasm/memory-guard.ts";
import type { CacheResult } from "../wasm/cache.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { configDir } from "../registry/paths.ts";
import { declareAliases, markPassthrough, passthroughTail } from "./framework.ts";
import { DEFAULT_LIMITS, moduleFile, parseMemory, prepareProgress, RUN_ARGS, RUN_PASSTHROUGH, runWasm } from "./wasm-run.ts";

// `wasm run`'s parsing and running live in ./wasm-run.ts (the fast start reaches them without citty).
export * from "./wasm-run.ts";

const run = markPassthrough(
  defineCommand({
    meta: {
      name: "run",
      description:
        "Run a wasm32-wasip1 module in fledge's WASI sandbox. Example: fledge wasm run --dir ./data::/data:ro --env NAME=x app.wasm -- --verbose",
    },
    args: RUN_ARGS,
    run: ({ rawArgs, data }) => runWasm(rawArgs, passthroughTail(data)),
  }),
  RUN_PASSTHROUGH,
);

const prepare = defineCommand({
  meta: {
    name: "prepare",
    description: "Validate and instrument a module and fill fledge's prepared-module cache (<config>/cache/wasm, authenticated), so the next run starts fast. Example: fledge wasm prepare app.wasm",
  },
  args: {
    file: { type: "positional", required: true, description: "the .wasm file" },
    "max-memory": { type: "string", description: "the memory limit to prepare for (default 256MiB; must match the runs that should use the cache)" },
    json: { type: "boolean", description: "print one JSON object" },
  },
  async run({ args }) {
    const maxMemoryBytes = args["max-memory"] ? parseMemory(args["max-memory"]) : DEFAULT_LIMITS.maxMemoryBytes;
    // Prepare only: nothing runs, so nothing is compiled (the engine would compile the
    // validated, instrumented bytes again at the first run anyway).
    const src = moduleFile(args.file);
    let loaded: CacheResult;
    // Preparing is loading: held under --max-memory plus fledge's allowance, as a run is.
    const memory = holdRunMemory(maxMemoryBytes, (phase) => memoryGuardError(maxMemoryBytes, phase));
    try {
      loaded = preparedForFile(src.path, { maxMemoryBytes, warn: (m) => log.warn(m), configDir: configDir(), checkSource: src.check, progress: prepareProgress(args.file) });
    } catch (e) {
      if (isFledgeError(e)) throw e;
      throw new FledgeError(`invalid wasm module ${renderUntrusted(resolve(args.file))}: ${renderUntrusted(e instanceof Error ? e.message : String(e))}`, { code: "wasm_invalid" });
    } finally {
      memory.release();
    }
    const cache = loaded.cachePath;
    if (args.json) printJson({ action: "prepare", path: resolve(args.file), cache: cache ?? null, status: loaded.status });
    else printResult(`prepared ${args.file}${cache ? ` → ${cache}` : ""} (${loaded.status === "hit" ? "cache already up to date" : "cache written"})`);
    return 0;
  },
});

export default declareAliases(defineCommand({
  meta: { name: "wasm", description: "Run and prepare WebAssembly modules directly (for plugin authors)" },
  subCommands: { run: () => run, prepare: () => prepare },
}), {});
